"""One Store interface, chosen from a URL: a local folder, or (next) S3."""

from opendata.storage.base import Store, content_type_for
from opendata.storage.local import LocalStore
from opendata.storage.open import open_store

__all__ = ["LocalStore", "Store", "content_type_for", "open_store"]
