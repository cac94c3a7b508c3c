"""The gather stage of ckanext-dcat's RDF harvester (DCATRDFHarvester), run by the interpreter
of a virtualenv with CKAN 2.12.0 and ckanext-dcat 2.4.4 from PyPI (tests/catalog/test_ckan_harvest.py
builds it): `python tests/ckan_gather.py URL STATE.json` prints one JSON object.

It follows ckanext/dcat/harvesters/rdf.py of 2.4.4 step by step, with the real RDFParser
(`euro_dcat_ap_3` profile, what a CKAN 2.12 portal configures for DCAT-AP 3): fetch the page,
parse it, make a CKAN dataset of every dcat:Dataset subject (`parser.datasets()`), give each the
harvester's guid (`_get_guid`: the dataset's URI, else its identifier, else its name), follow
`parser.next_page()` until there is none (or the same page comes back), then mark for deletion
every guid the previous harvest had that this one did not find (`_mark_datasets_for_deletion`).
What it leaves out needs CKAN's database: storing the harvest objects, and `package_create`.
STATE.json holds the guids of the previous harvest (a list; missing: the first harvest) and
is rewritten with this harvest's.
"""

from __future__ import annotations

import hashlib
import json
import sys
import urllib.request
from pathlib import Path
from typing import Any

from ckanext.dcat.processors import RDFParser  # type: ignore[import-not-found, unused-ignore]

FORMATS = {"rdf": "xml", "ttl": "turtle", "jsonld": "json-ld"}


def get_guid(dataset: dict[str, Any], source_url: str) -> str | None:
    """DCATRDFHarvester._get_guid."""
    for key in ("uri", "identifier"):
        if dataset.get(key):
            return str(dataset[key])
        for extra in dataset.get("extras", []):
            if extra["key"] in (key, "dcat_" + key) and extra["value"]:
                return str(extra["value"])
    if dataset.get("name"):
        return source_url.rstrip("/") + "/" + str(dataset["name"])
    return None


def extra(dataset: dict[str, Any], key: str) -> Any:
    """A field of the CKAN dataset, at its root or in its extras (DCATRDFHarvester.
    _get_dict_value), a list kept as JSON text in the extras decoded."""
    if key in dataset:
        return dataset[key]
    value = next((e["value"] for e in dataset.get("extras", []) if e["key"] == key), None)
    if isinstance(value, str) and value.startswith("["):
        return json.loads(value)
    return value


def gather(url: str, previous: list[str] | None) -> dict[str, Any]:
    source_url = url
    next_page: str | None = url
    last_hash = None
    records: list[dict[str, Any]] = []
    names: list[str] = []
    pages = 0
    while next_page:
        with urllib.request.urlopen(next_page, timeout=30) as response:
            content = response.read().decode("utf-8")
        digest = hashlib.md5(content.encode("utf-8")).digest()
        if last_hash is not None and digest == last_hash:
            break  # "Remote content was the same even when using a paginated URL"
        last_hash = last_hash or digest
        pages += 1
        parser = RDFParser(profiles=["euro_dcat_ap_3"])
        parser.parse(content, _format=FORMATS[next_page.rsplit(".", 1)[-1]])
        for dataset in parser.datasets():
            name = dataset.get("name") or dataset["title"]
            if name in names:
                name = f"{name}-{len([n for n in names if n.startswith(name + '-')]) + 1}"
            names.append(name)
            guid = get_guid(dataset, source_url)
            records.append(
                {
                    "guid": guid,
                    "title": dataset.get("title"),
                    "version": extra(dataset, "version"),
                    "has_version": extra(dataset, "has_version"),
                    "resources": len(dataset.get("resources", [])),
                    "spatial_uri": extra(dataset, "spatial_uri"),
                    "spatial_text": extra(dataset, "spatial_text"),
                    "spatial_bbox": extra(dataset, "spatial_bbox"),
                    "contact_email": extra(dataset, "contact_email"),
                }
            )
        next_page = parser.next_page()
    found = [str(record["guid"]) for record in records]
    deleted = sorted(set(previous or []) - set(found))
    return {"pages": pages, "records": records, "deleted": deleted}


def main() -> None:
    url, state_path = sys.argv[1], Path(sys.argv[2])
    previous = json.loads(state_path.read_text("utf-8")) if state_path.exists() else None
    result = gather(url, previous)
    state_path.write_text(json.dumps([r["guid"] for r in result["records"]]), "utf-8")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
