"""Each version's page and documents, so that its IRI resolves (issue 18, item 2).

A version's IRI is `{base}datasets/<name>/<version>/`, its immutable folder. What a reader
needs to see there changes after the version is published (its status, a withdrawal, the next
version), and nothing under a version's folder ever changes once written. So:

- `datasets/<name>/<version>.html`, beside the folder, is the version's page, and
  `<version>.rdf`, `.ttl` and `.jsonld` its DCAT-AP description (`dcat.version_documents`):
  derived from catalog.json like the dataset's page, written again when the dataset's entry
  changes. They are plain files, so they answer on any store (an S3 REST endpoint too).
- `datasets/<name>/<version>/index.html` makes the IRI itself answer: a small page that sends the
  browser on to `../<version>.html` and names the RDF as alternates. Its bytes depend on the
  version number alone (relative links), so it is written once, create-only, and never changes:
  the one file the catalog adds to a version's folder (for versions published before this
  release, at the next publish of their dataset).
- `datasets/<name>/latest/index.html` answers the same for the latest version (latest/ is the
  stable area that changes with every publish).

The pages and documents of a dataset are made again only when its catalog entry (or their
code) changed since they were written: `_private/catalog/versions/<name>.json` keeps the keys
they were made from, one for the pages and one for the documents (`made_from`).
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import json
from collections.abc import Iterator
from pathlib import Path

from opendata import layout
from opendata.catalog.dcat_documents import CODE as DCAT_CODE
from opendata.catalog.dcat_documents import fragment_key, versions_documents
from opendata.catalog.pages import _common, environment
from opendata.errors import ConflictError
from opendata.layout import DCAT_FILES, version_page
from opendata.state import Catalog, CatalogEntry, SemVer, Status
from opendata.storage import Store

DOCUMENTS = (
    ("application/rdf+xml", ".rdf"),
    ("text/turtle", ".ttl"),
    ("application/ld+json", ".jsonld"),
)
# What a dataset's version pages and its versions' DCAT documents are made with, kept apart:
# a change to the DCAT code makes only the documents again (600,000 files at 10,000 datasets ×
# 20 versions), a change to the pages' code or templates only the pages.
TEMPLATES = Path(__file__).parent.parent / "templates"
PAGES_CODE = hashlib.sha256(
    Path(__file__).read_bytes()
    + (TEMPLATES / "version.html").read_bytes()
    + (TEMPLATES / "base.html").read_bytes()
).hexdigest()
DOCUMENTS_CODE = hashlib.sha256(DCAT_CODE.encode("ascii") + Path(__file__).read_bytes()).hexdigest()


def pointer_page(number: str, up: str = "../") -> bytes:
    """A page that sends the reader on to the version's page `{up}<version>.html`, with the
    version's RDF as alternates. Only the number is in it: the same bytes forever."""
    stem = html.escape(up + number, quote=True)
    links = "".join(
        f'<link rel="alternate" type="{kind}" href="{stem}{suffix}">\n'
        for kind, suffix in DOCUMENTS
    )
    text = (
        "<!doctype html>\n"
        '<html lang="sv">\n<head>\n<meta charset="utf-8">\n'
        f"<title>Version {html.escape(number)}</title>\n"
        f'<meta http-equiv="refresh" content="0; url={stem}.html">\n'
        f'<link rel="alternate" type="text/html" href="{stem}.html">\n'
        f"{links}</head>\n<body>\n"
        f'<p>Version {html.escape(number)}: <a href="{stem}.html">versionens sida</a> '
        f'(status, filer, ändringar). DCAT-AP: <a href="{stem}.rdf">RDF/XML</a>, '
        f'<a href="{stem}.ttl">Turtle</a>, <a href="{stem}.jsonld">JSON-LD</a>.</p>\n'
        "</body>\n</html>\n"
    )
    return text.encode("utf-8")


def render_version_page(catalog: Catalog, entry: CatalogEntry, number: str) -> str:
    versions = sorted(entry.get("versions") or [], key=lambda v: SemVer.parse(v["version"]))
    numbers = [v["version"] for v in versions]
    at = numbers.index(number)
    version = versions[at]
    # in version order: the published ones before and after this one
    earlier = [v["version"] for v in versions[:at] if v["status"] == Status.PUBLISHED]
    later = [v["version"] for v in versions[at + 1 :] if v["status"] == Status.PUBLISHED]
    homepage = str(catalog.get("homepage") or "")
    stem = version_page(number).removesuffix(".html")
    return (
        environment()
        .get_template("version.html")
        .render(
            **_common(catalog, layout.dataset_prefix(str(entry["name"]))),
            dataset=entry,
            version=version,
            iri=f"{homepage}{layout.version_prefix(str(entry['name']), number)}/",
            withdrawn=version["status"] == Status.WITHDRAWN,
            current=number == entry.get("latest"),
            previous=earlier[-1] if earlier else None,
            following=later[0] if later else None,
            documents=[(kind, f"{stem}{suffix}") for kind, suffix in DOCUMENTS],
            dcat_files=DCAT_FILES,
        )
    )


def version_files(
    store: Store,
    catalog: Catalog,
    entry_bytes: bytes | memoryview,
    save: bool = True,
    records: list[tuple[str, bytes]] | None = None,
) -> Iterator[tuple[str, bytes]]:
    """The pages and documents of a dataset's versions (see the module's docstring), when its
    entry changed since they were written (`save`: and then the folders' pointer pages are
    created where missing, and what they were made from is kept: appended to `records`, for
    the caller to write once the files are durable, or written here); with `save` False, all
    of them (for verify)."""
    entry: CatalogEntry = json.loads(bytes(entry_bytes))
    name = str(entry["name"])
    keys = made_from(str(catalog["homepage"]), bytes(entry_bytes).decode())
    kept = _kept_keys(store.read_bytes(layout.kept_versions_key(name))) if save else {}
    pages, documents = (
        kept.get("pages") != keys["pages"],
        kept.get("documents") != keys["documents"],
    )
    if not pages and not documents:
        return
    prefix = f"{layout.dataset_prefix(name)}/"
    made = iter(versions_documents(catalog, entry)) if documents else None
    for number in sorted(
        (str(v["version"]) for v in entry.get("versions") or []), key=SemVer.parse
    ):  # version by version, as versions_documents makes them
        if pages:
            page = render_version_page(catalog, entry, number)
            yield prefix + version_page(number), page.encode("utf-8")
        if made is not None:
            made_number, texts = next(made)
            assert made_number == number
            for path, data in texts.items():
                yield prefix + path, data
        if pages and save:
            with contextlib.suppress(ConflictError):  # written once, never changed
                store.create_derived(
                    layout.page_key(layout.version_prefix(name, number)), pointer_page(number)
                )
        elif pages:  # verify: the version's IRI answers with its pointer page
            yield layout.page_key(layout.version_prefix(name, number)), pointer_page(number)
    if pages and entry.get("latest"):
        yield layout.page_key(layout.latest_prefix(name)), pointer_page(str(entry["latest"]))
    if save:
        record = (
            layout.kept_versions_key(name),
            (json.dumps(keys, sort_keys=True) + "\n").encode("utf-8"),
        )
        if records is None:
            store.write_if_changed(*record)
        else:
            records.append(record)


def made_from(base: str, entry_text: str) -> dict[str, str]:
    """The keys a dataset's version pages and documents are made from: its catalog entry, the
    base URL and the code of each (the documents' includes the DCAT code, via fragment_key)."""
    pages = hashlib.sha256("\x00".join((PAGES_CODE, base, entry_text)).encode()).hexdigest()
    documents = hashlib.sha256(
        (DOCUMENTS_CODE + fragment_key(base, entry_text)).encode()
    ).hexdigest()
    return {"documents": documents, "pages": pages}


def _kept_keys(raw: bytes | None) -> dict[str, str]:
    """The keys a dataset's record holds; none from an older record (one key for both) or a
    damaged one, so that everything is made again."""
    if raw is None:
        return {}
    try:
        record = json.loads(raw)
    except ValueError:
        return {}
    if not isinstance(record, dict):
        return {}
    return {k: v for k, v in record.items() if isinstance(k, str) and isinstance(v, str)}
