"""The catalog: catalog.json and the human index page, derived from the store alone."""

from opendata.catalog.build import build_catalog, rebuild_catalog

__all__ = ["build_catalog", "rebuild_catalog"]
