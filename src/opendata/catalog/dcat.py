"""The DCAT-AP-SE / DCAT-AP 3 harvest files, from catalog.json alone (graphs built with rdflib
terms, written by Oxigraph's serialisers).

`dcat_files(catalog)` returns `dcat/catalog.rdf` (RDF/XML: what Sveriges dataportal harvests),
`dcat/catalog.ttl` and `dcat/catalog.jsonld`: the same graph in three syntaxes. Nothing here reads
a clock, the store or the network: the same catalog.json gives the same bytes (triples are
inserted in sorted order into an insertion-ordered store, Turtle sorts itself, the JSON-LD nodes
and values are sorted), so `write_if_changed` rewrites the files only when the metadata changes.

Identifiers. Every node is an IRI (no blank nodes, so harvesters can diff runs) built from
OPENDATA_BASE_URL, percent-encoded where the base URL has spaces or non-ASCII characters:

- catalog `{base}#catalog`; its foaf:homepage is `{base}` (the human index page);
- dataset `{base}datasets/<name>/`: one IRI per dataset that never changes across versions;
  its dcat:landingPage is the dataset's page `{base}datasets/<name>/index.html` (the file
  itself, so it also resolves on an S3 bucket without website hosting, and the landing page is
  not the dataset IRI);
- contact point `#contact-point` (one type, vcard:Organization: DIGG allows one), its place
  `#spatial` (when it is neither the region nor one municipality), period of time `#temporal`,
  rights statement `#rights`,
  provenance `#provenance` and the latest distributions `#distribution-<file>`, all fragments
  of the dataset IRI;
- version `{base}datasets/<name>/<version>/`, its distributions `#distribution-<file>` and the
  checksums of its (immutable) files `#checksum-<file>`: the latest distributions share the
  checksum node of the latest version's file, which has the same bytes;
- places: the region `{base}region/` (the catalog's dct:spatial) and each municipality
  `{base}kommuner/<kommunkod>/`, dct:Locations identified by the SCB code; pages.py writes a page
  at exactly these paths so that the IRIs resolve (DCAT-AP-SE). There is no official linked-data
  IRI per Swedish municipality that can be verified offline, so the IRIs are ours, keyed on the
  SCB code. Each carries dcat:bbox and dcat:centroid (geosparql:wktLiteral, WGS 84) from SCB's
  municipality boundaries (geography.py says where from and how); the region's are those of
  its members together.

Publisher. `OPENDATA_PUBLISHER_URI` when set, otherwise Boråsregionen's homepage
`https://www.borasregionen.se/`. Sveriges dataportal identifies organisations as
`http://dataportal.se/organisation/SE<organisationsnummer>`; that needs the federation's
organisation number, which the project does not hold: set OPENDATA_PUBLISHER_URI to that IRI
once it is known. The dct:type is ADMS `LocalAuthority`: Sjuhärads kommunalförbund is a
kommunalförbund, a joint body of eight municipalities exercising municipal powers (kommunallagen
ch. 9) over part of a county, not a regional authority in the EU sense (a region/county council
such as Västra Götalandsregionen is that).

Versioning (DCAT 3 version properties, no series). A harvester makes a record of every
dcat:Dataset on a page (ckanext-dcat's RDFParser takes every subject typed so; piveau the same),
so the harvest pages (`dcat_files`, `catalog_pages`) hold one per dataset: `{base}datasets/<name>/`
describes the latest version (its distributions are the stable `latest/` URLs, its dcat:version,
owl:versionInfo and adms:versionNotes the latest's, dct:modified that version's publish time),
with dcat:hasCurrentVersion the latest version's IRI and dct:hasVersion every published
version's IRI. Not dcat:hasVersion: DCAT-AP 3.0.x (`sh:class dcat:Dataset`) and DIGG's bundle
(template dcat:hasVersion_da) want its object typed dcat:Dataset in the same document, which
would make each version a record again. Each version `{base}datasets/<name>/<version>/` is
described in full in its own document (`version_graph`, `version_documents`): a dcat:Dataset
with dcat:isVersionOf, dcat:previousVersion (the next lower published version), dcat:version,
owl:versionInfo, adms:versionNotes (the change summary in English and in Swedish, the Swedish one
led by the steward's message on why the version was made), adms:status (COMPLETED for the
latest, DEPRECATED for an older published version, from the EU distribution-status table), the
dataset's descriptive metadata (`GraphBuilder.describe`, so it scores like a record) and the
distributions of its immutable files with their checksums; the dataset links it there with
dcat:hasVersion. A withdrawn version is not on the pages at all (a harvester deletes what is gone
from them; it never reads adms:status on a dataset): its document is its tombstone (status
Withdrawn, dct:modified the withdrawal time, the reason in dct:description and versionNotes, no
distributions). A dataset whose every version is withdrawn has no record on the pages. A dataset
series would model a sequence of releases that are separate datasets (a yearly file per year);
our versions are successive states of one dataset, which is what the version properties are for.

Places. A dataset's dct:spatial is one place (ckanext-dcat keeps one): the region when the data
covers every member, the municipality when it covers one, else a place of its own
(`#spatial`) with its municipalities as dct:hasPart and the box around theirs.

Distributions. Per table one for each file of the version: CSV and JSON, and Parquet in the
versions that have it (older versions have only CSV and JSON and keep exactly the distributions
they had), each with its EU file type (CSV, JSON, PARQUET), IANA media type, spdx:checksum
SHA-256 and dcat:byteSize; and one for datapackage.json.

Keywords. catalog.json has one flat list (Swedish then English) and no split point; they are
published without a language tag rather than with a wrong one. When an entry carries
`keywords_en` (the English ones), those get `@en` and the rest `@sv`.

Validation. The graph has zero violations against the DCAT-AP 3.0.0 SHACL shapes. Against the
DCAT-AP 2.1.1 shapes the only violations are where 2.1.1 contradicts 3.0.0 (and the brief):
2.1.1 requires spdx:algorithm to be `checksumAlgorithm_sha1` (3.0.0 allows SHA-256, which is
what our packages carry) and dcat:byteSize to be typed xsd:decimal (3.0.0: nonNegativeInteger).
Vocabulary IRIs the shapes constrain by class (themes, licences, languages, file types, media
types, frequencies, ...) are typed and labelled in the graph, so the shapes validate without
fetching the vocabularies.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator
from typing import Any

from rdflib import Graph, Literal, URIRef
from rdflib.term import Node

from opendata import layout
from opendata.catalog.vocabulary import (
    ADMS,
    DATA_PACKAGE,
    DATA_PACKAGE_V1,
    DATAPACKAGE,
    DATAPACKAGE_DESCRIPTION,
    DCAT,
    DCATAP,
    DCT,
    EU,
    FOAF,
    FORMATS,
    FREQUENCIES,
    GSP,
    LANGUAGES,
    LICENSE_LABELS,
    NOT_DISTRIBUTED,
    ODRS,
    OWL,
    PREFIXES_LONGEST_FIRST,
    PUBLIC,
    PUBLISHER_TYPE,
    RDF,
    RDFS,
    REGION_NAME,
    SHA256,
    SKOS,
    SPDX,
    STABLE,
    STANDARDS,
    STATUS,
    STATUS_TABLE,
    TABLE_SCHEMA,
    TABLE_SCHEMA_V1,
    THEME_TAXONOMY,
    THEMES,
    VCARD,
    XML_INVALID,
    XSD,
    Triples,
    iri,
    license_iri,
    publisher_iri,
)
from opendata.geography import Extent, combined_extent, municipality_extents
from opendata.layout import version_page
from opendata.municipalities import MEMBERS
from opendata.state import Catalog, CatalogEntry, CatalogResource, CatalogVersion, SemVer, Status
from opendata.versioning import summary_sv

__all__ = ["catalog_graph", "version_graph", "version_triples"]


class GraphBuilder:
    """Collects the triples of one catalog graph."""

    def __init__(self, catalog: Catalog, publisher: URIRef) -> None:
        self.graph = Triples()
        self.catalog = catalog
        self.base = str(catalog["homepage"])
        self.publisher = publisher
        # What `describe` gives every version of a dataset, made once for all of them
        # (`versions_documents`): its statements' predicates and objects.
        self.described: list[tuple[URIRef, Node]] | None = None

    # -- helpers ------------------------------------------------------------------------------

    def add(self, subject: URIRef, predicate: URIRef, obj: Node | None) -> None:
        if obj is not None:
            self.graph.add((subject, predicate, obj))

    def text(self, subject: URIRef, predicate: URIRef, value: Any, lang: str | None) -> None:
        """A text literal; control characters XML 1.0 cannot carry are dropped."""
        if isinstance(value, str) and XML_INVALID.sub("", value).strip():
            literal = Literal(XML_INVALID.sub("", value).strip(), lang=lang)
            self.graph.add((subject, predicate, literal))

    def version_notes(self, node: URIRef, version: CatalogVersion) -> None:
        """adms:versionNotes: the change summary @en, and @sv the steward's message (why the
        version was made, in the steward's Swedish) followed by the summary in Swedish."""
        changes = version.get("changes")
        message = version.get("message")
        self.text(node, ADMS.versionNotes, changes, "en")
        swedish = summary_sv(changes) if changes else None
        if message:
            swedish = f"{message} (ändringar: {swedish})" if swedish else message
        self.text(node, ADMS.versionNotes, swedish, "sv")

    def when(self, subject: URIRef, predicate: URIRef, value: Any) -> None:
        """A timestamp of catalog.json (`2025-01-31T10:00:00Z`) as xsd:dateTime."""
        if isinstance(value, str) and value:
            self.graph.add((subject, predicate, Literal(value, datatype=XSD.dateTime)))

    def concept(self, node: URIRef, *classes: URIRef, labels: Iterable[tuple[str, str]]) -> URIRef:
        """A vocabulary term, typed and labelled so the shapes can check it offline."""
        for cls in classes:
            self.graph.add((node, RDF.type, cls))
        for label, lang in labels:
            self.graph.add((node, SKOS.prefLabel, Literal(label, lang=lang)))
        return node

    def license(self, node: URIRef | None) -> URIRef | None:
        if node is not None:
            self.graph.add((node, RDF.type, DCT.LicenseDocument))
            label = LICENSE_LABELS.get(str(node))
            if label:
                self.graph.add((node, RDFS.label, Literal(label, lang="en")))
                self.graph.add((node, DCT.title, Literal(label, lang="en")))
        return node

    def standard(self, node: URIRef) -> URIRef:
        """A specification as DCAT-AP-SE's dcterms:Standard: typed and titled."""
        self.graph.add((node, RDF.type, DCT.Standard))
        title = STANDARDS.get(node)
        if title:
            self.graph.add((node, DCT.title, Literal(title, lang="en")))
        return node

    def under(self, path: str) -> URIRef:
        return iri(self.base + path)

    # -- the catalog --------------------------------------------------------------------------

    def build(self) -> Triples:
        datasets = self.catalog.get("datasets", [])
        issued, modified = catalog_dates(datasets)
        node = self.describe_catalog(issued, modified)
        for entry in datasets:
            record = self.dataset(entry)
            if record is not None:
                self.graph.add((node, DCAT.dataset, record))
        return self.graph

    def describe_catalog(self, issued: str | None, modified: str | None) -> URIRef:
        """The catalog node and what it refers to (publisher, licence, languages, region)."""
        catalog = self.catalog
        node = self.under("#catalog")
        homepage = self.under("")
        g = self.graph
        g.add((node, RDF.type, DCAT.Catalog))
        self.text(node, DCT.title, catalog.get("title"), "sv")
        self.text(node, DCT.title, catalog.get("title_en"), "en")
        self.text(node, DCT.description, catalog.get("description"), "sv")
        self.text(node, DCT.description, catalog.get("description_en"), "en")
        g.add((node, DCT.publisher, self.publisher))
        self.add_publisher(str(catalog.get("publisher") or ""))
        g.add((node, FOAF.homepage, homepage))
        g.add((homepage, RDF.type, FOAF.Document))
        self.add(node, DCT.license, self.license(license_iri(catalog.get("license"))))
        for code in ("sv", "en"):
            g.add((node, DCT.language, self.language(code)))
        g.add((node, DCT.spatial, self.region()))
        g.add((node, DCAT.themeTaxonomy, THEME_TAXONOMY))
        g.add((THEME_TAXONOMY, RDF.type, SKOS.ConceptScheme))
        g.add((THEME_TAXONOMY, DCT.title, Literal("Data theme", lang="en")))
        if issued:
            self.when(node, DCT.issued, issued)
        if modified:
            self.when(node, DCT.modified, modified)
        return node

    def add_publisher(self, name: str) -> None:
        g = self.graph
        g.add((self.publisher, RDF.type, FOAF.Agent))
        g.add((self.publisher, FOAF.name, Literal(name or "Boråsregionen", lang="sv")))
        g.add((self.publisher, DCT.type, PUBLISHER_TYPE))
        self.concept(
            PUBLISHER_TYPE,
            SKOS.Concept,
            labels=[("Local Authority", "en")],
        )

    def language(self, code: str) -> URIRef:
        node = LANGUAGES[code]
        self.graph.add((node, RDF.type, DCT.LinguisticSystem))
        return node

    # -- a dataset ----------------------------------------------------------------------------

    def dataset(self, entry: CatalogEntry) -> URIRef | None:
        """The dataset's one record on the harvest pages: the latest version's metadata and
        files, dcat:version and adms:versionNotes of the latest, and dct:hasVersion to every
        published version's IRI (described in full in the version's own documents,
        `version_graph`). None when no version is published (every one withdrawn): the record
        leaves the pages, which is how a harvester learns of a deletion."""
        latest = entry.get("latest")
        versions = sorted(entry.get("versions") or [], key=lambda v: SemVer.parse(v["version"]))
        current = next((v for v in versions if v["version"] == latest), None)
        if not latest or current is None:
            return None
        g = self.graph
        name = str(entry["name"])
        home = f"{self.base}{layout.dataset_prefix(name)}/"
        node = iri(home)
        g.add((node, RDF.type, DCAT.Dataset))
        g.add((node, DCT.identifier, Literal(str(node))))
        self.text(node, DCT.title, entry.get("title") or name, "sv")
        self.text(node, DCT.title, entry.get("title_en"), "en")
        self.text(node, DCT.description, entry.get("description") or entry.get("title"), "sv")
        self.text(node, DCT.description, entry.get("description_en"), "en")
        self.describe(node, entry, home)
        landing = entry.get("landing_page") or home
        if iri(landing) == node:  # the dataset IRI is not its own web page: the page file is
            landing = self.base + layout.dataset_page_key(name)
        g.add((node, DCAT.landingPage, iri(landing)))
        g.add((iri(landing), RDF.type, FOAF.Document))
        self.when(node, DCT.issued, entry.get("issued"))
        self.when(node, DCT.modified, entry.get("modified"))
        g.add((node, DCAT.version, Literal(latest)))
        g.add((node, OWL.versionInfo, Literal(latest)))
        self.version_notes(node, current)
        g.add((node, DCAT.hasCurrentVersion, iri(f"{home}{latest}/")))
        # dct:hasVersion, not DCAT-AP 3's dcat:hasVersion: the 3.0.x shapes and DIGG's bundle
        # want the object of dcat:hasVersion typed dcat:Dataset in the same document, and every
        # dcat:Dataset of a page becomes a record of its own at the portal.
        for version in versions:
            if version["status"] == Status.PUBLISHED:
                g.add((node, DCT.hasVersion, iri(f"{home}{version['version']}/")))
        self.distributions(node, entry, home, latest)
        return node

    def distributions(self, node: URIRef, entry: CatalogEntry, home: str, latest: str) -> None:
        """The record's distributions: the latest version's files at their stable URLs."""
        g = self.graph
        data_package, table_schema = standards(entry)
        license_node = self.license(license_iri(entry.get("license")))
        rights = self.rights(home, entry.get("attribution"))
        for resource in entry.get("resources") or []:
            for file in resource.get("files") or []:
                latest_url = file.get("latest_url")
                if not latest_url:
                    continue
                dist = self.distribution(
                    f"{home}#distribution-{file['name']}",
                    title=_titles(resource, file.get("format")),
                    description=_descriptions(resource, file.get("format")),
                    url=latest_url,
                    fmt=file.get("format"),
                    size=file.get("bytes"),
                    checksum=(f"{home}{latest}/#checksum-{file['name']}", file.get("sha256")),
                    license_node=license_node,
                    rights=rights,
                    conforms=table_schema,
                    status="Completed",
                )
                self.when(dist, DCT.issued, entry.get("issued"))
                self.when(dist, DCT.modified, entry.get("modified"))
                g.add((node, DCAT.distribution, dist))
        datapackage = entry.get("datapackage")
        if datapackage:
            dist = self.distribution(
                f"{home}#distribution-{DATAPACKAGE}",
                title=(
                    f"Datapaket ({DATAPACKAGE}): beskrivning, schema och länkar till filerna",
                    f"Data package ({DATAPACKAGE}): descriptor, schemas and file links",
                ),
                description=DATAPACKAGE_DESCRIPTION,
                url=datapackage,
                fmt="JSON",
                size=entry.get("datapackage_bytes"),
                checksum=(
                    f"{home}#checksum-latest-{DATAPACKAGE}",
                    entry.get("datapackage_sha256"),
                ),
                license_node=license_node,
                rights=rights,
                conforms=data_package,
                status="Completed",
            )
            self.when(dist, DCT.issued, entry.get("issued"))
            self.when(dist, DCT.modified, entry.get("modified"))
            g.add((node, DCAT.distribution, dist))

    def describe(self, node: URIRef, entry: CatalogEntry, home: str) -> None:
        """What the dataset and each of its versions share: publisher, language, access rights,
        contact point, keywords, themes, places, period, frequency, provenance and the
        specifications it conforms to. A version is a dcat:Dataset that portals score on its
        own (data.europa.eu's MQA), so it carries all of these too; catalog.json keeps one set of
        metadata per dataset (the latest descriptor's), which is what a version repeats."""
        g = self.graph
        if self.described is not None:  # made once for the dataset: the node's statements
            for predicate, obj in self.described:
                g.add((node, predicate, obj))
            return
        g.add((node, DCT.publisher, self.publisher))
        g.add((node, DCT.language, self.language("sv")))
        g.add((node, DCT.accessRights, PUBLIC))
        self.concept(PUBLIC, DCT.RightsStatement, labels=[("public", "en")])
        self.contact(node, home, entry.get("contact_point"))
        self.keywords(node, entry)
        for code in entry.get("themes") or []:
            theme = iri(f"{EU}data-theme/{code}")
            sv, en = THEMES.get(code, (code, code))
            self.concept(theme, SKOS.Concept, labels=[(sv, "sv"), (en, "en")])
            g.add((theme, SKOS.inScheme, THEME_TAXONOMY))
            g.add((node, DCAT.theme, theme))
        self.coverage(node, entry, home)
        self.temporal(node, home, entry.get("temporal"))
        frequency = FREQUENCIES.get(str(entry.get("accrual_periodicity")))
        if frequency:
            code, label = frequency
            term = self.concept(URIRef(f"{EU}frequency/{code}"), DCT.Frequency, labels=[])
            g.add((term, RDFS.label, Literal(label, lang="en")))
            g.add((node, DCT.accrualPeriodicity, term))
        self.provenance(node, home, entry.get("sources") or [])
        for standard in standards(entry):
            g.add((node, DCT.conformsTo, self.standard(standard)))

    def contact(self, node: URIRef, home: str, contact: dict[str, Any] | None) -> None:
        if not contact or not (contact.get("name") or contact.get("email")):
            return
        g = self.graph
        card = iri(f"{home}#contact-point")
        # One type, as DIGG's bundle wants (vc:kindIndOrOrg: Individual or Organization, max 1).
        # DCAT-AP 3's shapes want a vcard:Kind (sh:class): the vCard ontology's axiom that an
        # Organization is a Kind is stated in the graph, so they hold without the ontology.
        g.add((card, RDF.type, VCARD.Organization))
        g.add((VCARD.Organization, RDFS.subClassOf, VCARD.Kind))
        self.text(card, VCARD.fn, contact.get("name") or contact.get("email"), None)
        if contact.get("email"):
            g.add((card, VCARD.hasEmail, iri(f"mailto:{contact['email']}")))
        g.add((node, DCAT.contactPoint, card))

    def keywords(self, node: URIRef, entry: CatalogEntry) -> None:
        words = [w for w in entry.get("keywords") or [] if isinstance(w, str) and w.strip()]
        english = entry.get("keywords_en")
        for word in words:
            lang = None if english is None else ("en" if word in english else "sv")
            self.text(node, DCAT.keyword, word, lang)

    def coverage(self, node: URIRef, entry: CatalogEntry, home: str) -> None:
        """The dataset's dct:spatial: one place, because a harvester keeps one (ckanext-dcat
        reads the last dct:spatial it meets, with that place's label, box and centre). The
        region when the data covers every member, the municipality when it covers one, and
        otherwise a place of the dataset's own (`#spatial`, its box around its parts'); each
        with its municipalities as dct:hasPart."""
        places: dict[str, dict[str, Any]] = {}
        for place in entry.get("spatial") or []:
            code = str(place.get("kommunkod") or "")
            if code:
                places.setdefault(code, place)
        if not places:
            return
        if set(places) == set(MEMBERS):
            location = self.region()
        elif len(places) == 1:
            location = self.municipality(next(iter(places.values())))
        else:
            location = iri(f"{home}#spatial")
            g = self.graph
            g.add((location, RDF.type, DCT.Location))
            names = [str(p.get("kommun") or MEMBERS.get(c) or c) for c, p in sorted(places.items())]
            label = "Kommunerna " + ", ".join(names[:-1]) + " och " + names[-1]
            g.add((location, SKOS.prefLabel, Literal(label, lang="sv")))
            g.add((location, RDFS.label, Literal(label, lang="sv")))
            for place in places.values():
                g.add((location, DCT.hasPart, self.municipality(place)))
            self.extent(location, combined_extent(places))
        self.graph.add((node, DCT.spatial, location))

    def municipality(self, place: dict[str, Any]) -> URIRef:
        """A municipality as a dct:Location identified by its SCB kommunkod (also its Eurostat
        LAU code), at an IRI whose page the site publishes, with its box and centre."""
        g = self.graph
        code = str(place["kommunkod"])
        location = self.under(layout.municipality_path(code))
        g.add((location, RDF.type, DCT.Location))
        g.add((location, DCT.identifier, Literal(code)))
        g.add((location, SKOS.notation, Literal(code)))
        name = place.get("kommun") or MEMBERS.get(code)
        if name:
            g.add((location, SKOS.prefLabel, Literal(name, lang="sv")))
            g.add((location, RDFS.label, Literal(name, lang="sv")))
        if code in MEMBERS:
            g.add((location, DCT.isPartOf, self.under(layout.REGION_PATH)))
        self.extent(location, municipality_extents().get(code))
        return location

    def extent(self, location: URIRef, extent: Extent | None) -> None:
        if extent is None:  # a code the boundaries do not know: the place stays without
            return
        g = self.graph
        g.add((location, DCAT.bbox, Literal(extent.bbox_wkt(), datatype=GSP.wktLiteral)))
        g.add((location, DCAT.centroid, Literal(extent.centroid_wkt(), datatype=GSP.wktLiteral)))

    def region(self) -> URIRef:
        """Boråsregionen as a dct:Location: the catalog's dct:spatial, made of its members."""
        g = self.graph
        location = self.under(layout.REGION_PATH)
        g.add((location, RDF.type, DCT.Location))
        for text, lang in zip(REGION_NAME, ("sv", "en"), strict=True):
            g.add((location, SKOS.prefLabel, Literal(text, lang=lang)))
        # One rdfs:label, so that a harvester that keeps one (ckanext-dcat) keeps the same.
        g.add((location, RDFS.label, Literal(REGION_NAME[0], lang="sv")))
        for code, name in sorted(MEMBERS.items()):
            g.add((location, DCT.hasPart, self.municipality({"kommunkod": code, "kommun": name})))
        self.extent(location, combined_extent(MEMBERS))
        return location

    def temporal(self, node: URIRef, home: str, period: dict[str, Any] | None) -> None:
        if not period or not (period.get("start") or period.get("end")):
            return
        g = self.graph
        span = iri(f"{home}#temporal")
        g.add((span, RDF.type, DCT.PeriodOfTime))
        for key, predicate, month_day in (
            ("start", DCAT.startDate, "-01-01"),
            ("end", DCAT.endDate, "-12-31"),
        ):
            value = str(period.get(key) or "")
            if re.fullmatch(r"\d{4}", value):
                value += month_day
            if value:
                datatype = XSD.date if len(value) == 10 else XSD.dateTime
                g.add((span, predicate, Literal(value, datatype=datatype)))
        g.add((node, DCT.temporal, span))

    def provenance(self, node: URIRef, home: str, sources: list[dict[str, Any]]) -> None:
        lines = []
        for source in sources:
            parts = [source.get("title"), source.get("publisher"), source.get("path")]
            lines.append(", ".join(str(p) for p in parts if p))
        if not lines:
            return
        statement = iri(f"{home}#provenance")
        self.graph.add((statement, RDF.type, DCT.ProvenanceStatement))
        text = "Källor: " + "; ".join(lines)
        self.text(statement, RDFS.label, text, "sv")
        # DCAT-AP-SE's dcterms:ProvenanceStatement shows dcterms:description (min 1).
        self.text(statement, DCT.description, text, "sv")
        self.graph.add((node, DCT.provenance, statement))

    def rights(self, home: str, attribution: Any) -> URIRef | None:
        if not isinstance(attribution, str) or not attribution.strip():
            return None
        statement = iri(f"{home}#rights")
        # dct:RightsStatement for DCAT-AP 3.0.0, odrs:RightsStatement with the attribution text
        # for DCAT-AP-SE 3.0.1 (template dcat:odrs:RSSA).
        self.graph.add((statement, RDF.type, DCT.RightsStatement))
        self.graph.add((statement, RDF.type, ODRS.RightsStatement))
        self.text(statement, RDFS.label, attribution, "sv")
        self.text(statement, ODRS.attributionText, attribution, "sv")
        return statement

    def status(self, name: str) -> URIRef:
        node, sv, en = STATUS[name]
        self.concept(node, SKOS.Concept, labels=[(sv, "sv"), (en, "en")])
        self.graph.add((node, SKOS.inScheme, URIRef(STATUS_TABLE.rstrip("/"))))
        return node

    # -- versions and distributions -----------------------------------------------------------

    def version(
        self,
        entry: CatalogEntry,
        home: str,
        version: CatalogVersion,
        previous: URIRef | None,
    ) -> URIRef:
        g = self.graph
        number = str(version["version"])
        prefix = f"{home}{number}/"
        node = iri(prefix)
        dataset = iri(home)
        title = entry.get("title") or entry["name"]
        title_en = entry.get("title_en")
        g.add((node, RDF.type, DCAT.Dataset))
        g.add((node, DCT.identifier, Literal(str(node))))
        self.text(node, DCT.title, f"{title} – version {number}", "sv")
        if title_en:
            self.text(node, DCT.title, f"{title_en} – version {number}", "en")
        g.add((node, DCAT.version, Literal(number)))
        g.add((node, OWL.versionInfo, Literal(number)))
        g.add((node, DCAT.isVersionOf, dataset))
        g.add((node, DCT.isVersionOf, dataset))
        self.add(node, DCAT.previousVersion, previous)
        self.describe(node, entry, home)
        page = iri(f"{home}{version_page(number)}")  # the version's page, beside its folder
        g.add((node, DCAT.landingPage, page))
        g.add((page, RDF.type, FOAF.Document))
        self.when(node, DCT.issued, version.get("published"))
        if version["status"] == Status.WITHDRAWN:
            reason = str(version.get("reason") or "").strip()
            gone = version.get("files_deleted")
            sv = f"Version {number} av {title} är tillbakadragen"
            en = f"Version {number} of {title_en or title} has been withdrawn"
            sv += f": {reason}" if reason else "."
            en += f": {reason}" if reason else "."
            if gone:
                sv += " Filerna är raderade."
                en += " Its files have been deleted."
            self.text(node, DCT.description, sv, "sv")
            self.text(node, DCT.description, en, "en")
            self.text(node, ADMS.versionNotes, f"withdrawn: {reason}" if reason else None, "en")
            self.when(node, DCT.modified, version.get("withdrawn") or version.get("published"))
            g.add((node, ADMS.status, self.status("Withdrawn")))
            return node
        self.text(node, DCT.description, f"Version {number} av datasetet {title}.", "sv")
        if title_en:
            self.text(node, DCT.description, f"Version {number} of the dataset {title_en}.", "en")
        self.version_notes(node, version)
        self.when(node, DCT.modified, version.get("published"))
        current = number == entry.get("latest")
        g.add((node, ADMS.status, self.status("Completed" if current else "Deprecated")))
        titles = {
            file["name"]: resource
            for resource in entry.get("resources") or []
            for file in resource.get("files") or []
        }
        license_node = self.license(license_iri(entry.get("license")))
        rights = self.rights(home, entry.get("attribution"))
        data_package, table_schema = standards(entry)
        for file in version.get("files") or []:
            filename = str(file["name"])
            if filename in NOT_DISTRIBUTED:
                continue
            fmt = filename.rsplit(".", 1)[-1].upper()
            resource = titles.get(filename)
            if filename == DATAPACKAGE:
                title_pair: tuple[str | None, str | None] = (
                    f"Datapaket ({DATAPACKAGE})",
                    f"Data package ({DATAPACKAGE})",
                )
            elif resource:
                title_pair = _titles(resource, fmt)
            else:  # a resource the latest version no longer has: its file name
                title_pair = (filename, filename)
            description: tuple[str | None, str | None]
            if filename == DATAPACKAGE:
                description = DATAPACKAGE_DESCRIPTION
            elif resource:
                description = _descriptions(resource, fmt)
            else:
                description = (f"Filen {filename} i version {number}.", None)
            dist = self.distribution(
                f"{prefix}#distribution-{filename}",
                title=title_pair,
                description=description,
                url=file["url"],
                fmt=fmt,
                size=file.get("bytes"),
                checksum=(f"{prefix}#checksum-{filename}", file.get("sha256")),
                license_node=license_node,
                rights=rights,
                conforms=data_package if filename == DATAPACKAGE else table_schema,
                status="Completed" if current else "Deprecated",
            )
            # A version's files never change: issued and modified are its publish time.
            self.when(dist, DCT.issued, version.get("published"))
            self.when(dist, DCT.modified, version.get("published"))
            g.add((node, DCAT.distribution, dist))
        return node

    def distribution(
        self,
        ident: str,
        *,
        title: tuple[str | None, str | None],
        description: tuple[str | None, str | None],
        url: str,
        fmt: str | None,
        size: int | None,
        checksum: tuple[str, str | None] | None,
        license_node: URIRef | None,
        rights: URIRef | None,
        conforms: URIRef,
        status: str,
    ) -> URIRef:
        g = self.graph
        node = iri(ident)
        g.add((node, RDF.type, DCAT.Distribution))
        fmt = (fmt or "").upper()
        self.text(node, DCT.title, title[0], "sv")
        self.text(node, DCT.title, title[1], "en")
        self.text(node, DCT.description, description[0], "sv")
        self.text(node, DCT.description, description[1], "en")
        link = iri(url)
        g.add((node, DCAT.accessURL, link))
        g.add((node, DCAT.downloadURL, link))
        g.add((link, RDF.type, RDFS.Resource))  # the range the 3.0.0 shapes check by class
        if fmt in FORMATS:
            code, media = FORMATS[fmt]
            file_type = self.concept(
                URIRef(f"{EU}file-type/{code}"), DCT.MediaTypeOrExtent, labels=[]
            )
            g.add((file_type, RDFS.label, Literal(code, lang="en")))
            g.add((node, DCT["format"], file_type))
            media_type = URIRef(media)
            g.add((media_type, RDF.type, DCT.MediaType))
            g.add((node, DCAT.mediaType, media_type))
        self.add(node, DCT.license, license_node)
        self.add(node, DCT.rights, rights)
        g.add((node, DCT.conformsTo, self.standard(conforms)))
        g.add((node, ADMS.status, self.status(status)))
        g.add((node, DCATAP.availability, STABLE))
        self.concept(STABLE, SKOS.Concept, labels=[("Stabil", "sv"), ("Stable", "en")])
        if isinstance(size, int) and size >= 0:
            g.add((node, DCAT.byteSize, Literal(size, datatype=XSD.nonNegativeInteger)))
        if checksum is not None and checksum[1]:
            sum_node = iri(checksum[0])
            g.add((sum_node, RDF.type, SPDX.Checksum))
            g.add((sum_node, SPDX.algorithm, SHA256))
            g.add((sum_node, SPDX.checksumValue, Literal(checksum[1], datatype=XSD.hexBinary)))
            g.add((SHA256, RDF.type, SPDX.ChecksumAlgorithm))
            g.add((node, SPDX.checksum, sum_node))
        return node


def version_graph(
    catalog: Catalog, entry: CatalogEntry, number: str, publisher: str | None = None
) -> Graph:
    """`version_triples` as an rdflib Graph."""
    return version_triples(catalog, entry, number, publisher).graph()


def version_triples(
    catalog: Catalog, entry: CatalogEntry, number: str, publisher: str | None = None
) -> Triples:
    """The document of one version `{base}datasets/<name>/<version>/`: the version described in
    full as DCAT-AP 3 has it (a dcat:Dataset with dcat:version, adms:versionNotes, adms:status
    and every distribution of its immutable files; a withdrawn one a tombstone without them),
    the dataset it is a version of linking it with dcat:hasVersion, and the terms they use.
    The harvest pages list only the dataset; this is what its dct:hasVersion links lead to."""
    builder = GraphBuilder(catalog, publisher_iri(publisher))
    builder.add_publisher(str(entry.get("publisher") or catalog.get("publisher") or ""))
    for version, previous in versions_in_order(entry):
        if version["version"] == number:
            version_of(builder, entry, version, previous)
            return builder.graph
    raise KeyError(f"{entry['name']} has no version {number}")


def versions_in_order(
    entry: CatalogEntry,
) -> Iterator[tuple[CatalogVersion, str | None]]:
    """Each version in version order, with the published version before it (None: none)."""
    versions = sorted(entry.get("versions") or [], key=lambda v: SemVer.parse(v["version"]))
    previous: str | None = None
    for version in versions:
        yield version, previous
        if version["status"] == Status.PUBLISHED:
            previous = str(version["version"])


def version_of(
    builder: GraphBuilder, entry: CatalogEntry, version: CatalogVersion, previous: str | None
) -> None:
    """The version's statements, and the dataset's dcat:hasVersion to it."""
    home = f"{builder.base}{layout.dataset_prefix(str(entry['name']))}/"
    before = None if previous is None else iri(f"{home}{previous}/")
    node = builder.version(entry, home, version, before)
    builder.graph.add((iri(home), DCAT.hasVersion, node))
    builder.graph.add((iri(home), DCT.hasVersion, node))


FORMAT_TEXT = {
    "CSV": ("som CSV (UTF-8, kommaseparerad)", "as CSV (UTF-8, comma-separated)"),
    "JSON": ("som JSON", "as JSON"),
    "PARQUET": ("som Apache Parquet", "as Apache Parquet"),
}


def _descriptions(resource: CatalogResource, fmt: str | None) -> tuple[str | None, str | None]:
    """A distribution's descriptions: the resource's own where the steward wrote one, else a
    sentence naming the table and the format (DCAT-AP-SE recommends a description on every
    distribution), English only where the metadata has an English title or description."""
    sv, en = resource.get("description"), resource.get("description_en")
    title = resource.get("title") or resource.get("name")
    title_en = resource.get("title_en")
    as_sv, as_en = FORMAT_TEXT.get((fmt or "").upper(), ("", ""))
    if not sv and title:
        sv = f"Tabellen {title} {as_sv}".rstrip() + "."
    if not en and title_en:
        en = f"The table {title_en} {as_en}".rstrip() + "."
    return sv, en


def _titles(resource: CatalogResource, fmt: str | None) -> tuple[str | None, str | None]:
    """A distribution's titles: the resource's, with the format (CSV, JSON, PARQUET differ)."""
    suffix = f" ({fmt.upper()})" if fmt else ""
    title = resource.get("title") or resource.get("name")
    title_en = resource.get("title_en")
    return (f"{title}{suffix}" if title else None, f"{title_en}{suffix}" if title_en else None)


def standards(entry: CatalogEntry) -> tuple[URIRef, URIRef]:
    """The Data Package and Table Schema specifications the latest version's files follow:
    v2 when its table schemas name the v2 profile (`$schema`), else v1 (a version published
    before the move to v2 keeps its v1 descriptor)."""
    for resource in entry.get("resources") or []:
        schema = resource.get("schema") or {}
        if str(schema.get("$schema", "")).startswith("https://datapackage.org/profiles/2"):
            return DATA_PACKAGE, TABLE_SCHEMA
    return DATA_PACKAGE_V1, TABLE_SCHEMA_V1


def dataset_dates(entry: CatalogEntry) -> tuple[str | None, str | None]:
    """When the dataset was first published, and its last change (a publication or a withdrawal):
    what the catalog's own dct:issued and dct:modified are made of."""
    changes = [when for when in [entry.get("modified")] if when]
    changes += [when for v in entry.get("versions", []) if (when := v.get("withdrawn"))]
    return entry.get("issued") or None, max(changes) if changes else None


def catalog_dates(
    datasets: Iterable[CatalogEntry | tuple[str | None, str | None]],
) -> tuple[str | None, str | None]:
    """The catalog's dct:issued (the first dataset's) and dct:modified (the last change, or the
    last first publication when nothing changed since)."""
    pairs = [item if isinstance(item, tuple) else dataset_dates(item) for item in datasets]
    issued = [when for when, _ in pairs if when]
    changed = [when for _, when in pairs if when]
    return (min(issued) if issued else None, max(changed or issued) if changed or issued else None)


def catalog_graph(catalog: Catalog, publisher: str | None = None) -> Graph:
    """The catalog.json document as a DCAT-AP graph (IRIs only, no blank nodes)."""
    return GraphBuilder(catalog, publisher_iri(publisher)).build().graph()


_RDF_TYPE = str(RDF.type)


@functools.lru_cache(maxsize=4096)
def _compact_iri(value: str) -> str:
    """`dct:title` for `http://purl.org/dc/terms/title`: a compact IRI with our prefixes (the
    JSON-LD documents' @context declares them), or the IRI itself where none applies."""
    for prefix, namespace in PREFIXES_LONGEST_FIRST:
        local = value[len(namespace) :]
        if value.startswith(namespace) and local and not local.startswith("//"):
            return f"{prefix}:{local}"
    return value


def compact_node(node: dict[str, Any]) -> dict[str, Any]:
    """An expanded node object with compact keys, rdf:type as @type and datatypes compacted:
    what rdflib's JSON-LD compaction wrote before, at a fraction of its cost."""
    compact: dict[str, Any] = {}
    for key, values in node.items():
        if key.startswith("@") or not isinstance(values, list):
            compact[key] = values
        elif key == _RDF_TYPE and all(isinstance(v, dict) and set(v) == {"@id"} for v in values):
            compact["@type"] = [_compact_iri(value["@id"]) for value in values]
        else:
            compact[_compact_iri(key)] = [
                {**value, "@type": _compact_iri(value["@type"])}
                if isinstance(value, dict) and "@value" in value and "@type" in value
                else value
                for value in values
            ]
    return compact
