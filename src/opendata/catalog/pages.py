"""The static HTML site: the catalog's index and one page per dataset (Jinja2, autoescaped).

Everything a page shows comes from catalog.json (and the preview rows, and the changes.json of
the newest versions, which never change once written); nothing reads a clock, so the same
catalog gives the same bytes. Change summaries are shown in Swedish, metadata named in words
(versioning.change_text); the index shows a version's message, where the steward gave one,
instead of its summary. The dataset page shows how to load the data and compare versions in
pandas, DuckDB, R and frictionless (catalog/recipes.py), as escaped text.
The pages load nothing: the style sheet and the small script are inline, allowed by a
Content-Security-Policy that names their hashes, so a page works offline, from any base path,
and an injected script would not run. In-site links are relative (computed from the catalog's
`homepage`); the absolute URLs are shown where a reader cites or harvests them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import posixpath
import re
from collections.abc import Mapping, Sequence
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, TypedDict, cast

from jinja2 import (
    BytecodeCache,
    Environment,
    FileSystemBytecodeCache,
    PackageLoader,
    select_autoescape,
)
from markupsafe import Markup

from opendata import layout
from opendata.catalog.recipes import recipes
from opendata.catalog.uncollected import NotCollected
from opendata.catalog.vocabulary import THEMES, iri, publisher_iri
from opendata.geography import SOURCE as GEOGRAPHY_SOURCE
from opendata.geography import Extent, combined_extent, municipality_extents
from opendata.municipalities import MEMBERS
from opendata.state import Catalog, CatalogEntry, CatalogResource, CatalogVersion
from opendata.versioning import Changes, ResourceChanges, change_text

INDEX_DIR = ""  # the index page's folder, relative to the site root
# The index lists this many of a dataset's newest versions (and links to the rest on the
# dataset's page): with 10,000 datasets of 20 versions, listing every version made the index
# 44 MB; this keeps it under a fifth of that.
INDEX_VERSIONS = 5

# The EU data themes' labels: the same table the DCAT catalog uses.

PERIODICITY = {
    "continuous": "löpande",
    "daily": "dagligen",
    "weekly": "varje vecka",
    "monthly": "varje månad",
    "quarterly": "varje kvartal",
    "biannual": "varje halvår",
    "annual": "årligen",
    "biennial": "vartannat år",
    "irregular": "oregelbundet",
    "never": "uppdateras inte",
}

BUMPS = {
    "major": "större ändring (major)",
    "minor": "tillägg (minor)",
    "patch": "rättelse (patch)",
}


def _bytecode_cache() -> BytecodeCache | None:
    """Compiled templates kept between processes: compiling the pages' templates took half a
    second of every publish (a one-dataset update at 10,000 datasets is 2 s in all). Jinja's
    own cache: a private folder of this user's in the temporary directory (it refuses one
    that others can write), files written whole, each checked against its template's source and
    this Python; without such a folder, no cache."""
    try:
        return FileSystemBytecodeCache()
    except (OSError, RuntimeError):
        return None


@cache
def environment() -> Environment:
    """One environment a process: each template is compiled once (a new environment a page
    compiled it again, 1 ms of every version's page), never reloaded (the templates are the
    installed package's)."""
    env = Environment(
        loader=PackageLoader("opendata", "templates"),
        bytecode_cache=_bytecode_cache(),
        autoescape=select_autoescape(["html"]),
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters.update(
        filesize=filesize,
        day=day,
        moment=moment,
        theme=theme_label,
        periodicity=periodicity,
        bump=bump_label,
        constraints=constraint_list,
        short=short_text,
        swedish=change_text,
        rader=rows_sv,
    )
    return env


# ---------------------------------------------------------------------------------------------
# Formatting helpers (also used by the tests)


def filesize(size: int | None) -> str:
    """A human-readable size with a Swedish decimal comma: 2121 → '2,1 kB' (SI units)."""
    if size is None:
        return "–"
    if size < 1000:
        return f"{size} B"
    value = float(size)
    for unit in ("kB", "MB", "GB", "TB"):
        value /= 1000
        if value < 1000 or unit == "TB":
            break
    text = f"{value:.1f}" if value < 100 else f"{value:.0f}"
    return f"{text.replace('.', ',')} {unit}"


def day(timestamp: str | None) -> str:
    """The date of an ISO timestamp: '2025-03-01T05:00:12Z' → '2025-03-01'."""
    return (timestamp or "")[:10]


def moment(timestamp: str | None) -> str:
    """An ISO UTC timestamp for people: '2025-03-01T05:00:12Z' → '2025-03-01 05:00 UTC'."""
    if not timestamp:
        return ""
    if len(timestamp) >= 16 and timestamp[10] == "T":
        return f"{timestamp[:10]} {timestamp[11:16]} UTC"
    return timestamp


def theme_label(code: str, lang: str = "sv") -> str:
    labels = THEMES.get(code)
    if labels is None:
        return code
    return labels[0] if lang == "sv" else labels[1]


def periodicity(code: str | None) -> str:
    return PERIODICITY.get(code or "", code or "")


def bump_label(bump: str | None) -> str:
    return BUMPS.get(bump or "", "första versionen")


def constraint_list(field: dict[str, Any]) -> list[tuple[str, str | None]]:
    """A field's Table Schema constraints in words: (text, literal shown as code or None)."""
    constraints = field.get("constraints") or {}
    words: list[tuple[str, str | None]] = []
    if constraints.get("required"):
        words.append(("obligatoriskt", None))
    if constraints.get("unique"):
        words.append(("unikt", None))
    for key, text in (
        ("minimum", "≥ {}"),
        ("maximum", "≤ {}"),
        ("exclusiveMinimum", "> {}"),
        ("exclusiveMaximum", "< {}"),
        ("minLength", "minst {} tecken"),
        ("maxLength", "högst {} tecken"),
    ):
        if key in constraints:
            words.append((text.format(constraints[key]), None))
    if "pattern" in constraints:
        words.append(("mönster", str(constraints["pattern"])))
    if "enum" in constraints:
        words.append(("ett av", ", ".join(str(value) for value in constraints["enum"])))
    known = {"required", "unique", "pattern", "enum", "minimum", "maximum"}
    known |= {"exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength"}
    for key in sorted(set(constraints) - known):
        words.append((key, json.dumps(constraints[key], ensure_ascii=False)))
    return words


def rows_sv(count: int) -> str:
    return f"{count} rad" if count == 1 else f"{count} rader"


def short_text(text: str | None, limit: int = 240) -> str:
    """The start of a description for the index: whole sentences where they fit, else words."""
    text = " ".join((text or "").split())
    if len(text) <= limit:
        return text
    ends = [m.end() for m in re.finditer(r"[.!?](?=\s+[A-ZÅÄÖ0-9\"'“])", text[: limit + 1])]
    ends = [end for end in ends if end >= limit // 3]
    if ends:
        return text[: ends[-1]]
    cut = text[:limit].rsplit(" ", 1)[0].rstrip(",;:–- ")
    return cut + " …"


@lru_cache(maxsize=1 << 16)  # a page links the same few targets: 22,400 calls a 100 datasets
def relative_url(url: str | None, homepage: str, here: str) -> str:
    """`url` relative to the page folder `here` when it lies inside the site, else unchanged.

    `here` is the page's folder relative to the site root ('' for the index page). Folders
    keep their trailing slash, so `datasets/x/` stays a folder link.
    """
    if not url:
        return ""
    if not homepage or not url.startswith(homepage):
        return url
    target = url[len(homepage) :]
    path, _, fragment = target.partition("#")
    relative = posixpath.relpath(path or ".", here or ".")
    if path == "" or path.endswith("/"):
        relative = "./" if relative == "." else relative + "/"
    return relative + (f"#{fragment}" if fragment else "")


def citation(entry: CatalogEntry, version: CatalogVersion) -> str:
    """How to cite one version: publisher (year). Title (version x) [Datamängd]. URL."""
    year = day(version.get("published"))[:4]
    return (
        f"{entry.get('publisher') or ''} ({year}). {entry.get('title') or entry['name']} "
        f"(version {version['version']}) [Datamängd]. {version['datapackage']}"
    )


def script_json(value: Any) -> Markup:
    """JSON that is safe inside a <script> element: no `<`, `>` or `&` survive literally."""
    return Markup(_script_escape(json.dumps(value, ensure_ascii=False, indent=2)))


def _script_escape(text: str) -> str:
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def csp_hash(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


@cache
def assets() -> dict[str, str]:
    """The inline style sheet and script, and the Content-Security-Policy that allows them."""
    loader = environment().loader
    assert loader is not None
    css = loader.get_source(environment(), "site.css")[0].strip()
    js = loader.get_source(environment(), "site.js")[0].strip()
    policy = "; ".join(
        [
            "default-src 'none'",
            f"style-src {csp_hash(css)}",
            f"script-src {csp_hash(js)}",
            "img-src 'self' data:",
            "connect-src 'self'",
            "base-uri 'none'",
            "form-action 'self'",
        ]
    )
    return {"css": css, "js": js, "csp": Markup(policy)}  # our own constant text


# ---------------------------------------------------------------------------------------------
# Page data


def change_details(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A version's changes.json as the page lists it: per changed resource, the listed rows
    (changed ones with each cell before and after, added and removed ones with their values,
    or by key where an older changes.json has no values) and how many there are in all. Empty
    for a first version or a changes.json that lists no rows."""
    details = []
    for resource in Changes.from_dict(record).resources:
        keys = resource.keys
        if keys is None or resource.status != "changed":
            continue
        fields = keys["fields"][0]
        values = {tuple(row.key): row for row in resource.values or []}

        def key(row: list[str], fields: list[str] = fields) -> list[tuple[str, str]]:
            return list(zip(fields, row, strict=False))

        changed = [
            {
                "key": key(row),
                "cells": [(c.field, c.old, c.new) for c in values[tuple(row)].cells]
                if tuple(row) in values
                else [],
            }
            for row in keys["changed"]
        ]
        details.append(
            {
                "name": resource.name,
                "changed": changed,
                "added": [key(row) for row in keys["added"]],
                "removed": [key(row) for row in keys["removed"]],
                "added_rows": listed_table(resource, "added"),
                "removed_rows": listed_table(resource, "removed"),
                "rows_changed": resource.rows_changed,
                "rows_added": resource.rows_added,
                "rows_removed": resource.rows_removed,
            }
        )
    return [d for d in details if d["changed"] or d["added"] or d["removed"]]


def listed_table(resource: ResourceChanges, kind: str) -> dict[str, Any] | None:
    """The listed rows of `kind` (added, removed) as a table: the fields of the version they
    are in, the key fields, and the rows' values; None when a listed row has no values (a
    changes.json from before they were listed)."""
    listed = resource.listed_rows(kind)
    if not listed or any(cells is None for _, cells in listed):
        return None
    names = list(next(cells for _, cells in listed if cells is not None))
    rows = [[(cells or {}).get(name, "") for name in names] for _, cells in listed]
    key = resource.keys["fields"][0] if resource.keys else []
    return {"fields": names, "key": key, "rows": rows}


def latest_version(entry: CatalogEntry) -> CatalogVersion | None:
    return next((v for v in entry.get("versions", []) if v["version"] == entry.get("latest")), None)


def numeric_columns(resource: CatalogResource, header: list[str]) -> list[bool]:
    """Which preview columns hold numbers (right-aligned), from the resource's schema."""
    types = {f.get("name"): f.get("type") for f in resource.get("schema", {}).get("fields", [])}
    return [types.get(name) in ("integer", "number") for name in header]


def search_text(entry: CatalogEntry) -> str:
    """What the index filter matches a dataset against."""
    parts = [
        entry.get("name"),
        entry.get("title"),
        entry.get("title_en"),
        entry.get("description"),
        entry.get("description_en"),
        *entry.get("keywords", []),
        *(theme_label(code) for code in entry.get("themes", [])),
        *(theme_label(code, "en") for code in entry.get("themes", [])),
    ]
    return " ".join(" ".join(str(part).split()) for part in parts if part)


# The region the member municipalities make up, and the county all of them lie in: SCB's
# kommunkod starts with the county's länskod (14, Västra Götalands län, for every member).
REGION = "Boråsregionen (Sjuhärads kommunalförbund)"
COUNTY_CODE = "14"
SWEDEN: dict[str, Any] = {"@type": "Country", "name": "Sverige", "identifier": "SE"}
COUNTY: dict[str, Any] = {
    "@type": "AdministrativeArea",
    "name": "Västra Götalands län",
    "identifier": COUNTY_CODE,
    "containedInPlace": SWEDEN,
}


def node(url: str | None) -> str | None:
    """The IRI the DCAT catalog gives a URL (percent-encoded as there), so that the JSON-LD and
    the DCAT graph name the same nodes; None for no URL or a relative one."""
    if not url:
        return None
    try:
        return str(iri(url))
    except ValueError:
        return None


def page_url(landing: str | None) -> str | None:
    """The address of the dataset's page: its folder IRI's index.html, which answers on an S3
    REST endpoint too (a folder address does not serve its index.html there)."""
    if landing and landing.endswith("/"):
        return landing + layout.INDEX
    return landing


def organisation(name: str | None) -> dict[str, Any]:
    """The publisher as schema.org sees it: its name and the same IRI DCAT uses for it
    (OPENDATA_PUBLISHER_URI or Boråsregionen's homepage), so both descriptions name one body."""
    return {"@type": "Organization", "name": name, "url": str(publisher_iri())}


def variables(entry: CatalogEntry) -> list[dict[str, Any]]:
    """`variableMeasured`: one PropertyValue per Table Schema field (name, title, description,
    `unitText` from the field's `unit`). A field that several tables share with the same
    definition (kommunkod, kommun) is listed once; differing definitions each stay."""
    seen: set[str] = set()
    measured = []
    for resource in entry.get("resources", []):
        for field in resource.get("schema", {}).get("fields", []):
            value = {
                "@type": "PropertyValue",
                "name": field.get("name"),
                "alternateName": field.get("title"),
                "description": field.get("description"),
                "unitText": field.get("unit"),
            }
            value = {k: v for k, v in value.items() if v not in (None, "")}
            key = json.dumps(value, sort_keys=True, ensure_ascii=False)
            if key not in seen:
                seen.add(key)
                measured.append(value)
    return measured


def place_geometry(extent: Extent | None) -> dict[str, Any]:
    """A schema.org Place's box (GeoShape) and centre, when the place's extent is known."""
    if extent is None:
        return {}
    return {
        "geo": {"@type": "GeoShape", "box": extent.schema_box()},
        "latitude": extent.lat,
        "longitude": extent.lon,
    }


def places(entry: CatalogEntry, homepage: str) -> list[dict[str, Any]]:
    """`spatialCoverage`: the region, then each member municipality as a Place named by its SCB
    kommunkod, each with the IRI the DCAT catalog gives its dct:Location (one IRI per place
    across schema.org and DCAT, the page the site publishes there), its box as `geo` and its
    centre as `latitude`/`longitude` (geography.py: SCB's boundaries)."""
    spatial = entry.get("spatial") or []
    if not spatial:
        return []
    municipalities = [
        {
            "@type": "Place",
            "@id": node(homepage + layout.municipality_path(str(place.get("kommunkod"))))
            if homepage
            else None,
            "name": place.get("kommun"),
            "identifier": place.get("kommunkod"),
            "containedInPlace": COUNTY
            if str(place.get("kommunkod") or "").startswith(COUNTY_CODE)
            else SWEDEN,
            **place_geometry(municipality_extents().get(str(place.get("kommunkod")))),
        }
        for place in spatial
    ]
    region = {
        "@type": "Place",
        "@id": node(homepage + layout.REGION_PATH) if homepage else None,
        "name": REGION,
        "containedInPlace": COUNTY,
        **place_geometry(combined_extent(MEMBERS)),
        "containsPlace": [
            {"@id": place["@id"]} if place["@id"] else {"@type": "Place", "name": place["name"]}
            for place in municipalities
        ],
    }
    return [
        {k: v for k, v in region.items() if v is not None},
        *({k: v for k, v in place.items() if v is not None} for place in municipalities),
    ]


def dataset_jsonld(entry: CatalogEntry, catalog: Catalog) -> dict[str, Any]:
    """The schema.org Dataset of the latest version, for search engines and harvesters.

    Its `@id` is the dataset's DCAT IRI (`{base}datasets/<name>/`, also its `url`), so the two
    descriptions are of one node; what Google's Dataset guidelines ask for and the data has is
    given (variables, places, period, licence, downloads with format, URL and size)."""
    version = latest_version(entry)
    homepage = catalog.get("homepage") or ""
    license_ = entry.get("license") or {}
    publisher = organisation(entry.get("publisher"))
    data: dict[str, Any] = {
        "@context": "https://schema.org/",
        "@type": "Dataset",
        "@id": node(entry.get("landing_page")),
        "name": entry.get("title"),
        "alternateName": entry.get("title_en"),
        "description": entry.get("description"),
        "url": page_url(entry.get("landing_page")),
        "identifier": version["datapackage"] if version else entry.get("datapackage"),
        "version": entry.get("latest"),
        "inLanguage": "sv",
        "isAccessibleForFree": True,
        "license": license_.get("path") or license_.get("name"),
        "creditText": entry.get("attribution"),
        "creator": publisher,
        "publisher": publisher,
        "keywords": entry.get("keywords", []),
        "datePublished": entry.get("issued"),
        "dateModified": entry.get("modified"),
        "includedInDataCatalog": {
            "@type": "DataCatalog",
            **{k: v for k, v in [("@id", node(f"{homepage}#catalog"))] if v},
            "name": catalog.get("title"),
            "url": homepage,
        },
        "variableMeasured": variables(entry),
        "spatialCoverage": places(entry, homepage),
    }
    contact = entry.get("contact_point") or {}
    if contact.get("email"):
        data["maintainer"] = {
            "@type": "Organization",
            "name": contact.get("name"),
            "email": contact["email"],
        }
    temporal = entry.get("temporal") or {}
    if temporal.get("start") or temporal.get("end"):
        data["temporalCoverage"] = f"{temporal.get('start') or '..'}/{temporal.get('end') or '..'}"
    distribution = []
    if entry.get("latest"):
        for resource in entry.get("resources", []):
            for item in resource.get("files", []):
                distribution.append(
                    {
                        "@type": "DataDownload",
                        "name": item["name"],
                        "contentUrl": item["url"],
                        "encodingFormat": item["mediatype"],
                        "contentSize": f"{item['bytes']} B",
                        "sha256": item["sha256"],
                    }
                )
    if version:
        descriptor = next((f for f in version["files"] if f["name"] == layout.DESCRIPTOR), None)
        distribution.append(
            {
                "@type": "DataDownload",
                "name": layout.DESCRIPTOR,
                "contentUrl": version["datapackage"],
                "encodingFormat": "application/json",
                **(
                    {"contentSize": f"{descriptor['bytes']} B", "sha256": descriptor["sha256"]}
                    if descriptor
                    else {}
                ),
            }
        )
    if distribution:
        data["distribution"] = distribution
    sources = entry.get("sources") or []
    if sources:
        data["isBasedOn"] = [
            {
                "@type": "CreativeWork",
                "name": source.get("title"),
                "url": source.get("path"),
                "publisher": {"@type": "Organization", "name": source.get("publisher")},
            }
            for source in sources
        ]
    return {key: value for key, value in data.items() if value not in (None, "", [])}


def catalog_jsonld_item(entry: CatalogEntry) -> dict[str, Any]:
    """A dataset as the index's DataCatalog lists it."""
    item = {
        "@type": "Dataset",
        "@id": node(entry.get("landing_page")),
        "name": entry.get("title") or entry["name"],
        "alternateName": entry.get("title_en"),
        "url": page_url(entry.get("landing_page")),
        "description": entry.get("description"),
        "version": entry.get("latest"),
        "license": (entry.get("license") or {}).get("path"),
    }
    return {k: v for k, v in item.items() if v not in (None, "")}


def catalog_jsonld(catalog: Catalog) -> dict[str, Any]:
    """The index as a schema.org DataCatalog listing every dataset (name, URL, description),
    with the DCAT catalog's IRI as its `@id` and each dataset's DCAT IRI as the dataset's."""
    homepage = catalog.get("homepage") or ""
    license_ = catalog.get("license") or {}
    datasets = [catalog_jsonld_item(entry) for entry in catalog.get("datasets", [])]
    data: dict[str, Any] = {
        "@context": "https://schema.org/",
        "@type": "DataCatalog",
        "@id": node(f"{homepage}#catalog") if homepage else None,
        "name": catalog.get("title"),
        "alternateName": catalog.get("title_en"),
        "description": catalog.get("description"),
        "url": homepage,
        "inLanguage": "sv",
        "license": license_.get("path"),
        "publisher": organisation(catalog.get("publisher")),
        "dataset": datasets,
    }
    return {key: value for key, value in data.items() if value not in (None, "")}


def _common(catalog: Catalog, here: str) -> dict[str, Any]:
    homepage = catalog.get("homepage") or ""

    def href(url: str | None) -> str:
        return relative_url(url, homepage, here)

    def site(path: str) -> str:
        """A path relative to the site root, as seen from this page."""
        return relative_url(homepage + path, homepage, here) if homepage else path

    return {"catalog": catalog, "href": href, "site": site, "assets": assets(), "themes": THEMES}


# Listings are kept between runs; a change to this module or to the templates of the index row
# and of the places' pages makes every kept listing stale (catalog/build.py renders them again,
# and with them the places' pages, which a publish otherwise leaves alone when it can).
LISTING_CODE = hashlib.sha256(
    Path(__file__).read_bytes()
    + b"".join(
        (Path(__file__).parent.parent / "templates" / name).read_bytes()
        for name in ("index_row.html", "location.html", "base.html")
    )
).hexdigest()


class Listing(TypedDict):
    """What the index and the places' pages show of a dataset, and the dates the catalog's own
    are made of: kept for every dataset in the store's private area (catalog/build.py), so that
    a publish renders the index without reading every dataset's catalog entry."""

    name: str
    title: str | None
    spatial: list[dict[str, Any]]
    themes: list[str]
    issued: str | None
    changed: str | None
    row: str  # the index's list item
    jsonld: str  # the index's DataCatalog item, as it stands in the page's script


def listing(catalog: Catalog, entry: CatalogEntry) -> Listing:
    from opendata.catalog.dcat import dataset_dates

    issued, changed = dataset_dates(entry)
    row = (
        environment()
        .get_template("index_row.html")
        .render(
            **_common(catalog, INDEX_DIR),
            dataset=entry,
            latest_version=latest_version,
            search_text=search_text,
            index_versions=INDEX_VERSIONS,
        )
    )
    item = json.dumps(catalog_jsonld_item(entry), ensure_ascii=False, indent=2)
    return {
        "name": str(entry["name"]),
        "title": entry.get("title"),
        "spatial": [
            {"kommunkod": place.get("kommunkod"), "kommun": place.get("kommun")}
            for place in entry.get("spatial") or []
        ],
        "themes": list(entry.get("themes", [])),
        "issued": issued,
        "changed": changed,
        "row": row,
        "jsonld": _script_escape("    " + item.replace("\n", "\n    ")),
    }


def render_index(
    catalog: Catalog,
    listings: Sequence[Listing] | None = None,
    not_collected: Sequence[NotCollected] = (),
) -> str:
    """The index page; `listings` (in order of name) stand for the catalog's datasets.

    `not_collected` are datasets defined but never collected (catalog/uncollected.py): listed
    after the others as not yet collected, with why, and in neither the count, the filter nor
    the DataCatalog's JSON-LD (they have no page and nothing to download)."""
    if listings is None:
        listings = [listing(catalog, entry) for entry in catalog.get("datasets", [])]
    theme_codes = sorted({code for item in listings for code in item["themes"]})
    header = {key: value for key, value in catalog.items() if key != "datasets"}
    script = str(script_json(catalog_jsonld(cast(Catalog, {**header, "datasets": []}))))
    empty = '"dataset": []\n}'
    if listings and script.endswith(empty):
        items = ",\n".join(item["jsonld"] for item in listings)
        script = script[: -len(empty)] + '"dataset": [\n' + items + "\n  ]\n}"
    return (
        environment()
        .get_template("index.html")
        .render(
            **_common(cast(Catalog, header), INDEX_DIR),
            count=len(listings),
            rows=Markup("".join(item["row"] for item in listings)),  # rendered, escaped
            theme_codes=theme_codes,
            dcat_files=layout.DCAT_FILES,
            jsonld=Markup(script),
            not_collected=not_collected,
        )
    )


def render_dataset_page(
    entry: CatalogEntry,
    previews: dict[str, list[list[str]]],
    catalog: Catalog,
    changes: Mapping[str, Mapping[str, Any]] | None = None,
) -> str:
    """The dataset's page; `changes` holds the changes.json of versions (by number) whose
    changed rows it lists."""
    latest = latest_version(entry)
    descriptor = None
    if latest is not None:
        descriptor = next((f for f in latest["files"] if f["name"] == layout.DESCRIPTOR), None)
    return (
        environment()
        .get_template("dataset.html")
        .render(
            **_common(catalog, layout.dataset_prefix(str(entry["name"]))),
            dataset=entry,
            previews=previews,
            latest=latest,
            latest_descriptor=descriptor,
            has_parquet=any(
                file["format"] == "PARQUET"
                for resource in entry.get("resources", [])
                for file in resource.get("files", [])
            ),
            citation=citation,
            details={
                version: change_details(record) for version, record in (changes or {}).items()
            },
            numeric_columns=numeric_columns,
            recipes=recipes(entry, catalog.get("homepage") or ""),
            jsonld=script_json(dataset_jsonld(entry, catalog)),
            dcat_files=layout.DCAT_FILES,
        )
    )


def location_pages(
    catalog: Catalog, listings: Sequence[Listing | CatalogEntry] | None = None
) -> dict[str, str]:
    """The page of every dct:Location the DCAT graph names, by its site path (`<path>index.html`).

    The DCAT files use `{base}region/` and `{base}kommuner/<kommunkod>/` as the places' IRIs;
    DCAT-AP-SE wants an IRI that resolves, so each gets a page exactly there: the region with
    its member municipalities, each municipality with the datasets that cover it.
    """
    from opendata.catalog.vocabulary import REGION_NAME

    homepage = catalog.get("homepage") or ""
    datasets: Sequence[Listing | CatalogEntry] = (
        catalog.get("datasets", []) if listings is None else listings
    )
    names = dict(MEMBERS)
    covering: dict[str, list[Listing | CatalogEntry]] = {code: [] for code in MEMBERS}
    seen: set[tuple[str, str]] = set()
    for entry in datasets:
        for place in entry.get("spatial") or []:
            code = str(place.get("kommunkod") or "")
            if not code:
                continue
            names.setdefault(code, str(place.get("kommun") or code))
            covering.setdefault(code, [])
            if (code, entry["name"]) not in seen:
                seen.add((code, entry["name"]))
                covering[code].append(entry)
    region = {"name": REGION_NAME[0], "path": layout.REGION_PATH}
    env = environment()
    template = env.get_template("location.html")
    pages: dict[str, str] = {}

    def render(path: str, place: dict[str, Any]) -> None:
        place["iri"] = homepage + path
        pages[layout.page_key(path)] = template.render(
            **_common(catalog, path.rstrip("/")),
            place=place,
            dcat_files=layout.DCAT_FILES,
            geography_source=GEOGRAPHY_SOURCE,
        )

    members = sorted(MEMBERS)
    render(
        layout.REGION_PATH,
        {
            "name": REGION_NAME[0],
            "name_en": REGION_NAME[1],
            "kind": "Region: Sjuhärads kommunalförbunds medlemskommuner",
            "parts": [
                {"code": code, "name": MEMBERS[code], "path": layout.municipality_path(code)}
                for code in members
            ],
            "datasets": [e for e in datasets if e.get("spatial")],
            "extent": combined_extent(MEMBERS),
        },
    )
    for code in sorted(names):
        render(
            layout.municipality_path(code),
            {
                "name": names[code],
                "kind": "Kommun",
                "code": code,
                "region": region if code in MEMBERS else None,
                "datasets": covering[code],
                "extent": municipality_extents().get(code),
            },
        )
    return pages
