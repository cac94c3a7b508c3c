"""Researchers' recipes: how to load a dataset's tables, and compare two versions, as code.

The dataset page shows them ("Så läser du data / How to load the data"), made from the
catalog entry: the stable `latest/` URLs and a chosen version's own URLs, each table read with
its text fields as text (from the Table Schema: a `string` field such as `kommunkod` stays
`"1442"`, never the number 1442), in pandas, DuckDB, R (readr; arrow for Parquet) and
frictionless, and two versions compared with `opendata diff … --store <the site>` (which reads
the published site over HTTP), pandas or DuckDB. Every literal is quoted for its language, so
a field name of any text gives code that runs; the page escapes the code as any other text.
"""

from __future__ import annotations

import json
import keyword
import re
from dataclasses import dataclass

from opendata.layout import DESCRIPTOR
from opendata.state import CatalogEntry, CatalogResource, Status


@dataclass(frozen=True)
class Table:
    """A table as the recipes read it: its name, a variable for it, its CSV and Parquet files
    (names inside a version's folder), its text fields and its primary key."""

    name: str
    variable: str
    csv: str
    parquet: str | None
    text_fields: list[str]
    primary_key: list[str]


@dataclass(frozen=True)
class Recipe:
    ident: str  # the recipe's anchor on the page: las-<ident>
    title: str
    code: str
    note: str | None = None


@dataclass(frozen=True)
class Recipes:
    """What the page's section shows: the URLs, one recipe per tool, and the comparison."""

    latest: str  # the folder of the stable latest URLs
    version: str  # the chosen version (the latest's number) and its folder
    version_folder: str
    store: str  # the site's root: what `opendata diff --store` reads
    older: str | None  # the version before `version`, for the comparison (None: only one)
    loading: list[Recipe]
    comparing: list[Recipe]


def variable(name: str) -> str:
    """A table's name as a variable in Python and R: `utslapp-totalt` → `utslapp_totalt`."""
    text = re.sub(r"\W", "_", name, flags=re.ASCII)
    if not text or not (text[0].isalpha()) or keyword.iskeyword(text):
        text = f"t_{text}"
    return text


def text_fields(resource: CatalogResource) -> list[str]:
    """The fields read as text: Table Schema `string` (a field without a type is one too)."""
    return [
        str(field["name"])
        for field in resource.get("schema", {}).get("fields", [])
        if field.get("type", "string") in ("string", None)
    ]


def primary_key(resource: CatalogResource) -> list[str]:
    key = resource.get("schema", {}).get("primaryKey") or []
    return [key] if isinstance(key, str) else [str(k) for k in key]


def tables(entry: CatalogEntry) -> list[Table]:
    found = []
    for resource in entry.get("resources", []):
        files = {f["format"].upper(): f["name"] for f in resource.get("files", [])}
        if "CSV" not in files:
            continue
        found.append(
            Table(
                resource["name"],
                variable(resource["name"]),
                files["CSV"],
                files.get("PARQUET"),
                text_fields(resource),
                primary_key(resource),
            )
        )
    return found


def folder(descriptor_url: str) -> str:
    return descriptor_url.removesuffix(DESCRIPTOR)


def python_text(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def r_name(name: str) -> str:
    """A field as an argument name in R: as it is when syntactic, else quoted."""
    if re.fullmatch(r"[A-Za-z][A-Za-z0-9._]*", name) and name not in R_RESERVED:
        return name
    return python_text(name)  # R reads a double-quoted string with JSON's escapes


R_RESERVED = {"if", "else", "repeat", "while", "function", "for", "next", "break", "TRUE"}
R_RESERVED |= {"FALSE", "NULL", "Inf", "NaN", "NA", "in"}


def main_table(found: list[Table], entry: CatalogEntry) -> Table:
    """The table the single-table examples use: the one with the most rows (the first of
    equals), the dataset's own data rather than a shared list such as `kommuner`."""
    rows = {r["name"]: r.get("rows") or 0 for r in entry.get("resources", [])}
    return max(found, key=lambda table: rows.get(table.name, 0))


# -- the recipes ---------------------------------------------------------------------------------


def pandas_recipe(found: list[Table], main: Table, latest: str, chosen: str, version: str) -> str:
    lines = [
        "import pandas as pd",
        "",
        "# Senaste versionen (stabil adress) / the latest version:",
        f"bas = {python_text(latest)}",
        f"# En viss version, här {version} / a chosen version:",
        f"# bas = {python_text(chosen)}",
        "",
    ]
    for table in found:
        if table.text_fields:
            types = ", ".join(f'{python_text(f)}: "string"' for f in table.text_fields)
            lines += [
                f"{table.variable} = pd.read_csv(",
                f"    bas + {python_text(table.csv)},",
                f"    dtype={{{types}}},",
                ")",
            ]
        else:
            lines.append(f"{table.variable} = pd.read_csv(bas + {python_text(table.csv)})")
    if main.parquet:
        lines += [
            "",
            "# Parquet: typerna finns i filen / Parquet carries its types (pyarrow):",
            f"{main.variable} = pd.read_parquet(bas + {python_text(main.parquet)})",
        ]
    return "\n".join(lines)


def quote_literal(text: str) -> str:
    """An SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def duckdb_types(table: Table) -> str:
    if not table.text_fields:
        return ""
    pairs = ", ".join(f"{quote_literal(f)}: 'VARCHAR'" for f in table.text_fields)
    return f", types = {{{pairs}}}"


def duckdb_recipe(found: list[Table], main: Table, latest: str, chosen: str, version: str) -> str:
    lines = [
        "-- https-adresser läses med tillägget httpfs / https URLs need the httpfs extension:",
        "INSTALL httpfs;",
        "LOAD httpfs;",
        "",
        "-- Senaste versionen / the latest version:",
    ]
    for table in found:
        lines.append(
            f"CREATE TABLE {sql_name(table.name)} AS SELECT * FROM read_csv("
            f"{quote_literal(latest + table.csv)}{duckdb_types(table)});"
        )
    lines += ["", f"-- En viss version, här {version} / a chosen version:"]
    lines.append(f"SELECT * FROM read_csv({quote_literal(chosen + main.csv)}{duckdb_types(main)});")
    if main.parquet:
        lines += [
            "",
            "-- Parquet: typerna finns i filen / Parquet carries its types:",
            f"SELECT * FROM read_parquet({quote_literal(latest + main.parquet)});",
        ]
    return "\n".join(lines)


def sql_name(name: str) -> str:
    if re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        return name
    return '"' + name.replace('"', '""') + '"'


def r_recipe(found: list[Table], main: Table, latest: str, chosen: str, version: str) -> str:
    lines = [
        "library(readr)",
        "",
        f"bas <- {python_text(latest)}  # senaste versionen / the latest version",
        f"# bas <- {python_text(chosen)}  # version {version}",
        "",
    ]
    for table in found:
        if table.text_fields:
            columns = ", ".join(f"{r_name(f)} = col_character()" for f in table.text_fields)
            lines += [
                f"{table.variable} <- read_csv(paste0(bas, {python_text(table.csv)}),",
                f"  col_types = cols({columns}))",
            ]
        else:
            lines.append(f"{table.variable} <- read_csv(paste0(bas, {python_text(table.csv)}))")
    if main.parquet:
        lines += [
            "",
            "# Parquet med arrow / Parquet with arrow (the file's own types):",
            "library(arrow)",
            'fil <- tempfile(fileext = ".parquet")',
            f'download.file(paste0(bas, {python_text(main.parquet)}), fil, mode = "wb")',
            f"{main.variable} <- read_parquet(fil)",
        ]
    return "\n".join(lines)


def frictionless_recipe(main: Table, latest: str, chosen: str, version: str) -> str:
    return "\n".join(
        [
            "# Kommandoraden: validera mot scheman och kontrollsummor / validate:",
            f"frictionless validate {latest}{DESCRIPTOR}",
            f"frictionless validate {chosen}{DESCRIPTOR}  # version {version}",
            "",
            "# Python: raderna typade enligt Table Schema / rows typed by the Table Schema",
            "from frictionless import Package",
            "",
            f"paket = Package({python_text(latest + DESCRIPTOR)})",
            f"rader = paket.get_resource({python_text(main.name)}).read_rows()",
        ]
    )


def diff_recipe(name: str, store: str, older: str, newer: str) -> str:
    return "\n".join(
        [
            f"opendata diff {name} {older} {newer} --store {store}",
            f"opendata diff {name} {older} {newer} --store {store} --json  # maskinläsbart",
            f"opendata history {name} --store {store}",
        ]
    )


def pandas_compare(main: Table, dataset: str, older: str, newer: str) -> str:
    types = ", ".join(f'{python_text(f)}: "string"' for f in main.text_fields)
    read = f"pd.read_csv(bas + version + {python_text('/' + main.csv)}"
    read += f", dtype={{{types}}})" if types else ")"
    return "\n".join(
        [
            "import pandas as pd",
            "",
            f"bas = {python_text(dataset)}",
            "",
            "def las(version):",
            f"    return {read}",
            "",
            f"fore, efter = las({python_text(older)}), las({python_text(newer)})",
            "# rader som är nya eller ändrade / rows new or changed:",
            'nya = efter.merge(fore, how="left", indicator=True)',
            'nya = nya[nya["_merge"] == "left_only"]',
            "# rader som är borttagna eller ändrade / rows removed or changed:",
            'gamla = fore.merge(efter, how="left", indicator=True)',
            'gamla = gamla[gamla["_merge"] == "left_only"]',
        ]
    )


def duckdb_compare(main: Table, dataset: str, older: str, newer: str) -> str:
    def read(version: str) -> str:
        url = f"{dataset}{version}/{main.csv}"
        return f"SELECT * FROM read_csv({quote_literal(url)}{duckdb_types(main)})"

    return "\n".join(
        [
            f"-- rader som är nya eller ändrade i {newer} / rows new or changed in {newer}:",
            read(newer),
            "EXCEPT",
            f"{read(older)};",
            "",
            f"-- rader i {older} som är borttagna eller ändrade / rows removed or changed:",
            read(older),
            "EXCEPT",
            f"{read(newer)};",
        ]
    )


def recipes(entry: CatalogEntry, homepage: str) -> Recipes | None:
    """The recipes for a dataset with a latest version (None without one, or without tables)."""
    found = tables(entry)
    latest_descriptor = entry.get("datapackage")
    versions = [
        v
        for v in entry.get("versions", [])
        if v.get("status") == Status.PUBLISHED and not v.get("files_deleted")
    ]
    current = next((v for v in versions if v["version"] == entry.get("latest")), None)
    if not found or not latest_descriptor or current is None or not homepage:
        return None
    main = main_table(found, entry)
    latest = folder(latest_descriptor)
    version = str(current["version"])
    chosen = folder(current["datapackage"])
    dataset = chosen.removesuffix(f"{version}/")
    older_ones = versions[versions.index(current) + 1 :]
    older = str(older_ones[0]["version"]) if older_ones else None
    compare_from = older or version
    name = str(entry["name"])
    loading = [
        Recipe("pandas", "Python med pandas", pandas_recipe(found, main, latest, chosen, version)),
        Recipe("duckdb", "DuckDB", duckdb_recipe(found, main, latest, chosen, version)),
        Recipe("r", "R med readr och arrow", r_recipe(found, main, latest, chosen, version)),
        Recipe("frictionless", "frictionless", frictionless_recipe(main, latest, chosen, version)),
    ]
    comparing = [
        Recipe("diff", "opendata diff", diff_recipe(name, homepage, compare_from, version)),
        Recipe("pandas-jamfor", "pandas", pandas_compare(main, dataset, compare_from, version)),
        Recipe("duckdb-jamfor", "DuckDB", duckdb_compare(main, dataset, compare_from, version)),
    ]
    return Recipes(latest, version, chosen, homepage, older, loading, comparing)
