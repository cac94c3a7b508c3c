"""The RDF vocabulary of the DCAT files: the namespaces and their prefixes, the EU authority
tables and licences we refer to, IRIs made safe from any base URL, and the triples a builder
collects. Shared by the graph builder (dcat.py), the documents (dcat_documents.py) and the pages
that link the same terms (pages.py)."""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from rdflib import Graph, Namespace, URIRef
from rdflib.term import Node

from opendata import layout
from opendata.package import DATAPACKAGE_V2, TABLESCHEMA_V2


class _Vocabulary(Namespace):
    """rdflib's Namespace whose terms are made once: `DCAT.title` made a new URIRef at every
    use, 50,000 times in a dataset of 20 versions."""

    def __getattr__(self, name: str) -> URIRef:
        return _term(self, name)


@functools.cache
def _term(namespace: Namespace, name: str) -> URIRef:
    return Namespace.__getattr__(namespace, name)


ADMS = _Vocabulary("http://www.w3.org/ns/adms#")
DCAT = _Vocabulary("http://www.w3.org/ns/dcat#")
DCATAP = _Vocabulary("http://data.europa.eu/r5r/")
DCT = _Vocabulary("http://purl.org/dc/terms/")
FOAF = _Vocabulary("http://xmlns.com/foaf/0.1/")
GSP = _Vocabulary("http://www.opengis.net/ont/geosparql#")
ODRS = _Vocabulary("http://schema.theodi.org/odrs#")
OWL = _Vocabulary("http://www.w3.org/2002/07/owl#")
RDF = _Vocabulary("http://www.w3.org/1999/02/22-rdf-syntax-ns#")
RDFS = _Vocabulary("http://www.w3.org/2000/01/rdf-schema#")
SKOS = _Vocabulary("http://www.w3.org/2004/02/skos/core#")
SPDX = _Vocabulary("http://spdx.org/rdf/terms#")
VCARD = _Vocabulary("http://www.w3.org/2006/vcard/ns#")
XSD = _Vocabulary("http://www.w3.org/2001/XMLSchema#")

PREFIXES: dict[str, Namespace] = {
    "adms": ADMS,
    "dcat": DCAT,
    "dcatap": DCATAP,
    "dct": DCT,
    "foaf": FOAF,
    "gsp": GSP,
    "odrs": ODRS,
    "owl": OWL,
    "rdf": RDF,
    "rdfs": RDFS,
    "skos": SKOS,
    "spdx": SPDX,
    "vcard": VCARD,
    "xsd": XSD,
}

DEFAULT_PUBLISHER_URI = "https://www.borasregionen.se/"
PUBLISHER_TYPE = URIRef("http://purl.org/adms/publishertype/LocalAuthority")
EU = "http://publications.europa.eu/resource/authority/"
THEME_TAXONOMY = URIRef(f"{EU}data-theme")
LANGUAGES = {"sv": URIRef(f"{EU}language/SWE"), "en": URIRef(f"{EU}language/ENG")}
PUBLIC = URIRef(f"{EU}access-right/PUBLIC")
# DCAT-AP-SE 3.0.1 (template dcatap:availability) takes the EU planned-availability table.
STABLE = URIRef(f"{EU}planned-availability/STABLE")
SHA256 = SPDX.checksumAlgorithm_sha256
# The specifications the files follow, as the descriptors name them: Data Package v2 (its
# `$schema` profiles) since the move to v2, and the v1 specifications for versions published
# before it (their descriptors and table schemas say `profile`, not `$schema`).
TABLE_SCHEMA = URIRef(TABLESCHEMA_V2)
DATA_PACKAGE = URIRef(DATAPACKAGE_V2)
TABLE_SCHEMA_V1 = URIRef("https://specs.frictionlessdata.io/table-schema/")
DATA_PACKAGE_V1 = URIRef("https://specs.frictionlessdata.io/data-package/")
# The titles DCAT-AP-SE's dcterms:Standard wants.
STANDARDS: dict[URIRef, str] = {
    DATA_PACKAGE: "Data Package 2.0 (Frictionless)",
    TABLE_SCHEMA: "Table Schema 2.0 (Frictionless)",
    DATA_PACKAGE_V1: "Frictionless Data Package (v1)",
    TABLE_SCHEMA_V1: "Frictionless Table Schema (v1)",
}
IANA = "http://www.iana.org/assignments/media-types/"

# The portal wants the licences' http IRIs exactly (the descriptors carry the https ones).
LICENSES = {
    "CC-BY-4.0": "http://creativecommons.org/licenses/by/4.0/",
    "CC0-1.0": "http://creativecommons.org/publicdomain/zero/1.0/",
}
LICENSE_LABELS = {
    "http://creativecommons.org/licenses/by/4.0/": "Creative Commons Attribution 4.0 International",
    "http://creativecommons.org/publicdomain/zero/1.0/": "CC0 1.0 Universal",
}

# EU data themes (http://publications.europa.eu/resource/authority/data-theme): sv, en labels.
THEMES: dict[str, tuple[str, str]] = {
    "AGRI": (
        "Jordbruk, fiske, skogsbruk och livsmedel",
        "Agriculture, fisheries, forestry and food",
    ),
    "ECON": ("Ekonomi och finans", "Economy and finance"),
    "EDUC": ("Utbildning, kultur och sport", "Education, culture and sport"),
    "ENER": ("Energi", "Energy"),
    "ENVI": ("Miljö", "Environment"),
    "GOVE": ("Regeringen och den offentliga sektorn", "Government and public sector"),
    "HEAL": ("Hälsa", "Health"),
    "INTR": ("Internationella frågor", "International issues"),
    "JUST": (
        "Rättvisa, rättsliga system och allmän säkerhet",
        "Justice, legal system and public safety",
    ),
    "REGI": ("Regioner och städer", "Regions and cities"),
    "SOCI": ("Befolkning och samhälle", "Population and society"),
    "TECH": ("Vetenskap och teknik", "Science and technology"),
    "TRAN": ("Transport", "Transport"),
}

# dataset.yaml's accrual_periodicity -> the EU frequency authority table.
FREQUENCIES: dict[str, tuple[str, str]] = {
    "daily": ("DAILY", "daily"),
    "weekly": ("WEEKLY", "weekly"),
    "monthly": ("MONTHLY", "monthly"),
    "quarterly": ("QUARTERLY", "quarterly"),
    "annual": ("ANNUAL", "annual"),
    "biennial": ("BIENNIAL", "biennial"),
    "irregular": ("IRREG", "irregular"),
    "continuous": ("CONT", "continuous"),
    "never": ("NEVER", "never"),
    "unknown": ("UNKNOWN", "unknown"),
}

# file format -> (EU file-type code, IRI of the IANA media type). Parquet's media type
# application/vnd.apache.parquet has the https IRI of IANA's registry page; CSV and JSON keep
# the http IRIs published from the start (harvesters compare distributions by IRI).
FORMATS: dict[str, tuple[str, str]] = {
    "CSV": ("CSV", f"{IANA}text/csv"),
    "JSON": ("JSON", f"{IANA}application/json"),
    "PARQUET": (
        "PARQUET",
        "https://www.iana.org/assignments/media-types/application/vnd.apache.parquet",
    ),
}

# adms:status from the EU distribution-status table, the one vocabulary DCAT-AP-SE 3.0.1 names
# for adms:status (template dcat:adms:status_di); the old ADMS terms (purl.org/adms/status/) are
# gone. Versions (datasets) use the same concepts: the bundle defines no other status list.
STATUS_TABLE = f"{EU}distribution-status/"
STATUS: dict[str, tuple[URIRef, str, str]] = {
    "Completed": (URIRef(f"{STATUS_TABLE}COMPLETED"), "Färdig", "Completed"),
    "Deprecated": (URIRef(f"{STATUS_TABLE}DEPRECATED"), "Avvecklad", "Deprecated"),
    "Withdrawn": (URIRef(f"{STATUS_TABLE}WITHDRAWN"), "Tillbakadragen", "Withdrawn"),
}

# The places: Boråsregionen and its member municipalities, each a dct:Location with a page on
# the site at exactly its IRI (pages.py writes `<path>index.html`), so the IRI resolves.
REGION_NAME = ("Boråsregionen (Sjuhärad)", "Borås region (Sjuhärad)")


# Files of a version that are not distributions of the data.
NOT_DISTRIBUTED = frozenset({layout.VALIDATION, layout.CHANGES})
DATAPACKAGE = layout.DESCRIPTOR

XML_INVALID = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_PCT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_SUB_DELIMS = "!$&'()*+,;="


def _quote(text: str, safe: str) -> str:
    return quote(_PCT.sub("%25", text), safe=safe + "%")


@functools.lru_cache(maxsize=1 << 16)
def iri(value: str) -> URIRef:
    """An absolute URI from a URL as configured or stored: spaces and non-ASCII percent-encoded.

    Existing %XX escapes are kept (so encoding twice changes nothing); a non-ASCII host is
    IDNA-encoded. Raises ValueError for a relative reference.
    """
    parts = urlsplit(value.strip())
    scheme = parts.scheme.lower()
    if not re.fullmatch(r"[a-z][a-z0-9+.-]*", scheme):
        raise ValueError(f"not an absolute IRI: {value!r}")
    if scheme == "mailto":
        return URIRef(f"mailto:{_quote(parts.path, '@' + _SUB_DELIMS)}")
    if not parts.netloc:
        raise ValueError(f"not an absolute IRI (no authority): {value!r}")
    netloc = parts.netloc
    if not netloc.isascii():
        host = (parts.hostname or "").encode("idna").decode("ascii")
        netloc = host if parts.port is None else f"{host}:{parts.port}"
    return URIRef(
        urlunsplit(
            (
                scheme,
                netloc,
                _quote(parts.path, "/:@" + _SUB_DELIMS),
                _quote(parts.query, "/?:@" + _SUB_DELIMS),
                _quote(parts.fragment, "/?:@" + _SUB_DELIMS),
            )
        )
    )


def license_iri(license_: dict[str, Any] | None) -> URIRef | None:
    """The licence's IRI as the portal wants it: the http form of the Creative Commons IRIs."""
    if not license_:
        return None
    name = license_.get("name")
    if isinstance(name, str) and name in LICENSES:
        return URIRef(LICENSES[name])
    path = license_.get("path")
    if not isinstance(path, str) or not path:
        return None
    if path.startswith("https://creativecommons.org/"):
        path = "http://" + path[len("https://") :]
    return iri(path)


def publisher_iri(explicit: str | None = None) -> URIRef:
    return iri(explicit or os.environ.get("OPENDATA_PUBLISHER_URI") or DEFAULT_PUBLISHER_URI)


Triple = tuple[Node, Node, Node]


class Triples:
    """The triples a builder collects, each once, in the order added. Not an rdflib Graph: the
    builder only adds and the serialiser reads them once, and a graph's indexes cost more than
    the rest of a version's document (`graph()` makes one where a caller wants rdflib's)."""

    __slots__ = ("_items",)

    def __init__(self, triples: Iterable[Triple] = ()) -> None:
        self._items: dict[Triple, None] = dict.fromkeys(triples)

    def add(self, triple: Triple) -> None:
        self._items[triple] = None

    def __iter__(self) -> Iterator[Triple]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def graph(self) -> Graph:
        graph = Graph(bind_namespaces="none")
        for prefix, namespace in sorted(DOCUMENT_PREFIXES.items()):
            graph.bind(prefix, namespace, override=True, replace=True)
        for triple in self._items:
            graph.add(triple)
        return graph


HYDRA = _Vocabulary("http://www.w3.org/ns/hydra/core#")
DOCUMENT_PREFIXES: dict[str, Namespace] = {**PREFIXES, "hydra": HYDRA}
# The documents' prefixes as text, the longest namespace first (a compact IRI takes the longest).
PREFIX_IRIS = {prefix: str(namespace) for prefix, namespace in DOCUMENT_PREFIXES.items()}
PREFIXES_LONGEST_FIRST = sorted(PREFIX_IRIS.items(), key=lambda item: -len(item[1]))

# The descriptor's own distribution: what it is, in both languages.
DATAPACKAGE_DESCRIPTION: tuple[str | None, str | None] = (
    "Frictionless Data Package: datasetets beskrivning, tabellernas scheman och länkar till "
    "filerna med deras storlek och SHA-256.",
    "Frictionless Data Package: the dataset's description, the tables' schemas and links to the "
    "files with their sizes and SHA-256.",
)
