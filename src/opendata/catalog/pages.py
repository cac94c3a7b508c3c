"""The static HTML site: the catalog's index and one page per dataset (Jinja2, autoescaped)."""

from __future__ import annotations

from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape


@cache
def environment() -> Environment:
    return Environment(
        loader=PackageLoader("opendata", "templates"),
        autoescape=select_autoescape(["html"]),
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_index(catalog: dict[str, Any]) -> str:
    return environment().get_template("index.html").render(catalog=catalog)


def render_dataset_page(
    entry: dict[str, Any], previews: dict[str, list[list[str]]], catalog: dict[str, Any]
) -> str:
    return (
        environment()
        .get_template("dataset.html")
        .render(dataset=entry, previews=previews, catalog=catalog)
    )
