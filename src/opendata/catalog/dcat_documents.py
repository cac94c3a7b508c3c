"""The DCAT documents as files: each dataset's triples serialised once per syntax (a fragment,
cached in the store), joined as text after the catalog's own small graph, paged with Hydra past
PAGE_SIZE datasets, and each version's own documents. The graph itself is dcat.py's."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pyoxigraph as ox
import rdflib
from rdflib import Literal, URIRef
from rdflib.term import Node

from opendata import layout
from opendata.catalog.dcat import (
    GraphBuilder,
    catalog_dates,
    compact_node,
    version_of,
    version_triples,
    versions_in_order,
)
from opendata.catalog.vocabulary import (
    DCAT,
    DOCUMENT_PREFIXES,
    HYDRA,
    PREFIX_IRIS,
    RDF,
    XSD,
    Triple,
    Triples,
    iri,
    publisher_iri,
)
from opendata.errors import ConfigError
from opendata.layout import version_page
from opendata.state import Catalog, CatalogEntry


def version_documents(
    catalog: Catalog, entry: CatalogEntry, number: str, publisher: str | None = None
) -> dict[str, bytes]:
    """The version's document in the three syntaxes, by the path beside the dataset's page
    (`<version>.rdf`, `.ttl`, `.jsonld`), in sorted order: the same entry gives the same bytes."""
    return _documents(number, _serialize(version_triples(catalog, entry, number, publisher)))


def versions_documents(
    catalog: Catalog, entry: CatalogEntry, publisher: str | None = None
) -> Iterator[tuple[str, dict[str, bytes]]]:
    """Every version's `version_documents` (the same bytes), made together: what the versions
    share (the publisher, and `describe`'s contact point, places, themes, period, ...) is built
    and converted once for the dataset, not once a version."""
    agent = publisher_iri(publisher)
    shared = GraphBuilder(catalog, agent)
    shared.add_publisher(str(entry.get("publisher") or catalog.get("publisher") or ""))
    home = f"{shared.base}{layout.dataset_prefix(str(entry['name']))}/"
    stand_in = URIRef(f"{home}#version")  # the node describe's statements are made on
    shared.describe(stand_in, entry, home)
    described = [(URIRef(str(p)), o) for s, p, o in shared.graph if s == stand_in]
    terms = _ox_triples(t for t in shared.graph if t[0] != stand_in)
    made: dict[tuple[ox.Triple, ...], str] = {}  # the terms' JSON-LD nodes, made once
    for version, previous in versions_in_order(entry):
        builder = GraphBuilder(catalog, agent)
        builder.described = described
        version_of(builder, entry, version, previous)
        number = str(version["version"])
        yield number, _documents(number, _serialize(builder.graph, terms, made=made))


def _documents(number: str, texts: _Texts) -> dict[str, bytes]:
    stem = version_page(number).removesuffix(".html")
    return {
        f"{stem}.rdf": texts.xml.encode("utf-8"),
        f"{stem}.ttl": texts.turtle.encode("utf-8"),
        f"{stem}.jsonld": _join_jsonld(texts.jsonld, []).encode("utf-8"),
    }


# -- documents joined from per-dataset fragments ----------------------------------------------
#
# A catalog of 10,000 datasets × 20 versions is some 15 million triples: no graph of it fits in
# memory, and re-serialising it on every publish would cost minutes. So each dataset's own
# triples (every subject below `{base}datasets/<name>/`) are serialised once, in each
# syntax — a *fragment* — and the documents are those fragments joined as text after a small
# graph of their own: the catalog node, its dcat:dataset links, the shared vocabulary terms the
# datasets refer to (licences, themes, places, ...) and, when paged, the Hydra paging node. The
# three syntaxes all allow a subject to be described in several places, and every fragment is
# written with the same fixed prefixes, so joining is exact: the result parses to the same graph
# as the one graph would be.
#
# The triples are built with rdflib's terms (its literals give the lexical forms) and written by
# Oxigraph's serialisers (pyoxigraph): rdflib's took 30 ms for one version's document in the
# three syntaxes, most of a catalog build at 10,000 datasets × 20 versions; Oxigraph's, 2 ms.

_FRAGMENT_FORMAT = 2  # 2: written by Oxigraph
# Fragments are cached in the store; a change to these modules (or to rdflib or pyoxigraph) makes
# every cached fragment stale, without anyone having to remember to bump a number.
# The modules that decide a fragment's bytes: the vocabulary, the graph and these documents.
_MADE_BY = ("vocabulary.py", "dcat.py", "dcat_documents.py")
CODE = hashlib.sha256(
    b"".join((Path(__file__).parent / name).read_bytes() for name in _MADE_BY)
    + rdflib.__version__.encode("ascii")
    + ox.__version__.encode("ascii")
).hexdigest()

_SYNTAXES = ("xml", "turtle", "json-ld")

# Past this many datasets the catalog is offered as pages (Hydra), 50 datasets a page, with
# `dcat/catalog.rdf` (and .ttl, .jsonld) the first page: the harvest URL does not change. A
# dataset of 20 versions is 21 dcat:Datasets of some 110 kB of RDF/XML, so a page is about 5 MB
# (1,000 dcat:Datasets): what a harvester fetches in one request, and what a publish rewrites.
PAGE_SIZE = 50


def page_size() -> int:
    """PAGE_SIZE, or OPENDATA_CATALOG_PAGE_SIZE for a portal that wants other pages."""
    raw = os.environ.get("OPENDATA_CATALOG_PAGE_SIZE", "").strip()
    if not raw:
        return PAGE_SIZE
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigError(
            f"OPENDATA_CATALOG_PAGE_SIZE must be a whole number above 0 (datasets on a page of "
            f"the DCAT catalog), not {raw!r}"
        )
    return int(raw)


@dataclass(frozen=True)
class DatasetRdf:
    """One dataset's own triples in each syntax, and the shared terms it refers to."""

    key: str  # what it was made from (see fragment_key): a stale fragment is never used
    xml: str  # rdf:Description elements
    turtle: str  # Turtle statements without prefixes
    jsonld: tuple[str, ...]  # node objects, indented for the @graph list
    shared: tuple[str, ...]  # N-Triples lines of the triples about shared terms

    def record(self) -> dict[str, Any]:
        return {"format": _FRAGMENT_FORMAT, **asdict(self)}

    @classmethod
    def from_record(cls, record: Any) -> DatasetRdf | None:
        """The fragment in a stored record, or None when the record is not one we can use."""
        if not isinstance(record, dict) or record.get("format") != _FRAGMENT_FORMAT:
            return None
        try:
            return cls(
                key=str(record["key"]),
                xml=str(record["xml"]),
                turtle=str(record["turtle"]),
                jsonld=tuple(str(node) for node in record["jsonld"]),
                shared=tuple(str(line) for line in record["shared"]),
            )
        except (KeyError, TypeError):
            return None


def fragment_key(base: str, entry_text: str, publisher: str | None = None) -> str:
    """What a dataset's fragment depends on: its catalog entry, the base URL, the publisher IRI
    and this module's code."""
    parts = (CODE, base, str(publisher_iri(publisher)), entry_text)
    return hashlib.sha256("\x00".join(parts).encode("utf-8")).hexdigest()


def dataset_rdf(
    catalog: Catalog, entry: CatalogEntry, key: str = "", publisher: str | None = None
) -> DatasetRdf:
    """The fragment of one dataset (`catalog` gives the base URL: its datasets are not read)."""
    builder = GraphBuilder(catalog, publisher_iri(publisher))
    builder.dataset(entry)
    own_prefix = str(iri(f"{builder.base}{layout.dataset_prefix(str(entry['name']))}/"))
    own: list[Triple] = []
    shared: list[Triple] = []
    for triple in builder.graph:
        subject = str(triple[0])
        (own if subject.startswith(own_prefix) else shared).append(triple)
    texts = _serialize(own)
    shared_text = _ox_text(_ox_triples(shared), ox.RdfFormat.N_TRIPLES)
    shared_lines = sorted({line for line in shared_text.splitlines() if line})
    return DatasetRdf(
        key=key,
        xml=_xml_body(texts.xml),
        turtle=_turtle_body(texts.turtle),
        jsonld=texts.jsonld,
        shared=tuple(shared_lines),
    )


# Oxigraph's RDF/XML declares the ITS namespace (for rdf:dir) in every document.
_XML_NAMESPACES = {**PREFIX_IRIS, "its": "http://www.w3.org/2005/11/its"}
_XSD_STRING = str(XSD.string)


@functools.lru_cache(maxsize=1 << 16)
def _ox_term(term: Node) -> ox.NamedNode | ox.Literal:
    """rdflib's term as Oxigraph's (IRIs and literals: the graphs have no blank nodes)."""
    if isinstance(term, URIRef):
        return ox.NamedNode(str(term))
    if isinstance(term, Literal):
        if term.language:
            return ox.Literal(str(term), language=term.language)
        if term.datatype is not None and str(term.datatype) != _XSD_STRING:
            return ox.Literal(str(term), datatype=ox.NamedNode(str(term.datatype)))
        return ox.Literal(str(term))
    raise TypeError(f"the DCAT graphs hold IRIs and literals only, not {term!r}")


def _ox_triples(triples: Iterable[Triple]) -> list[ox.Triple]:
    """The triples as Oxigraph's, each once, sorted (as N-Triples lines): the same triples give
    the same bytes, and a subject's statements stand together."""
    converted = {ox.Triple(_ox_iri(s), _ox_iri(p), _ox_term(o)) for s, p, o in triples}
    return sorted(converted, key=str)


def _ox_iri(term: Node) -> ox.NamedNode:
    named = _ox_term(term)
    if not isinstance(named, ox.NamedNode):
        raise TypeError(f"a subject or predicate is an IRI, not {term!r}")
    return named


def _ox_text(triples: Iterable[ox.Triple], syntax: ox.RdfFormat) -> str:
    return (ox.serialize(triples, format=syntax, prefixes=PREFIX_IRIS) or b"").decode("utf-8")


@dataclass(frozen=True)
class _Texts:
    """Triples as written: RDF/XML and Turtle documents, and the JSON-LD node objects (each a
    line, see _jsonld_lines) that _join_jsonld makes a document of."""

    xml: str = ""
    turtle: str = ""
    jsonld: tuple[str, ...] = ()


def _serialize(
    triples: Iterable[Triple],
    parsed: Iterable[ox.Triple] = (),
    syntaxes: Iterable[str] = _SYNTAXES,
    made: dict[tuple[ox.Triple, ...], str] | None = None,
) -> _Texts:
    """The triples (and `parsed`, already Oxigraph's) in each of `syntaxes`, with our prefixes
    (`made`: see _jsonld_lines)."""
    ordered = sorted({*_ox_triples(triples), *parsed}, key=str)
    wanted = set(syntaxes)
    return _Texts(
        xml=_ox_text(ordered, ox.RdfFormat.RDF_XML) if "xml" in wanted else "",
        turtle=_ox_text(ordered, ox.RdfFormat.TURTLE) if "turtle" in wanted else "",
        jsonld=_jsonld_lines(ordered, made) if "json-ld" in wanted else (),
    )


_XMLNS = re.compile(r'xmlns:([A-Za-z0-9_.-]+)="([^"]*)"')


def _xml_body(text: str) -> str:
    """The rdf:Description elements of an RDF/XML document rdflib wrote, which may use no
    namespace prefix but ours (the joined document declares exactly those)."""
    start = text.index("<rdf:RDF")
    end = text.index(">", start)
    for prefix, namespace in _XMLNS.findall(text[start:end]):
        if _XML_NAMESPACES.get(prefix, "") != namespace:
            raise ValueError(f"RDF/XML fragment uses an undeclared namespace {namespace}")
    body = text[end + 1 : text.rindex("</rdf:RDF>")]
    return body.strip("\n") + "\n" if body.strip() else ""


def _turtle_body(text: str) -> str:
    """The statements of a Turtle document rdflib wrote, without its @prefix lines (the joined
    document declares all of ours)."""
    lines = text.splitlines(keepends=True)
    body_from = 0
    for number, line in enumerate(lines):
        if line.startswith("@prefix"):
            prefix, namespace = line.split()[1].rstrip(":"), line.split()[2].strip("<>")
            if str(DOCUMENT_PREFIXES.get(prefix, "")) != namespace:
                raise ValueError(f"Turtle fragment uses an undeclared prefix {prefix}")
            body_from = number + 1
        elif line.strip():
            break
    body = "".join(lines[body_from:]).strip("\n")
    return body + "\n" if body else ""


def _jsonld_lines(
    ordered: Iterable[ox.Triple], made: dict[tuple[ox.Triple, ...], str] | None = None
) -> tuple[str, ...]:
    """The triples (sorted: a subject's statements together) as JSON-LD node objects with our
    prefixes, sorted by @id, each as it stands in a document's @graph list: what Oxigraph's
    expanded JSON-LD, compacted by compact_node, gives, without writing and parsing it.
    `made` keeps the lines made, by their triples, for the next document (the terms that
    a dataset's versions share)."""
    groups: dict[str, list[ox.Triple]] = {}
    for triple in ordered:
        if not isinstance(triple.subject, ox.NamedNode):
            raise TypeError(f"the DCAT graphs have no blank nodes: {triple}")
        subject = triple.subject.value
        group = groups.get(subject)
        if group is None:
            groups[subject] = [triple]
        else:
            group.append(triple)
    lines = []
    for subject in sorted(groups):
        statements = tuple(groups[subject])
        line = None if made is None else made.get(statements)
        if line is None:
            line = _jsonld_line(subject, statements)
            if made is not None:
                made[statements] = line
        lines.append(line)
    return tuple(lines)


def _jsonld_line(subject: str, statements: Iterable[ox.Triple]) -> str:
    node: dict[str, list[dict[str, str]]] = {}
    for triple in statements:
        obj = triple.object
        value: dict[str, str]
        if isinstance(obj, ox.NamedNode):
            value = {"@id": obj.value}
        elif not isinstance(obj, ox.Literal):
            raise TypeError(f"the DCAT graphs hold IRIs and literals only: {triple}")
        elif obj.language:
            value = {"@language": obj.language, "@value": obj.value}
        elif obj.datatype.value != _XSD_STRING:
            value = {"@type": obj.datatype.value, "@value": obj.value}
        else:
            value = {"@value": obj.value}
        values = node.get(triple.predicate.value)
        if values is None:
            node[triple.predicate.value] = [value]
        else:
            values.append(value)
    compact: dict[str, Any] = {"@id": subject}
    compact.update(compact_node(node))
    # one line a node: json's C encoder (indent= takes the pure-Python one, 10 times slower)
    return "    " + json.dumps(compact, sort_keys=True, ensure_ascii=False)


@dataclass(frozen=True)
class Paging:
    """Where one page stands among the catalog's pages."""

    number: int  # 1 is the first page: dcat/catalog.*
    count: int  # pages in all
    total: int  # datasets in all
    size: int  # datasets a page


def page_count(datasets: int, size: int) -> int:
    return max(1, -(-datasets // size))


def catalog_pages(
    catalog: Catalog,
    dates: tuple[str | None, str | None],
    names: list[str],
    fragments: dict[str, DatasetRdf],
    paging: Paging | None,
    publisher: str | None = None,
) -> dict[str, bytes]:
    """One page of the catalog (the whole catalog when `paging` is None) in the three syntaxes.

    `names` are the page's datasets in order, `fragments` their fragments. The catalog's dates
    are on the first page only, so that a change to one dataset rewrites its page and the
    first, not every page.
    """
    builder = GraphBuilder(catalog, publisher_iri(publisher))
    first = paging is None or paging.number == 1
    node = builder.describe_catalog(*(dates if first else (None, None)))
    graph = builder.graph
    for name in names:
        graph.add((node, DCAT.dataset, iri(f"{builder.base}{layout.dataset_prefix(name)}/")))
    shared = sorted({line for name in names for line in fragments[name].shared})
    parsed = [
        ox.Triple(quad.subject, quad.predicate, quad.object)
        for quad in ox.parse("\n".join(shared) + "\n", format=ox.RdfFormat.N_TRIPLES)
    ]
    files: dict[str, bytes] = {}
    for syntax in _SYNTAXES:
        page_graph = graph
        if paging is not None:
            page_graph = Triples(graph)
            _add_paging(page_graph, builder.base, paging, syntax)
        texts = _serialize(page_graph, parsed, [syntax])
        parts = [fragments[name] for name in names]
        if syntax == "xml":
            text = _join_xml(texts.xml, [part.xml for part in parts])
        elif syntax == "turtle":
            text = _join_turtle(texts.turtle, [part.turtle for part in parts])
        else:
            text = _join_jsonld(texts.jsonld, [n for part in parts for n in part.jsonld])
        files[layout.dcat_page_key(paging.number if paging else 1, syntax)] = text.encode("utf-8")
    return files


def _add_paging(graph: Triples, base: str, paging: Paging, syntax: str) -> None:
    """The Hydra paging node of a page, in both vocabularies harvesters read: the current
    PartialCollectionView (next, previous, first, last as IRIs) and the older PagedCollection
    (nextPage, ... as literals), which ckanext-dcat and piveau (data.europa.eu) look for first;
    piveau also wants hydra:totalItems on the page."""
    page = iri(base + layout.dcat_page_key(paging.number, syntax))
    graph.add((page, RDF.type, HYDRA.PartialCollectionView))
    graph.add((page, RDF.type, HYDRA.PagedCollection))
    graph.add((page, HYDRA.totalItems, Literal(paging.total, datatype=XSD.integer)))
    graph.add((page, HYDRA.itemsPerPage, Literal(paging.size, datatype=XSD.integer)))
    links = {
        (HYDRA.first, HYDRA.firstPage): 1,
        (HYDRA.last, HYDRA.lastPage): paging.count,
        (HYDRA.next, HYDRA.nextPage): paging.number + 1 if paging.number < paging.count else None,
        (HYDRA.previous, HYDRA.previousPage): paging.number - 1 if paging.number > 1 else None,
    }
    for (current, older), number in links.items():
        if number is not None:
            target = str(iri(base + layout.dcat_page_key(number, syntax)))
            graph.add((page, current, URIRef(target)))
            graph.add((page, older, Literal(target)))
    graph.add((iri(base + "#catalog"), HYDRA.view, page))


def _join_xml(document: str, bodies: list[str]) -> str:
    own = _xml_body(document)
    declarations = "".join(
        f'   xmlns:{prefix}="{namespace}"\n'
        for prefix, namespace in sorted(_XML_NAMESPACES.items())
    )
    head = document[: document.index("<rdf:RDF")] + "<rdf:RDF\n" + declarations + ">\n"
    return head + own + "".join(bodies) + "</rdf:RDF>\n"


def _join_turtle(document: str, bodies: list[str]) -> str:
    prefixes = "".join(
        f"@prefix {prefix}: <{namespace}> .\n"
        for prefix, namespace in sorted(DOCUMENT_PREFIXES.items())
    )
    return prefixes + "".join("\n" + body for body in [_turtle_body(document), *bodies] if body)


def _join_jsonld(own: Sequence[str], nodes: list[str]) -> str:
    """A JSON-LD document of node lines (_jsonld_lines): `own`, then `nodes`."""
    context = {prefix: str(ns) for prefix, ns in sorted(DOCUMENT_PREFIXES.items())}
    head = json.dumps({"@context": context, "@graph": []}, indent=2, sort_keys=True)
    items = [*own, *nodes]
    if not items:
        return head + "\n"
    assert head.endswith("[]\n}")
    return head[: -len("[]\n}")] + "[\n" + ",\n".join(items) + "\n  ]\n}\n"


def dcat_files(catalog: Catalog, size: int | None = None) -> dict[str, bytes]:
    """Every DCAT document for the catalog.json document `catalog`, built in memory (the
    publish path keeps the fragments in the store instead: catalog/build.py)."""
    datasets = sorted(catalog.get("datasets", []), key=lambda entry: str(entry["name"]))
    harvested = [entry for entry in datasets if entry.get("latest")]  # see GraphBuilder.dataset
    fragments = {str(entry["name"]): dataset_rdf(catalog, entry) for entry in harvested}
    names = list(fragments)
    dates = catalog_dates(datasets)
    size = size or page_size()
    files: dict[str, bytes] = {}
    if len(names) <= size:
        return catalog_pages(catalog, dates, names, fragments, None)
    count = page_count(len(names), size)
    for number in range(1, count + 1):
        chunk = names[(number - 1) * size : number * size]
        files.update(
            catalog_pages(catalog, dates, chunk, fragments, Paging(number, count, len(names), size))
        )
    return files
