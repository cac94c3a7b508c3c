"""One Store interface, chosen from a URL: a local folder, an S3 bucket, or (read-only) a site over
HTTP(S)."""

from opendata.storage.base import Store, cache_control_for, content_type_for
from opendata.storage.local import LocalStore
from opendata.storage.open import open_store

__all__ = ["LocalStore", "Store", "cache_control_for", "content_type_for", "open_store"]
