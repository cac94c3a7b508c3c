"""Collectors: one module per source kind, each turning a declared source into staged rows.

Every row remembers where it came from (file, sheet, row), so that a validation error on the
published table can be reported against the steward's own file.
"""

from opendata.collect.core import collect_resource

__all__ = ["collect_resource"]
