"""catalog.json and index.html, rebuilt from every dataset's versions.json in the store.

Both are pure functions of the store's pointers and descriptors (no clock), so a run that
publishes nothing new produces identical bytes and writes nothing.
"""

from __future__ import annotations

import json
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from opendata.errors import ConflictError
from opendata.package import DESCRIPTOR, dump_json
from opendata.publish import semver
from opendata.storage import Store

CATALOG = "catalog.json"
LISTED = ("published", "withdrawn")  # claims of runs in progress or abandoned are not listed
INDEX = "index.html"
PUBLISHER = "Boråsregionen, Sjuhärads kommunalförbund"


def _datasets_in_store(store: Store) -> list[str]:
    names = set()
    for key in store.list("datasets"):
        parts = key.split("/")
        if len(parts) == 3 and parts[2] == "versions.json":
            names.add(parts[1])
    return sorted(names)


def build_catalog(store: Store, base_url: str) -> dict[str, Any]:
    """The catalog.json document (URLs absolute from `base_url`)."""
    entries = []
    for name in _datasets_in_store(store):
        raw = store.read_bytes(f"datasets/{name}/versions.json")
        if raw is None:
            continue
        history = json.loads(raw)
        latest = history.get("latest")
        descriptor: dict[str, Any] = {}
        if latest:
            found = store.read_bytes(f"datasets/{name}/{latest}/{DESCRIPTOR}")
            descriptor = json.loads(found) if found else {}
        english = descriptor.get("translations", {}).get("en", {})
        entries.append(
            {
                "name": name,
                "title": descriptor.get("title", name),
                "title_en": english.get("title"),
                "description": descriptor.get("description"),
                "description_en": english.get("description"),
                "themes": descriptor.get("themes", []),
                "license": (descriptor.get("licenses") or [{}])[0].get("name"),
                "latest": latest,
                "datapackage": f"{base_url}datasets/{name}/latest/{DESCRIPTOR}",
                "formats": sorted({r["format"].upper() for r in descriptor.get("resources", [])}),
                "versions": [
                    {
                        "version": v["version"],
                        "datapackage": f"{base_url}datasets/{name}/{v['datapackage']}",
                        "published": v["published"],
                        "status": v["status"],
                        "rows": v.get("rows", {}),
                        "bump": v.get("bump"),
                        "changes": v.get("summary"),
                        **(
                            {"withdrawn": v["withdrawn"], "reason": v["reason"]}
                            if v["status"] == "withdrawn"
                            else {}
                        ),
                    }
                    for v in sorted(
                        (v for v in history.get("versions", []) if v["status"] in LISTED),
                        key=lambda v: semver(v["version"]),
                        reverse=True,
                    )
                ],
            }
        )
    return {
        "title": "Boråsregionens öppna data",
        "title_en": "Open data of Boråsregionen",
        "publisher": PUBLISHER,
        "homepage": base_url,
        "datasets": entries,
    }


def render_index(catalog: dict[str, Any]) -> str:
    environment = Environment(
        loader=PackageLoader("opendata", "templates"),
        autoescape=select_autoescape(["html"]),
        keep_trailing_newline=True,
    )
    return environment.get_template("index.html").render(catalog=catalog)


def rebuild_catalog(store: Store, base_url: str, attempts: int = 5) -> list[str]:
    """Write catalog.json and index.html where their content changed; the keys written.

    Both are derived from the pointers, so when another publisher changed them between our
    read and our write (a lost compare-and-swap) we derive them again from the newer pointers.
    """
    for attempt in range(1, attempts + 1):
        catalog = build_catalog(store, base_url)
        written = []
        try:
            if store.write_if_changed(CATALOG, dump_json(catalog)):
                written.append(CATALOG)
            if store.write_if_changed(INDEX, render_index(catalog).encode("utf-8")):
                written.append(INDEX)
        except ConflictError:
            if attempt == attempts:
                raise
            continue
        return written
    raise AssertionError("unreachable")  # pragma: no cover
