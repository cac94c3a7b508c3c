"""What a harvester does after `make run`: fetch dcat/catalog.rdf from `opendata serve`,
validate it against the DCAT-AP 3.0.0 shapes, and download every distribution it lists."""

from __future__ import annotations

import hashlib
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyshacl import validate
from rdflib import Graph, Namespace, URIRef

from opendata.catalog import rebuild_catalog
from opendata.config import load_settings
from opendata.publish import prepare, publish_package, require_valid
from opendata.serve import make_server
from opendata.storage import LocalStore
from tests.conftest import REPO

DCAT = Namespace("http://www.w3.org/ns/dcat#")
SPDX = Namespace("http://spdx.org/rdf/terms#")
SHAPES = REPO / "tests/shapes/dcat-ap-3.0.0-SHACL.ttl"  # the official shapes, vendored
DATASETS = [
    "avfallsplan",
    "befolkning",
    "handlingsplan",
    "personbilar-drivmedel",
    "vaxthusgasutslapp",
]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("harvest")
    server = make_server(root, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    settings = load_settings(home=REPO)
    store = LocalStore(root)
    for name in DATASETS:
        publish_package(store, require_valid(prepare(settings, name)), base)
    rebuild_catalog(store, base)
    yield base
    server.shutdown()
    server.server_close()


def fetch(url: str) -> tuple[int, str, bytes]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.headers["Content-Type"], response.read()


def test_the_harvest_url_is_valid_dcat_ap_and_every_download_answers(served: str) -> None:
    status, content_type, body = fetch(f"{served}dcat/catalog.rdf")
    assert (status, content_type) == (200, "application/rdf+xml")
    graph = Graph().parse(data=body, format="xml")
    conforms, _, report = validate(
        graph, shacl_graph=str(SHAPES), inference="none", allow_warnings=True
    )
    assert conforms, report

    downloads = sorted({str(o) for o in graph.objects(None, DCAT.downloadURL)})
    assert len(downloads) > 30
    for url in downloads:
        assert url.startswith(served)
        status, _, data = fetch(url)
        assert status == 200, url
        for distribution in graph.subjects(DCAT.downloadURL, URIRef(url)):
            for checksum in graph.objects(distribution, SPDX.checksum):
                value = str(next(graph.objects(checksum, SPDX.checksumValue)))
                assert hashlib.sha256(data).hexdigest() == value, url
    for suffix, media in (("ttl", "text/turtle"), ("jsonld", "application/ld+json")):
        assert fetch(f"{served}dcat/catalog.{suffix}")[:2] == (200, media)


def test_the_private_area_is_not_served(served: str, tmp_path: Path) -> None:
    with pytest.raises(urllib.error.HTTPError) as caught:
        fetch(f"{served}_private/cache/anything.json")
    assert caught.value.code == 404
