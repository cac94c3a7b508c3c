"""What a harvester does after `make run`: fetch dcat/catalog.rdf from `opendata serve`,
validate it against the DCAT-AP 3.0.0 shapes, and download every distribution it lists."""

from __future__ import annotations

import hashlib
import html
import re
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyshacl import validate
from rdflib import Graph, Literal, Namespace, URIRef

from opendata.catalog import rebuild_catalog
from opendata.config import load_settings
from opendata.municipalities import MEMBERS
from opendata.preparing import prepare, require_valid
from opendata.publish import publish_package
from opendata.serve import make_server
from opendata.storage import LocalStore
from tests import mqa
from tests.conftest import FIXTURE_HOME, OFFLINE_DATASETS, REPO

DCAT = Namespace("http://www.w3.org/ns/dcat#")
DCT = Namespace("http://purl.org/dc/terms/")
RDF = Namespace("http://www.w3.org/1999/02/22-rdf-syntax-ns#")
SKOS = Namespace("http://www.w3.org/2004/02/skos/core#")
SPDX = Namespace("http://spdx.org/rdf/terms#")
SHAPES = REPO / "tests/shapes/dcat-ap-3.0.0-SHACL.ttl"  # the official shapes, vendored
DATASETS = OFFLINE_DATASETS


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("harvest")
    server = make_server(root, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    settings = load_settings(home=FIXTURE_HOME)
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


def test_every_location_iri_answers_with_its_page(served: str) -> None:
    """DCAT-AP-SE wants the places' IRIs to resolve: the region and every municipality the graph
    names answer 200 with their page from `opendata serve`, the name on it escaped."""
    graph = Graph().parse(data=fetch(f"{served}dcat/catalog.rdf")[2], format="xml")
    places = set(graph.subjects(RDF.type, DCT.Location))
    assert URIRef(f"{served}region/") in places
    assert {URIRef(f"{served}kommuner/{code}/") for code in MEMBERS} <= places
    for place in sorted(places):
        status, content_type, body = fetch(str(place))
        assert (status, content_type.split(";")[0]) == (200, "text/html"), place
        (label,) = (
            str(o)
            for o in graph.objects(place, SKOS.prefLabel)
            if isinstance(o, Literal) and o.language == "sv"
        )
        assert f"<h1>{html.escape(label)}</h1>" in body.decode("utf-8"), place
    # the IRI without its slash (as published before) is redirected to the page
    status, _, body = fetch(f"{served}kommuner/1490")
    assert status == 200 and b"<h1>Bor\xc3\xa5s</h1>" in body


def test_every_dataset_scores_full_marks_over_http(served: str) -> None:
    """data.europa.eu's MQA, with the accessibility indicators asked of the running server."""
    graph = Graph().parse(data=fetch(f"{served}dcat/catalog.rdf")[2], format="xml")
    answers: dict[str, bool] = {}

    def accessible(url: str) -> bool:
        if url not in answers:
            try:
                answers[url] = fetch(url)[0] == 200
            except urllib.error.URLError:
                answers[url] = False
        return answers[url]

    conforms, _, _ = validate(graph, shacl_graph=str(SHAPES), inference="none")
    assert len(set(graph.subjects(RDF.type, DCAT.Dataset))) == len(DATASETS)  # one record each
    assert mqa.shortfalls(graph, accessible, compliant=bool(conforms)) == {}


def alternate(page: bytes, base: str, kind: str) -> str:
    """The address of a page's `<link rel="alternate" type=kind>`, made absolute."""
    match = re.search(
        rf'<link rel="alternate" type="{re.escape(kind)}" href="([^"]+)">', page.decode()
    )
    assert match, kind
    return urllib.parse.urljoin(base, html.unescape(match.group(1)))


def test_every_iri_in_the_graph_answers(served: str) -> None:
    """Issue 18, item 2: every IRI the harvest page and the versions' documents name below the
    base URL answers 200 from `opendata serve`: the records, each version's IRI and `latest/`
    (a page, its RDF a linked alternate that describes the version in full), the versions'
    pages and files, the places. Each version's document scores 405 too."""
    graph = Graph().parse(data=fetch(f"{served}dcat/catalog.rdf")[2], format="xml")
    versions = set(graph.objects(None, DCT.hasVersion))
    assert len(versions) == len(DATASETS)
    everything = Graph()
    everything += graph
    for version in sorted(versions):
        status, content_type, page = fetch(str(version))
        assert (status, content_type.split(";")[0]) == (200, "text/html"), version
        # a browser is sent on to the version's page beside the folder
        target = alternate(page, str(version), "text/html")
        assert target == str(version).rstrip("/") + ".html"
        assert b"<h1>" in fetch(target)[2]
        turtle = alternate(page, str(version), "text/turtle")
        document = Graph().parse(data=fetch(turtle)[2], format="turtle")
        assert (version, RDF.type, DCAT.Dataset) in document
        dataset = URIRef(str(version).rsplit("/", 2)[0] + "/")
        assert (dataset, DCAT.hasVersion, version) in document
        everything += document
        latest = fetch(f"{dataset}latest/")
        assert latest[0] == 200 and alternate(latest[2], f"{dataset}latest/", "text/turtle") == (
            turtle
        )
    iris = {
        str(term).split("#", 1)[0]
        for triple in everything
        for term in triple
        if isinstance(term, URIRef) and str(term).startswith(served)
    }
    assert len(iris) > 60
    for address in sorted(iris):
        assert fetch(address)[0] == 200, address

    answers: dict[str, bool] = {}

    def accessible(url: str) -> bool:
        if url not in answers:
            try:
                answers[url] = fetch(url)[0] == 200
            except urllib.error.URLError:
                answers[url] = False
        return answers[url]

    for version in versions:
        assert sum(mqa.score(everything, version, accessible, True).values()) == mqa.MAX
