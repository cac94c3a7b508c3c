"""The static pages, rendered from a catalog of a real published store (fast, no browser).

The index and the dataset pages are parsed (a small tree over html.parser) and every value a
reader relies on is checked against the store's own files: sizes, SHA-256, the citation line,
the version anchors and their files, the schema.org JSON-LD. Hostile metadata shows as text,
nothing is loaded from elsewhere, every in-site link resolves, and the bytes are deterministic.
"""

from __future__ import annotations

import base64
import copy
import csv
import hashlib
import io
import json
import re
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest

from opendata.catalog import rebuild_catalog, uncollected
from opendata.catalog.build import verify_derived
from opendata.catalog.dataset_pages import preview_rows, version_changes
from opendata.catalog.pages import filesize, render_dataset_page, render_index
from opendata.config import load_settings
from opendata.municipalities import MEMBERS
from opendata.preparing import load, prepare, require_valid
from opendata.publish import publish_package, withdraw
from opendata.storage import LocalStore
from tests.catalogkit import PARQUET_MEDIATYPE, mixed_shape, write_dataset
from tests.conftest import OFFLINE_DATASETS, copy_home

DATASETS = OFFLINE_DATASETS
BASE = "https://data.example.se/oppna-data/"  # a base with a path: links must stay relative
FIRST = datetime(2024, 3, 1, 5, 0, 12, tzinfo=UTC)
SECOND = datetime(2024, 6, 10, 5, 0, 3, tzinfo=UTC)
THIRD = datetime(2024, 9, 2, 5, 0, 44, tzinfo=UTC)
PUBLISHER = "Boråsregionen, Sjuhärads kommunalförbund"
HOSTILE = '</script><script>alert(1)</script> & "citat" <b>fet</b>'


# ---------------------------------------------------------------------------------------------
# A small HTML tree


VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]  # a boolean attribute (hidden, download) has the value ''
    children: list[Node | str] = field(default_factory=list)

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def words(self) -> str:
        return " ".join(self.text().split())

    def iter(self) -> list[Node]:
        found = [self]
        for child in self.children:
            if isinstance(child, Node):
                found.extend(child.iter())
        return found

    def find_all(self, tag: str | None = None, **attrs: str) -> list[Node]:
        """Elements by tag and attributes (`class_` matches when the classes are all there)."""

        def matches(node: Node, key: str, value: str) -> bool:
            if key == "class_":
                return set(value.split()) <= node.classes()
            return node.attrs.get(key.rstrip("_").replace("_", "-")) == value

        return [
            node
            for node in self.iter()
            if (tag is None or node.tag == tag)
            and all(matches(node, k, v) for k, v in attrs.items())
        ]

    def find(self, tag: str | None = None, **attrs: str) -> Node:
        found = self.find_all(tag, **attrs)
        assert found, f"no <{tag or '*'}> with {attrs}"
        return found[0]

    def by_id(self, ident: str) -> Node:
        return self.find(id=ident)

    def classes(self) -> set[str]:
        return set((self.attrs.get("class") or "").split())


class TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {key: value or "" for key, value in attrs})
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack[-1].children.append(Node(tag, {key: value or "" for key, value in attrs}))

    def handle_endtag(self, tag: str) -> None:
        for index in range(len(self.stack) - 1, 0, -1):
            if self.stack[index].tag == tag:
                del self.stack[index:]
                return
        raise AssertionError(f"unmatched </{tag}>")

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def parse(html: str) -> Node:
    builder = TreeBuilder()
    builder.feed(html)
    builder.close()
    assert [node.tag for node in builder.stack] == ["#document"], "unclosed elements"
    return builder.root


# ---------------------------------------------------------------------------------------------
# The published store


@dataclass
class Site:
    root: Path
    store: LocalStore
    catalog: dict[str, Any]

    def file(self, key: str) -> bytes:
        return (self.root / key).read_bytes()

    def page(self, key: str) -> tuple[str, Node]:
        html = self.file(key).decode("utf-8")
        return html, parse(html)

    def entry(self, name: str) -> dict[str, Any]:
        return next(e for e in self.catalog["datasets"] if e["name"] == name)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    """The real datasets published to a scratch store; avfallsplan has a patch, and a minor
    version that is withdrawn again (a tombstone)."""
    home = copy_home(tmp_path_factory.mktemp("repo"))
    settings = load_settings(home=home, base_url=BASE)
    store = LocalStore(tmp_path_factory.mktemp("store"))
    for name in DATASETS:
        publish_package(store, require_valid(prepare(settings, name)), BASE, now=FIRST)
    goals = home / "datasets/avfallsplan/sources/mal.csv"
    text = goals.read_text("utf-8")
    assert ",35,g per portion" in text
    goals.write_text(text.replace(",35,g per portion", ",30,g per portion"), "utf-8")
    assert (
        publish_package(
            store, require_valid(prepare(settings, "avfallsplan")), BASE, now=SECOND
        ).version
        == "1.0.1"
    )
    with goals.open("a", encoding="utf-8") as stream:
        stream.write("ett-nytt-mal,2,Ett nytt mål,,,,,https://example.org/\n")
    assert (
        publish_package(
            store, require_valid(prepare(settings, "avfallsplan")), BASE, now=THIRD
        ).version
        == "1.1.0"
    )
    withdraw(
        store, "avfallsplan", "1.1.0", "Målet fanns inte i någon offentlig källa", BASE, now=THIRD
    )
    rebuild_catalog(store, BASE)
    catalog = json.loads(store.read_bytes("catalog.json") or b"{}")
    return Site(store.root, store, catalog)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def row_of(table_root: Node, filename: str) -> Node:
    return table_root.find("tr", data_file=filename)


# ---------------------------------------------------------------------------------------------
# The index


def test_index_lists_every_dataset_with_its_facts(site: Site) -> None:
    html, doc = site.page("index.html")
    assert doc.find("html").attrs["lang"] == "sv"
    assert doc.find("title").text() == "Boråsregionens öppna data"
    items = doc.find("ul", class_="datasets").find_all("li", class_="dataset")
    assert [item.attrs["id"] for item in items] == DATASETS

    befolkning = doc.by_id("befolkning")
    link = befolkning.find("h2").find("a")
    assert (link.attrs["href"], link.text()) == (
        "datasets/befolkning/",
        "Folkmängd i Boråsregionens kommuner 2015–2024",
    )
    english = befolkning.find("p", class_="subtitle")
    assert (english.attrs["lang"], english.text()) == (
        "en",
        "Population of the Boråsregionen municipalities 2015–2024",
    )
    assert befolkning.attrs["data-themes"] == "SOCI REGI"
    facts = {
        dt.words(): dd
        for dt, dd in zip(befolkning.find_all("dt"), befolkning.find_all("dd"), strict=True)
    }
    assert facts["Senaste version"].words() == "1.0.0, publicerad 2024-03-01"
    assert facts["Senaste version"].find("a").attrs["href"] == "datasets/befolkning/#v1.0.0"
    assert facts["Senaste version"].find("time").attrs["datetime"] == "2024-03-01T05:00:12Z"
    assert facts["Format"].words() == "CSV, JSON, PARQUET"
    assert [li.text() for li in facts["Teman"].find_all("li")] == [
        "Befolkning och samhälle",
        "Regioner och städer",
    ]
    licence = facts["Licens"].find("a")
    assert (licence.attrs["href"], licence.text()) == (
        "https://creativecommons.org/licenses/by/4.0/",
        "CC-BY-4.0",
    )
    # A short description: whole sentences, not the full text.
    description = site.entry("befolkning")["description"]
    shown = befolkning.find("article").find_all("p")[1].text()
    assert description.startswith(shown) and len(shown) < len(description)

    # Every version of avfallsplan is one click away (its anchor), the tombstone marked.
    versions = doc.by_id("avfallsplan").find("details")
    assert [(a.attrs["href"], a.text()) for a in versions.find_all("a")] == [
        ("datasets/avfallsplan/#v1.1.0", "1.1.0"),
        ("datasets/avfallsplan/#v1.0.1", "1.0.1"),
        ("datasets/avfallsplan/#v1.0.0", "1.0.0"),
    ]
    assert "återkallad" in versions.find_all("li")[0].words()
    assert doc.by_id("avfallsplan").find_all("dd")[0].words() == "1.0.1, publicerad 2024-06-10"

    # Machine-readable catalog and harvest URL; the filter is hidden until the script runs.
    hrefs = {a.attrs["href"] for a in doc.find_all("a")}
    assert {"catalog.json", "dcat/catalog.rdf", "dcat/catalog.ttl", "dcat/catalog.jsonld"} <= hrefs
    assert f"{BASE}dcat/catalog.rdf" in doc.find("section", class_="machine").words()
    form = doc.by_id("filter")
    assert "hidden" in form.attrs and "hidden" in doc.by_id("filter-status").attrs
    assert [o.attrs["value"] for o in form.find_all("option")] == [
        "",
        "ENVI",
        "GOVE",
        "REGI",
        "SOCI",
        "TRAN",
    ]
    assert "avfall" in doc.by_id("vaxthusgasutslapp").attrs["data-search"].lower()
    assert html.count("<script") == 2  # the DataCatalog's JSON-LD and the site's own script


def test_index_is_a_schema_org_data_catalog_of_every_dataset(site: Site) -> None:
    _, doc = site.page("index.html")
    scripts = doc.find_all("script", type="application/ld+json")
    assert len(scripts) == 1
    data = json.loads(scripts[0].text())
    assert data["@context"] == "https://schema.org/"
    assert data["@type"] == "DataCatalog"
    assert data["@id"] == f"{BASE}#catalog"  # the DCAT catalog's IRI
    assert data["url"] == BASE
    assert data["name"] == site.catalog["title"]
    assert data["description"] == site.catalog["description"]
    assert data["publisher"] == {
        "@type": "Organization",
        "name": PUBLISHER,
        "url": "https://www.borasregionen.se/",
    }
    listed = {item["@id"]: item for item in data["dataset"]}
    assert sorted(listed) == sorted(f"{BASE}datasets/{name}/" for name in DATASETS)
    for name in DATASETS:
        item = listed[f"{BASE}datasets/{name}/"]
        descriptor = json.loads(site.file(f"datasets/{name}/1.0.0/datapackage.json"))
        assert item["@type"] == "Dataset"
        # the url is the page's own address, which an S3 REST endpoint serves too
        assert item["url"] == item["@id"] + "index.html"
        assert item["name"] == descriptor["title"]
        assert item["description"] == descriptor["description"]


# ---------------------------------------------------------------------------------------------
# A dataset page


def test_dataset_page_downloads_match_the_stored_files(site: Site) -> None:
    _, doc = site.page("datasets/befolkning/index.html")
    assert doc.find("html").attrs["lang"] == "sv"
    downloads = doc.find("table", class_="stack downloads")
    entry = site.entry("befolkning")
    names = ["datapackage.json"] + [f["name"] for r in entry["resources"] for f in r["files"]]
    assert [
        row.attrs["data-file"] for row in downloads.find_all("tr") if "data-file" in row.attrs
    ] == names
    assert names == [
        "datapackage.json",
        "kommuner.csv",
        "kommuner.json",
        "kommuner.parquet",
        "folkmangd.csv",
        "folkmangd.json",
        "folkmangd.parquet",
    ]
    for name in names:
        data = site.file(f"datasets/befolkning/1.0.0/{name}")
        row = row_of(downloads, name)
        link = row.find("a")
        assert link.attrs["href"] == f"1.0.0/{name}"
        size = row.find("td", data_label="Storlek")
        assert size.attrs["data-bytes"] == str(len(data))
        assert size.words() == f"{filesize(len(data))} ({len(data)} byte)"
        assert row.find("code", class_="hash").text() == sha256(data)
        if name != "datapackage.json":
            assert "download" in link.attrs
    assert (
        filesize(2121) == "2,1 kB"
        and filesize(140) == "140 B"
        and filesize(11_293_000) == "11,3 MB"
    )
    stable = doc.find("section", aria_labelledby="ladda-ner").find_all("a")[-1]
    assert stable.attrs["href"] == "latest/datapackage.json"


def test_dataset_page_cites_describes_and_credits(site: Site) -> None:
    _, doc = site.page("datasets/befolkning/index.html")
    entry = site.entry("befolkning")
    assert doc.find("h1").text() == entry["title"]
    assert doc.by_id("citering").text() == (
        f"{PUBLISHER} (2024). Folkmängd i Boråsregionens kommuner 2015–2024 (version 1.0.0) "
        f"[Datamängd]. {BASE}datasets/befolkning/1.0.0/datapackage.json"
    )
    assert doc.by_id("attribution").text() == entry["attribution"]
    assert entry["attribution"].startswith("Källa: SCB")
    description = doc.find("section", aria_labelledby="beskrivning")
    assert description.find("p", class_="lead").text() == entry["description"]
    english = description.find("div", lang="en")
    assert english.find("p").text() == entry["description_en"]

    sources = doc.find("section", aria_labelledby="kallor").find_all("li")
    assert len(sources) == len(entry["sources"]) == 3
    for item, source in zip(sources, entry["sources"], strict=True):
        assert item.find("a").attrs["href"] == source["path"]
        assert item.find("a").text() == source["title"]
        assert f"Utgivare: {source['publisher']}" in item.words()

    licence = doc.find("section", aria_labelledby="citera").find("a", rel="license")
    assert licence.attrs["href"] == "https://creativecommons.org/licenses/by/4.0/"
    validation = doc.find("section", aria_labelledby="validering")
    assert "giltig" in validation.words()
    assert validation.find("a").attrs["href"] == "1.0.0/validation.json"


def test_dataset_page_shows_each_schema_and_the_first_rows(site: Site) -> None:
    _, doc = site.page("datasets/befolkning/index.html")
    section = doc.by_id("resurs-folkmangd")
    schema = section.find("table", class_="stack schema")
    rows = schema.find("tbody").find_all("tr")
    assert [row.find("th").find("code").text() for row in rows] == [
        "kommunkod",
        "kommun",
        "ar",
        "folkmangd",
    ]
    population = rows[3]
    assert population.find("td", data_label="Typ").words() == "integer"
    assert population.find("td", data_label="Enhet").words() == "personer"
    assert population.find("td", data_label="Beskrivning").words() == (
        "Folkmängd den 31 december (Population on 31 December)."
    )
    assert population.find("td", data_label="Villkor").words() == "obligatoriskt; ≥ 0"
    assert rows[0].find("td", data_label="Villkor").words() == "obligatoriskt; mönster [0-9]{4}"
    assert "Primärnyckel: kommunkod, ar" in section.find("p", class_="meta").words()
    assert "80 rader" in section.find("p", class_="meta").words()

    preview = section.find("div", class_="table-wrap preview").find("table")
    assert preview.find("caption").words() == "Förhandsvisning: de första 10 av 80 raderna"
    csv_rows = list(
        csv.reader(io.StringIO(site.file("datasets/befolkning/1.0.0/folkmangd.csv").decode()))
    )
    assert [th.text() for th in preview.find("thead").find_all("th")] == csv_rows[0]
    body = [[td.text() for td in tr.find_all("td")] for tr in preview.find("tbody").find_all("tr")]
    assert body == csv_rows[1:11]

    # An empty resource says so instead of showing an empty table.
    _, plan = site.page("datasets/handlingsplan/index.html")
    assert "Resursen har inga rader ännu." in plan.by_id("resurs-fokusomraden").words()


def test_version_history_newest_first_with_files_and_tombstone(site: Site) -> None:
    _, doc = site.page("datasets/avfallsplan/index.html")
    ids = [node.attrs["id"] for node in doc.find_all("section", class_="version")]
    assert ids == ["v1.1.0", "v1.0.1", "v1.0.0"]
    history = json.loads(site.file("datasets/avfallsplan/versions.json"))
    stored = {v["version"]: v for v in history["versions"]}

    tombstone = doc.by_id("v1.1.0")
    assert "withdrawn" in tombstone.classes()
    assert (
        "Återkallad 2024-09-02. Skäl: Målet fanns inte i någon offentlig källa."
        in tombstone.words()
    )
    assert "Filerna finns kvar" in tombstone.words()

    patch = doc.by_id("v1.0.1")
    facts = {
        dt.words(): dd.words()
        for dt, dd in zip(patch.find_all("dt"), patch.find_all("dd"), strict=True)
    }
    assert facts == {
        "Publicerad": "2024-06-10 05:00 UTC",
        "Ändringstyp": "rättelse (patch)",
        "Ändringar": "mal: 1 rad ändrad",
        "Rader": "mal 3, malomraden 6",
    }
    assert "senaste" in patch.find("h3").words()
    first = doc.by_id("v1.0.0")
    assert first.find("dd").words() == "2024-03-01 05:00 UTC"
    assert "första versionen" in first.words()

    for version in ("1.1.0", "1.0.1", "1.0.0"):
        section = doc.by_id(f"v{version}")
        assert section.find("h3").find("a").attrs["href"] == f"#v{version}"
        descriptor = section.find("a", type="application/json")
        assert descriptor.attrs["href"] == f"{version}/datapackage.json"
        files = section.find("details").find("table")
        listed = [
            row.attrs["data-file"] for row in files.find_all("tr") if "data-file" in row.attrs
        ]
        assert listed == sorted(stored[version]["files"])
        for name in listed:
            data = site.file(f"datasets/avfallsplan/{version}/{name}")
            row = row_of(files, name)
            assert row.find("a").attrs["href"] == f"{version}/{name}"
            assert (
                row.find("code", class_="hash").text()
                == sha256(data)
                == stored[version]["files"][name]["sha256"]
            )
            assert row.find("td", data_label="Storlek").attrs["data-bytes"] == str(len(data))
    # The old version's own citation names its own descriptor.
    assert (
        f"(version 1.0.0) [Datamängd]. {BASE}datasets/avfallsplan/1.0.0/datapackage.json"
        in first.words()
    )


def test_json_ld_describes_the_latest_version(site: Site) -> None:
    _, doc = site.page("datasets/befolkning/index.html")
    scripts = doc.find_all("script", type="application/ld+json")
    assert len(scripts) == 1
    data = json.loads(scripts[0].text())
    entry = site.entry("befolkning")
    assert data["@context"] == "https://schema.org/"
    assert data["@type"] == "Dataset"
    assert data["name"] == entry["title"]
    assert data["description"] == entry["description"]
    assert data["version"] == "1.0.0"
    assert data["url"] == f"{BASE}datasets/befolkning/index.html"
    assert data["license"] == "https://creativecommons.org/licenses/by/4.0/"
    assert (
        data["creator"]
        == data["publisher"]
        == {"@type": "Organization", "name": PUBLISHER, "url": "https://www.borasregionen.se/"}
    )
    assert data["@id"] == f"{BASE}datasets/befolkning/"  # the DCAT dataset IRI
    assert data["includedInDataCatalog"]["@id"] == f"{BASE}#catalog"
    assert data["isAccessibleForFree"] is True
    assert data["temporalCoverage"] == "2015-01-01/2024-12-31"
    region, *places = data["spatialCoverage"]
    assert region["@type"] == "Place" and region["name"].startswith("Boråsregionen")
    assert region["@id"] == f"{BASE}region/"  # the IRI of the DCAT dct:Location, one per place
    assert [place["name"] for place in places] == [p["kommun"] for p in entry["spatial"]]
    assert {place["identifier"]: place["name"] for place in places} == MEMBERS
    assert all(place["@type"] == "Place" for place in places)
    assert [place["@id"] for place in places] == [f"{BASE}kommuner/{code}/" for code in MEMBERS]
    assert region["containsPlace"] == [{"@id": place["@id"]} for place in places]
    # Each place's box and centre, from SCB's boundaries (opendata/data/kommungranser.csv).
    boras = next(place for place in places if place["identifier"] == "1490")
    assert boras["geo"] == {"@type": "GeoShape", "box": "57.54545 12.63341 57.92819 13.29301"}
    assert (boras["latitude"], boras["longitude"]) == (57.73118, 12.93996)
    assert region["geo"]["box"] == "57.14914 12.28404 58.13073 13.74919"
    assert all(place["geo"]["@type"] == "GeoShape" for place in places)
    assert data["keywords"] == entry["keywords"]
    assert data["dateModified"] == "2024-03-01T05:00:12Z"
    downloads = {d["name"]: d for d in data["distribution"]}
    assert set(downloads) == {
        "kommuner.csv",
        "kommuner.json",
        "kommuner.parquet",
        "folkmangd.csv",
        "folkmangd.json",
        "folkmangd.parquet",
        "datapackage.json",
    }
    csv_file = downloads["folkmangd.csv"]
    assert csv_file["contentUrl"] == f"{BASE}datasets/befolkning/1.0.0/folkmangd.csv"
    assert csv_file["encodingFormat"] == "text/csv"
    assert csv_file["sha256"] == sha256(site.file("datasets/befolkning/1.0.0/folkmangd.csv"))
    assert downloads["folkmangd.json"]["encodingFormat"] == "application/json"
    assert (
        downloads["datapackage.json"]["contentUrl"]
        == f"{BASE}datasets/befolkning/1.0.0/datapackage.json"
    )

    assert downloads["folkmangd.csv"]["contentSize"] == (
        f"{len(site.file('datasets/befolkning/1.0.0/folkmangd.csv'))} B"
    )

    # The withdrawn 1.1.0 is not what avfallsplan's JSON-LD describes.
    _, plan = site.page("datasets/avfallsplan/index.html")
    described = json.loads(plan.find("script", type="application/ld+json").text())
    assert described["version"] == "1.0.1"
    assert described["dateModified"] == "2024-06-10T05:00:03Z"


@pytest.mark.parametrize("name", DATASETS)
def test_json_ld_variables_are_the_table_schema_fields_with_their_units(
    site: Site, name: str
) -> None:
    _, doc = site.page(f"datasets/{name}/index.html")
    data = json.loads(doc.find("script", type="application/ld+json").text())
    version = site.entry(name)["latest"]
    descriptor = json.loads(site.file(f"datasets/{name}/{version}/datapackage.json"))
    fields = [
        f for r in descriptor["resources"] if r["format"] == "csv" for f in r["schema"]["fields"]
    ]
    measured = data["variableMeasured"]
    assert all(v["@type"] == "PropertyValue" for v in measured)
    assert {v["name"] for v in measured} == {f["name"] for f in fields}
    for column in fields:
        expected = {
            "@type": "PropertyValue",
            "name": column["name"],
            "alternateName": column["title"],
            "description": column["description"],
        }
        if "unit" in column:
            expected["unitText"] = column["unit"]
        assert expected in measured, column["name"]
    units = {v["name"]: v.get("unitText") for v in measured}
    if name == "befolkning":
        assert units["folkmangd"] == "personer" and units["kommunkod"] is None
    if name == "vaxthusgasutslapp":
        assert units["utslapp_ton"] == "t CO2e"


# ---------------------------------------------------------------------------------------------
# Safety: escaping, nothing loaded from elsewhere, a Content-Security-Policy that fits


def test_hostile_metadata_shows_as_text(site: Site) -> None:
    catalog = copy.deepcopy(site.catalog)
    entry = next(e for e in catalog["datasets"] if e["name"] == "befolkning")
    for key in ("title", "title_en", "description", "description_en", "attribution"):
        entry[key] = HOSTILE
    entry["keywords"] = [HOSTILE]
    catalog["title"] = catalog["description"] = HOSTILE
    entry["resources"][0]["description"] = HOSTILE
    entry["resources"][-1]["schema"]["fields"][-1]["description"] = HOSTILE
    entry["resources"][-1]["schema"]["fields"][-1]["unit"] = HOSTILE
    entry["spatial"][0]["kommun"] = HOSTILE
    entry["versions"][0]["changes"] = HOSTILE
    page = render_dataset_page(
        entry, {"kommuner": [["kommunkod", "kommun"], ["1442", HOSTILE]]}, catalog
    )
    index = render_index(catalog)
    for html in (page, index):
        assert "<script>alert(1)</script>" not in html
        assert "<b>fet</b>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert len(re.findall(r"<script\b", html)) == html.count("</script>")
        parse(html)  # still well formed
    assert page.count("<script") == 2  # the JSON-LD and the site's own script
    doc = parse(page)
    assert doc.find("h1").text() == HOSTILE
    assert doc.by_id("attribution").text() == HOSTILE
    data = json.loads(doc.find("script", type="application/ld+json").text())
    assert data["name"] == data["description"] == HOSTILE
    assert data["keywords"] == [HOSTILE]
    variable = next(v for v in data["variableMeasured"] if v.get("unitText") == HOSTILE)
    assert variable["description"] == HOSTILE
    assert HOSTILE in [place["name"] for place in data["spatialCoverage"]]
    assert data["includedInDataCatalog"]["name"] == HOSTILE
    listing = json.loads(parse(index).find("script", type="application/ld+json").text())
    assert listing["name"] == listing["description"] == HOSTILE
    assert next(d for d in listing["dataset"] if d["url"].endswith("/befolkning/index.html"))[
        "name"
    ] == (HOSTILE)
    for html in (page, index):
        assert html.count('<script type="application/ld+json">') == 1
        ld = html.split('<script type="application/ld+json">', 1)[1].split("</script>", 1)[0]
        assert "<" not in ld and ">" not in ld and "&" not in ld
    assert parse(index).by_id("befolkning").find("h2").text() == HOSTILE


def test_pages_load_nothing_from_elsewhere_and_every_site_link_resolves(site: Site) -> None:
    keys = ["index.html", *(f"datasets/{name}/index.html" for name in DATASETS)]
    outside: set[str] = {"http://creativecommons.org/publicdomain/zero/1.0/"}
    for entry in site.catalog["datasets"]:
        outside |= {s["path"] for s in entry["sources"] if s.get("path", "").startswith("http")}
        outside.add(entry["license"]["path"])
    for key in keys:
        html, doc = site.page(key)
        page_url = BASE + key.removesuffix("index.html")
        nodes = doc.iter()
        assert not [n for n in nodes if "src" in n.attrs], f"{key} loads a src"
        assert not re.search(r"url\(|@import", html), f"{key} loads from CSS"
        for node in nodes:
            href = node.attrs.get("href")
            if href is None:
                continue
            if node.tag == "link":
                assert node.attrs.get("rel") in ("icon", "alternate"), (key, href)
                assert href == "data:," or not urlsplit(href).scheme, (key, href)
            if href.startswith(("http://", "https://")):
                assert node.tag == "a" and href in outside, (key, href)
                continue
            if href.startswith(("mailto:", "data:")):
                continue
            target = urljoin(page_url, href)
            path, _, fragment = target.partition("#")
            assert path.startswith(BASE), (key, href)
            relative = path[len(BASE) :]
            if relative.startswith("dcat/"):
                continue  # written by the DCAT module
            stored = (
                relative + "index.html" if relative == "" or relative.endswith("/") else relative
            )
            assert (site.root / stored).is_file(), (key, href)
            if fragment:
                target_doc = doc if stored == key else site.page(stored)[1]
                assert target_doc.find_all(id=fragment), (key, href)


def test_content_security_policy_allows_exactly_the_inline_style_and_script(site: Site) -> None:
    for key in ("index.html", "datasets/avfallsplan/index.html"):
        _, doc = site.page(key)
        policy = doc.find("meta", http_equiv="Content-Security-Policy").attrs["content"]
        rules = dict(rule.strip().split(" ", 1) for rule in policy.split(";"))
        assert rules["default-src"] == "'none'"
        style = doc.find("style").text()
        script = next(s for s in doc.find_all("script") if "type" not in s.attrs).text()

        def digest(text: str) -> str:
            return (
                "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"
            )

        assert rules["style-src"] == digest(style)
        assert rules["script-src"] == digest(script)


# ---------------------------------------------------------------------------------------------
# Determinism


def test_output_is_deterministic_and_carries_no_render_time(site: Site) -> None:
    entry = site.entry("avfallsplan")
    previews = preview_rows(site.store, entry)
    changes = version_changes(site.store, entry)
    first = render_dataset_page(entry, previews, site.catalog, changes)
    again = render_dataset_page(
        copy.deepcopy(entry),
        copy.deepcopy(previews),
        copy.deepcopy(site.catalog),
        copy.deepcopy(changes),
    )
    assert first == again
    assert first.encode() == site.file("datasets/avfallsplan/index.html")
    assert render_index(site.catalog) == render_index(copy.deepcopy(site.catalog))
    assert render_index(site.catalog).encode() == site.file("index.html")
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    for key in ["index.html", *(f"datasets/{name}/index.html" for name in DATASETS)]:
        assert today not in site.file(key).decode(), key
    # A rebuild from the same pointers writes nothing.
    assert rebuild_catalog(site.store, BASE) == []


def test_a_dataset_whose_versions_are_all_withdrawn_still_renders(site: Site) -> None:
    catalog = copy.deepcopy(site.catalog)
    entry = next(e for e in catalog["datasets"] if e["name"] == "befolkning")
    entry["latest"] = None
    entry["datapackage"] = None
    entry["versions"][0].update(
        status="withdrawn", withdrawn="2024-04-01T00:00:00Z", reason="Fel", files_deleted=True
    )
    doc = parse(render_dataset_page(entry, {}, catalog))
    assert "Alla versioner av datasetet är återkallade" in doc.words()
    assert not doc.find_all("table", class_="stack downloads")
    assert "Versionens filer är borttagna." in doc.by_id("v1.0.0").words()
    assert not doc.by_id("v1.0.0").find_all("a", type="application/json")
    index = parse(render_index(catalog))
    assert "ingen – alla versioner är återkallade" in index.by_id("befolkning").words()


def test_a_dataset_never_collected_is_on_the_index_and_nowhere_else(
    site: Site, tmp_path: Path
) -> None:
    """A dataset that runs skipped before any version of it was published (its public API
    offline or out of reach) is listed on the index as not yet collected, with its title and
    description from its definition and why: text, escaped. catalog.json and the DCAT files
    are untouched (no version, no distribution), and a record of a dataset that has an entry
    is not shown."""
    root = tmp_path / "store"
    shutil.copytree(site.root, root)
    store = LocalStore(root)
    settings = load_settings(home=copy_home(tmp_path / "repo", "avfallsplan-uppfoljning"))
    definition = load(settings, "avfallsplan-uppfoljning")
    uncollected.note(store, uncollected.record_of(definition, "unreachable"))
    hostile: uncollected.NotCollected = {
        "name": "fientlig",
        "title": HOSTILE,
        "title_en": HOSTILE,
        "description": HOSTILE,
        "description_en": None,
        "apis": ["Kolada", "SCB (PxWeb)"],
        "why": "offline",
    }
    uncollected.note(store, hostile)
    uncollected.note(store, {**hostile, "name": "befolkning"})  # it has an entry: not shown
    frozen = {
        key: site.file(key) for key in ("catalog.json", "dcat/catalog.rdf", "dcat/catalog.ttl")
    }

    written = rebuild_catalog(store, BASE, ["avfallsplan-uppfoljning", "fientlig"])
    assert "index.html" in written and "catalog.json" not in written
    assert {key: (root / key).read_bytes() for key in frozen} == frozen
    html = (root / "index.html").read_text("utf-8")
    doc = parse(html)
    published = doc.find("ul", class_="datasets").find_all("li", class_="dataset")
    assert [item.attrs["id"] for item in published] == DATASETS
    assert doc.by_id("dataset-rubrik").words() == f"Dataset ({len(DATASETS)})"
    section = doc.find("ul", class_="not-collected")
    assert [item.attrs["id"] for item in section.find_all("li")] == [
        "avfallsplan-uppfoljning",
        "fientlig",
    ]
    assert doc.by_id("ej-insamlade").words() == "Ännu inte insamlade Not yet collected (2)"
    item = doc.by_id("avfallsplan-uppfoljning")
    assert item.find("h2").words() == (
        "Uppföljning av avfallsplanen – avfallsnyckeltal per kommun "
        "Ännu inte insamlad / not yet collected"
    )
    assert item.find("p", class_="subtitle").text() == (
        "Follow-up of the waste plan – waste KPIs per municipality"
    )
    assert item.find("p", class_="notice").words() == (
        "Hämtas från Kolada (öppet API), som inte gick att nå när publiceringen kördes senast; "
        "datamängden publiceras när källan svarar. Collected from Kolada (a public API), which "
        "could not be reached when publishing last ran; it is published once the source answers."
    )
    assert not item.find_all("a")  # nothing to link to: it has no page and no files
    odd = doc.by_id("fientlig")
    assert odd.find("h2").text() == f"{HOSTILE} Ännu inte insamlad / not yet collected"
    assert (
        odd.find("p", class_="notice")
        .words()
        .startswith(
            "Hämtas från Kolada och SCB (PxWeb) (öppet API); publiceringen kördes senast utan "
            "internet (offline)"
        )
    )
    assert "<script>alert(1)</script>" not in html and "<b>fet</b>" not in html
    assert html.count("<script") == 2  # the DataCatalog's JSON-LD and the site's own script
    listing = json.loads(doc.find("script", type="application/ld+json").text())
    assert len(listing["dataset"]) == len(DATASETS)
    # `opendata verify` derives the same index from the same store.
    assert verify_derived(store, BASE)[1] == []

    # Published after all (or removed): the index is what it was.
    uncollected.forget(store, ["avfallsplan-uppfoljning", "fientlig", "befolkning"])
    assert "index.html" in rebuild_catalog(store, BASE, ["avfallsplan-uppfoljning"])
    assert (root / "index.html").read_bytes() == site.file("index.html")


# ---------------------------------------------------------------------------------------------
# Parquet: a download next to CSV and JSON, in the latest downloads and the version history


@pytest.fixture(scope="module")
def parquet_site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    """A dataset whose 1.0.0 has CSV and JSON only and whose latest 1.1.0 also has Parquet."""
    store = LocalStore(tmp_path_factory.mktemp("parquet-store"))
    write_dataset(store, "prov", mixed_shape(), BASE)
    rebuild_catalog(store, BASE)
    return Site(store.root, store, json.loads(store.read_bytes("catalog.json") or b"{}"))


def test_the_page_offers_parquet_with_size_and_sha256(parquet_site: Site) -> None:
    html, doc = parquet_site.page("datasets/prov/index.html")
    downloads = doc.find("table", class_="stack downloads")
    names = [row.attrs["data-file"] for row in downloads.find_all("tr") if "data-file" in row.attrs]
    assert names == [
        "datapackage.json",
        "kommuner.csv",
        "kommuner.json",
        "kommuner.parquet",
        "varden.csv",
        "varden.json",
        "varden.parquet",
    ]
    for name in names[1:]:
        data = parquet_site.file(f"datasets/prov/1.1.0/{name}")
        row = row_of(downloads, name)
        link = row.find("a")
        assert link.attrs["href"] == f"1.1.0/{name}"
        assert "download" in link.attrs
        size = row.find("td", data_label="Storlek")
        assert size.attrs["data-bytes"] == str(len(data))
        assert size.words() == f"{filesize(len(data))} ({len(data)} byte)"
        assert row.find("code", class_="hash").text() == sha256(data)
    for table in ("kommuner", "varden"):
        row = row_of(downloads, f"{table}.parquet")
        assert row.find("a").attrs["type"] == PARQUET_MEDIATYPE
        assert row.find("td", data_label="Format").words() == "PARQUET"
        assert parquet_site.file(f"datasets/prov/1.1.0/{table}.parquet").startswith(b"PAR1")
    section = doc.find("section", aria_labelledby="ladda-ner")
    assert "Parquet-filerna har samma rader och kolumntyper som CSV-filerna" in section.words()

    # each resource links its three files
    meta = doc.by_id("resurs-varden").find("p", class_="meta")
    assert [(a.text(), a.attrs["href"]) for a in meta.find_all("a", download="")] == [
        ("CSV", "1.1.0/varden.csv"),
        ("JSON", "1.1.0/varden.json"),
        ("PARQUET", "1.1.0/varden.parquet"),
    ]
    # the index names the formats
    index = parquet_site.page("index.html")[1].by_id("prov")
    facts = {
        dt.words(): dd.words()
        for dt, dd in zip(index.find_all("dt"), index.find_all("dd"), strict=True)
    }
    assert facts["Format"] == "CSV, JSON, PARQUET"
    # schema.org: a DataDownload per file, Parquet with its media type
    data = json.loads(doc.find("script", type="application/ld+json").text())
    parquet = next(d for d in data["distribution"] if d["name"] == "varden.parquet")
    stored = parquet_site.file("datasets/prov/1.1.0/varden.parquet")
    assert parquet == {
        "@type": "DataDownload",
        "name": "varden.parquet",
        "contentUrl": f"{BASE}datasets/prov/1.1.0/varden.parquet",
        "encodingFormat": PARQUET_MEDIATYPE,
        "contentSize": f"{len(stored)} B",
        "sha256": sha256(stored),
    }
    assert html.count("<script") == 2


def test_the_version_history_lists_parquet_where_a_version_has_it(parquet_site: Site) -> None:
    _, doc = parquet_site.page("datasets/prov/index.html")
    history = json.loads(parquet_site.file("datasets/prov/versions.json"))
    stored = {v["version"]: v for v in history["versions"]}
    for version, parquet in (("1.1.0", True), ("1.0.0", False)):
        files = doc.by_id(f"v{version}").find("details").find("table")
        listed = [
            row.attrs["data-file"] for row in files.find_all("tr") if "data-file" in row.attrs
        ]
        assert listed == sorted(stored[version]["files"])
        assert ("varden.parquet" in listed) is parquet
        assert ("kommuner.parquet" in listed) is parquet
        for name in listed:
            data = parquet_site.file(f"datasets/prov/{version}/{name}")
            row = row_of(files, name)
            assert row.find("a").attrs["href"] == f"{version}/{name}"
            assert row.find("code", class_="hash").text() == sha256(data)
            size = row.find("td", data_label="Storlek")
            assert size.attrs["data-bytes"] == str(len(data))
            assert size.words() == f"{filesize(len(data))} ({len(data)} byte)"


def test_every_link_on_the_parquet_page_resolves(parquet_site: Site) -> None:
    _, doc = parquet_site.page("datasets/prov/index.html")
    page_url = f"{BASE}datasets/prov/"
    for node in doc.find_all("a"):
        href = node.attrs.get("href", "")
        if href.startswith(("http://", "https://", "mailto:", "#")):
            continue
        path = urljoin(page_url, href).partition("#")[0][len(BASE) :]
        if path.startswith("dcat/"):
            continue
        stored = path + "index.html" if path == "" or path.endswith("/") else path
        assert (parquet_site.root / stored).is_file(), href


def test_the_parquet_page_is_deterministic(parquet_site: Site) -> None:
    entry = parquet_site.entry("prov")
    page = render_dataset_page(entry, preview_rows(parquet_site.store, entry), parquet_site.catalog)
    assert page.encode() == parquet_site.file("datasets/prov/index.html")
    assert rebuild_catalog(parquet_site.store, BASE) == []


def test_templates_compiled_by_another_process_render_the_same_pages(tmp_path: Path) -> None:
    """The compiled templates kept between processes (Jinja's bytecode cache, in a private
    folder of the temporary directory) give the bytes a fresh compile gives."""
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from opendata.catalog.build import catalog_header\n"
        "from opendata.catalog.pages import environment, render_index\n"
        "sys.stdout.write(type(environment().bytecode_cache).__name__ + '\\n')\n"
        "sys.stdout.write(render_index(catalog_header('http://example.org/'), []))\n"
    )
    env = {"TMPDIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    runs = [
        subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True
        ).stdout
        for _ in range(2)
    ]
    assert runs[0].startswith("FileSystemBytecodeCache\n")
    assert runs[0] == runs[1]
    cached = list(tmp_path.glob("_jinja2-cache-*/__jinja2_*.cache"))
    assert cached, "the first process left its compiled templates"
