"""data.europa.eu's Metadata Quality Assessment, per dcat:Dataset, offline.

The indicators and weights are those of the MQA methodology (piveau-metrics, the engine behind
data.europa.eu; 405 points at most). Distribution indicators count only when every distribution of
the dataset meets them (stricter than the portal, which is satisfied by some), so a dataset that
scores 405 here scores 405 there. Two inputs are the caller's: whether a URL answers (the
accessibility indicators need HTTP) and whether the graph is DCAT-AP compliant (SHACL).

Assumption to check against the portal when it changes: the non-proprietary and machine-readable
file types are taken as CSV, JSON and PARQUET (all three open, documented, parseable formats in
the EU file-type table).
"""

from __future__ import annotations

from collections.abc import Callable

from rdflib import Graph, Namespace, URIRef
from rdflib.term import Node

DCAT = Namespace("http://www.w3.org/ns/dcat#")
DCT = Namespace("http://purl.org/dc/terms/")
RDF = Namespace("http://www.w3.org/1999/02/22-rdf-syntax-ns#")

EU = "http://publications.europa.eu/resource/authority/"
FILE_TYPES = f"{EU}file-type/"
ACCESS_RIGHTS = f"{EU}access-right/"
MEDIA_TYPES = (
    "http://www.iana.org/assignments/media-types/",
    "https://www.iana.org/assignments/media-types/",
)
OPEN_FORMATS = frozenset({"CSV", "JSON", "PARQUET"})
# Licences the MQA recognises from its licence vocabulary (the EU licence table's CC entries).
KNOWN_LICENCES = frozenset(
    {
        "http://creativecommons.org/licenses/by/4.0/",
        "http://creativecommons.org/publicdomain/zero/1.0/",
    }
)
MAX = 405


def score(
    graph: Graph,
    dataset: Node,
    accessible: Callable[[str], bool],
    compliant: bool,
) -> dict[str, int]:
    """The points per indicator that `dataset` earns; their sum is at most 405."""
    dists = list(graph.objects(dataset, DCAT.distribution))

    def has(node: Node, predicate: URIRef) -> bool:
        return graph.value(node, predicate) is not None

    def every(test: Callable[[Node], bool]) -> bool:
        return bool(dists) and all(test(d) for d in dists)

    def file_type(d: Node) -> str:
        return str(graph.value(d, DCT["format"]) or "").removeprefix(FILE_TYPES)

    licence = [str(graph.value(d, DCT.license) or "") for d in dists]
    rights = str(graph.value(dataset, DCT.accessRights) or "")
    return {
        # findability
        "keywords": 30 if has(dataset, DCAT.keyword) else 0,
        "themes": 30 if has(dataset, DCAT.theme) else 0,
        "spatial": 20 if has(dataset, DCT.spatial) else 0,
        "temporal": 20 if has(dataset, DCT.temporal) else 0,
        # accessibility
        "access_url_accessible": 50
        if every(
            lambda d: has(d, DCAT.accessURL) and accessible(str(graph.value(d, DCAT.accessURL)))
        )
        else 0,
        "download_url": 20 if every(lambda d: has(d, DCAT.downloadURL)) else 0,
        "download_url_accessible": 30
        if every(lambda d: all(accessible(str(url)) for url in graph.objects(d, DCAT.downloadURL)))
        else 0,
        # interoperability
        "format": 20 if every(lambda d: has(d, DCT["format"])) else 0,
        "media_type": 10 if every(lambda d: has(d, DCAT.mediaType)) else 0,
        "format_media_type_vocabulary": 10
        if every(
            lambda d: (
                str(graph.value(d, DCT["format"]) or "").startswith(FILE_TYPES)
                and str(graph.value(d, DCAT.mediaType) or "").startswith(MEDIA_TYPES)
            )
        )
        else 0,
        "non_proprietary": 20 if every(lambda d: file_type(d) in OPEN_FORMATS) else 0,
        "machine_readable": 20 if every(lambda d: file_type(d) in OPEN_FORMATS) else 0,
        "dcat_ap_compliance": 30 if compliant else 0,
        # reusability
        "licence": 20 if dists and all(licence) else 0,
        "licence_vocabulary": 10 if dists and all(x in KNOWN_LICENCES for x in licence) else 0,
        "access_restrictions": 10 if rights else 0,
        "access_restrictions_vocabulary": 5 if rights.startswith(ACCESS_RIGHTS) else 0,
        "contact_point": 20 if has(dataset, DCAT.contactPoint) else 0,
        "publisher": 10 if has(dataset, DCT.publisher) else 0,
        # contextuality
        "rights": 5 if every(lambda d: has(d, DCT.rights)) else 0,
        "byte_size": 5 if every(lambda d: has(d, DCAT.byteSize)) else 0,
        "issued": 5 if has(dataset, DCT.issued) and every(lambda d: has(d, DCT.issued)) else 0,
        "modified": 5
        if has(dataset, DCT.modified) and every(lambda d: has(d, DCT.modified))
        else 0,
    }


def shortfalls(
    graph: Graph, accessible: Callable[[str], bool], compliant: bool
) -> dict[str, list[str]]:
    """Every dcat:Dataset that scores less than 405, with the indicators it misses."""
    missing: dict[str, list[str]] = {}
    for dataset in sorted(graph.subjects(RDF.type, DCAT.Dataset), key=str):
        points = score(graph, dataset, accessible, compliant)
        assert sum(WEIGHTS.values()) == MAX
        lost = [name for name, value in points.items() if value < WEIGHTS[name]]
        if lost:
            missing[str(dataset)] = lost
    return missing


WEIGHTS = {
    "keywords": 30,
    "themes": 30,
    "spatial": 20,
    "temporal": 20,
    "access_url_accessible": 50,
    "download_url": 20,
    "download_url_accessible": 30,
    "format": 20,
    "media_type": 10,
    "format_media_type_vocabulary": 10,
    "non_proprietary": 20,
    "machine_readable": 20,
    "dcat_ap_compliance": 30,
    "licence": 20,
    "licence_vocabulary": 10,
    "access_restrictions": 10,
    "access_restrictions_vocabulary": 5,
    "contact_point": 20,
    "publisher": 10,
    "rights": 5,
    "byte_size": 5,
    "issued": 5,
    "modified": 5,
}
