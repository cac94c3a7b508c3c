"""The store's layout: every key and prefix, public and private, spelled here and nowhere else.

Other modules ask this one for a key (quilt3's backends keep one registry of keys, dlt's
PackageStorage one class for its layout), so that the tree below is the whole truth about a
store, and a key moved here moves everywhere. It imports nothing of opendata: the storage
package, the catalog and the publish protocol all stand on it.

    <store>/
    ├── index.html                      public: the catalog's home page        (catalog.build)
    ├── catalog.json                    public: every dataset, version, file   (catalog.build)
    ├── dcat/catalog[-<n>].rdf|ttl|jsonld  public: DCAT-AP-SE, paged            (catalog.dcat)
    ├── region/index.html               public: the region's dct:Location page (catalog.pages)
    ├── kommuner/<kod>/index.html       public: each municipality's page       (catalog.pages)
    ├── datasets/<name>/                public: one dataset
    │   ├── versions.json               the pointer: versions and claims, CAS  (publish)
    │   ├── <x.y.z>/                    one immutable version: data files,     (publish)
    │   │   │                           validation.json, changes.json, datapackage.json last
    │   │   ├── index.html              the version IRI's pointer page         (catalog.versions)
    │   ├── <x.y.z>.html|.rdf|.ttl|.jsonld  the version's page and DCAT        (catalog.versions)
    │   ├── latest/                     copies of the latest version's files   (publish)
    │   │   └── index.html              the pointer page of `latest/`          (catalog.versions)
    │   └── index.html                  the dataset's page                     (catalog.build)
    ├── _inbox/<name>/                  write-only drop for stewards' files    (stewards, S3)
    └── _private/                       never public, never listed
        ├── cache/                      the public APIs' answers               (collect.remote)
        ├── stale/<name>/<run>.json     journal: derived files that may lag    (journal)
        ├── stewards.json               who may deliver what                   (stewards)
        ├── deliveries/                 steward deliveries: files, records,    (deliveries)
        │                               by-content, current, leases
        ├── catalog/listings.json       the catalog's index of listings        (catalog.build)
        ├── catalog/dcat/<name>.json    each dataset's DCAT fragment           (catalog.build)
        ├── catalog/versions/<name>.json  the versions' derived keys           (catalog.versions)
        ├── catalog/not-collected/<name>.json  datasets no run has published   (catalog.uncollected)
        └── tmp/                        a local store's writes in progress     (storage.local)
"""

from __future__ import annotations

import hashlib
import re

# The files of a version (the data package's own names).
DESCRIPTOR = "datapackage.json"
VALIDATION = "validation.json"
CHANGES = "changes.json"

# Public: what the site serves.
DATASETS = "datasets"
VERSIONS = "versions.json"
CATALOG = "catalog.json"
INDEX = "index.html"  # the catalog's home page, and every folder's page (`<folder>/index.html`)
LATEST = "latest"
DCAT = "dcat"
DCAT_SUFFIXES = {"xml": ".rdf", "turtle": ".ttl", "json-ld": ".jsonld"}
DCAT_FILES = tuple(f"{DCAT}/catalog{suffix}" for suffix in DCAT_SUFFIXES.values())
# The DCAT pages after the first (left behind when the catalog shrinks).
DCAT_LATER_PAGE = re.compile(rf"{DCAT}/catalog-([0-9]+)\.(?:rdf|ttl|jsonld)")
REGION_PATH = "region/"
MUNICIPALITIES = "kommuner"
# What anyone may read below the store's prefix (an S3 bucket policy's resources).
PUBLIC_AREAS = (
    INDEX,
    CATALOG,
    f"{DCAT}/*",
    f"{DATASETS}/*",
    f"{MUNICIPALITIES}/*",  # the places' pages: the DCAT dct:Location IRIs resolve to them
    f"{REGION_PATH.rstrip('/')}/*",
)
# Keys inside an immutable version folder: caches may keep them for a year.
VERSION_FILE = re.compile(rf"^{DATASETS}/[a-z0-9]+(?:-[a-z0-9]+)*/\d+\.\d+\.\d+/")

# Private: never served, never listed.
PRIVATE = "_private"
CACHE_PREFIX = f"{PRIVATE}/cache/"
STALE = f"{PRIVATE}/stale"
STEWARDS = f"{PRIVATE}/stewards.json"
TEMPORARY = f"{PRIVATE}/tmp"
CATALOG_PRIVATE = f"{PRIVATE}/catalog"
LISTINGS = f"{CATALOG_PRIVATE}/listings.json"
FRAGMENTS = f"{CATALOG_PRIVATE}/dcat"
KEPT_VERSIONS = f"{CATALOG_PRIVATE}/versions"
NOT_COLLECTED = f"{CATALOG_PRIVATE}/not-collected"


def dataset_prefix(name: str) -> str:
    """The dataset's folder (without a trailing slash)."""
    return f"{DATASETS}/{name}"


def versions_key(name: str) -> str:
    """The dataset's pointer: its versions and the claims on them."""
    return f"{dataset_prefix(name)}/{VERSIONS}"


def dataset_of_pointer(key: str) -> str | None:
    """The dataset whose pointer `key` is, for a key listed under DATASETS (None: another key)."""
    return key.split("/")[1] if key.endswith(f"/{VERSIONS}") else None


def version_prefix(name: str, version: object) -> str:
    """The immutable folder of one version (without a trailing slash)."""
    return f"{dataset_prefix(name)}/{version}"


def version_key(name: str, version: object, filename: str) -> str:
    return f"{version_prefix(name, version)}/{filename}"


def dataset_key_of_url(url: str) -> str:
    """The store key a public URL of a dataset's file names (whatever the base URL)."""
    return f"{DATASETS}/" + url.split(f"/{DATASETS}/", 1)[1]


def latest_prefix(name: str) -> str:
    """The stable `latest/` copies (without a trailing slash)."""
    return f"{dataset_prefix(name)}/{LATEST}"


def latest_key(name: str, filename: str) -> str:
    return f"{latest_prefix(name)}/{filename}"


def descriptor_path(version: object) -> str:
    """A version's descriptor relative to its dataset's folder (versions.json's `datapackage`)."""
    return f"{version}/{DESCRIPTOR}"


def page_key(folder: str) -> str:
    """The page of a folder (`folder` with or without its trailing slash)."""
    return f"{folder.rstrip('/')}/{INDEX}"


def dataset_page_key(name: str) -> str:
    return page_key(dataset_prefix(name))


def version_page(version: object) -> str:
    """A version's page, relative to its dataset's folder: beside the version's immutable
    folder, not in it (the page shows what changes: its status, a withdrawal). Its RDF is at
    the same name with .rdf, .ttl and .jsonld."""
    return f"{version}.html"


def dcat_page_key(number: int, syntax: str = "xml") -> str:
    """The store key of DCAT page `number` (1: `dcat/catalog.rdf`, 2: `dcat/catalog-2.rdf`)."""
    suffix = DCAT_SUFFIXES[syntax]
    return f"{DCAT}/catalog{suffix}" if number == 1 else f"{DCAT}/catalog-{number}{suffix}"


def municipality_path(code: str) -> str:
    """The site path (and IRI below the base URL) of a municipality's dct:Location."""
    return f"{MUNICIPALITIES}/{code}/"


def stale_key(dataset: str, run: str) -> str:
    """A run's journal mark on a dataset (`run`: boot-pid-start, unique per process)."""
    return f"{STALE}/{dataset}/{run}.json"


def dataset_of_mark(key: str) -> str | None:
    """The dataset a journal mark's key names (None: a key under STALE that is no mark)."""
    parts = key.split("/")
    if len(parts) != len(stale_key("d", "r").split("/")) or not key.endswith(".json"):
        return None
    return parts[-2]


def repair_key(dataset: str) -> str:
    """The ownerless mark that asks the next run to repair the dataset's derived files."""
    return f"{STALE}/{dataset}/repair.json"


def fragment_key(name: str) -> str:
    return f"{FRAGMENTS}/{name}.json"


def kept_versions_key(name: str) -> str:
    return f"{KEPT_VERSIONS}/{name}.json"


def not_collected_key(name: str) -> str:
    return f"{NOT_COLLECTED}/{name}.json"


class Deliveries:
    """Every store key of the steward deliveries (opendata.deliveries)."""

    ROOT = f"{PRIVATE}/deliveries"
    INBOX = "_inbox"

    @staticmethod
    def file(sha256: str) -> str:
        return f"{Deliveries.ROOT}/files/sha256/{sha256[:2]}/{sha256}"

    @staticmethod
    def records(dataset: str) -> str:
        return f"{Deliveries.ROOT}/records/{dataset}/"

    @staticmethod
    def record(dataset: str, delivery_id: str) -> str:
        return f"{Deliveries.records(dataset)}{delivery_id}.json"

    @staticmethod
    def by_content(dataset: str, source: str, sha256: str) -> str:
        source_key = hashlib.sha256(source.encode()).hexdigest()[:16]
        return f"{Deliveries.ROOT}/by-content/{dataset}/{source_key}-{sha256}.json"

    @staticmethod
    def current(dataset: str) -> str:
        return f"{Deliveries.ROOT}/current/{dataset}.json"

    @staticmethod
    def lease(dataset: str) -> str:
        return f"{Deliveries.ROOT}/leases/{dataset}.json"

    @staticmethod
    def inbox(dataset: str) -> str:
        return f"{Deliveries.INBOX}/{dataset}/"
