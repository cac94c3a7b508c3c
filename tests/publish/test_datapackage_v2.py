"""Issue 18, item 5: every published descriptor is a valid Data Package v2, and frictionless 5
reads every copy of every table with the types its Table Schema declares.

- The official v2 JSON Schemas as the `dplib-py` package ships them (PyPI; not a copy of ours):
  each descriptor of a freshly published store, every version's and `latest/`'s, against
  datapackage.json, each of its resources against dataresource.json and each inline Table
  Schema against tableschema.json, the schema each `$schema` names.
- frictionless 5: every resource declared `"type": "table"` (the CSV, the JSON and the Parquet
  copy of each table; only an empty table's JSON copy, `[]`, which frictionless 5.21 cannot read
  as a table, is declared a file) reads row by row without an error, each value of its declared
  type (a year as an int, also in a column with missing years: not 2021.0), and holds the CSV's
  rows; `Package.validate()` is clean.
- Published again, the same content is `unchanged` and no file is written.

The store holds the tests' frozen datasets (tests/fixtures/home) and avfallsplan-uppfoljning
from the local fake of Kolada (tests/fakeapis.py): six datasets, twelve descriptors.
"""

from __future__ import annotations

import datetime
import decimal
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dplib
import jsonschema
import pytest
from frictionless import Package

from tests.collect.test_uppfoljning import serve_waste_kpis
from tests.conftest import OFFLINE_DATASETS, copy_home, run_cli, snapshot
from tests.fakeapis import shared_server

PROFILES = Path(dplib.__file__).parent / "profiles" / "2.0"
PROFILE_URL = "https://datapackage.org/profiles/2.0/"
DATASETS = sorted([*OFFLINE_DATASETS, "avfallsplan-uppfoljning"])


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path, str]]:
    """(home, store, Kolada URL): every dataset published once to a scratch store."""
    fake = shared_server()
    fake.reset()
    serve_waste_kpis(fake)
    home = copy_home(tmp_path_factory.mktemp("home"))
    store = home / "public"
    result = publish(home, store, fake.kolada)
    assert result.returncode == 0, result.stdout + result.stderr
    outcomes = {o["dataset"]: o for o in json.loads(result.stdout)}
    assert {name: o["status"] for name, o in outcomes.items()} == dict.fromkeys(
        DATASETS, "published"
    )
    try:
        yield home, store, fake.kolada
    finally:
        fake.reset()


def publish(home: Path, store: Path, kolada: str) -> Any:
    return run_cli(
        ["publish", "--no-prefect", "--json", "--store", str(store)],
        home,
        OPENDATA_KOLADA_URL=kolada,
        OPENDATA_RETRY_BACKOFF="0.05",
    )


def profile(url: str) -> dict[str, Any]:
    """The official JSON Schema a `$schema` URL names, from dplib-py's copy of the profiles."""
    assert url.startswith(PROFILE_URL), url
    schema: dict[str, Any] = json.loads((PROFILES / url.removeprefix(PROFILE_URL)).read_bytes())
    return schema


def problems(instance: Any, url: str) -> list[str]:
    schema = profile(url)
    validator = jsonschema.validators.validator_for(schema)(
        schema, format_checker=jsonschema.FormatChecker()
    )
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(instance)
    ]


def descriptors(store: Path) -> list[Path]:
    return sorted(store.glob("datasets/*/*/datapackage.json"))


def test_every_descriptor_validates_against_the_official_v2_json_schemas(
    published: tuple[Path, Path, str],
) -> None:
    _, store, _ = published
    paths = descriptors(store)
    assert len(paths) == 12  # a version and latest/ of each of the six datasets
    assert {p.parent.name for p in paths} == {"1.0.0", "latest"}
    for path in paths:
        descriptor = json.loads(path.read_bytes())
        assert descriptor["$schema"] == f"{PROFILE_URL}datapackage.json"
        found = problems(descriptor, descriptor["$schema"])
        for resource in descriptor["resources"]:
            assert resource["$schema"] == f"{PROFILE_URL}dataresource.json"
            found += [f"{resource['name']}: {p}" for p in problems(resource, resource["$schema"])]
            schema = resource["schema"]
            assert schema["$schema"] == f"{PROFILE_URL}tableschema.json"
            found += [f"{resource['name']}: {p}" for p in problems(schema, schema["$schema"])]
        assert found == [], path


def test_the_official_schemas_refuse_what_v2_does_not_allow() -> None:
    """The check above can fail: v2 knows no resource type but `table`."""
    resource = {"name": "t-parquet", "type": "file", "path": "t.parquet", "format": "parquet"}
    assert problems(resource, f"{PROFILE_URL}dataresource.json") == [
        "type: 'file' is not one of ['table']"
    ]


# The Python types frictionless 5 reads a cell of each Table Schema type as (None: missing).
PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "year": (int,),
    "number": (decimal.Decimal, float),
    "boolean": (bool,),
    "date": (datetime.date,),
    "yearmonth": (tuple,),
}


def test_frictionless_reads_every_table_copy_with_its_declared_types(
    published: tuple[Path, Path, str],
) -> None:
    _, store, _ = published
    read: dict[str, int] = {"csv": 0, "json": 0, "parquet": 0}
    years_with_nulls = 0
    for path in store.glob("datasets/*/1.0.0/datapackage.json"):
        descriptor = json.loads(path.read_bytes())
        package = Package(str(path))
        csv_rows: dict[str, list[dict[str, Any]]] = {}
        for resource in descriptor["resources"]:
            if resource.get("type") != "table":
                assert resource["format"] == "json"
                assert (path.parent / resource["path"]).read_bytes() == b"[]\n"
                continue
            rows = package.get_resource(resource["name"]).read_rows()
            assert [row.errors for row in rows if row.errors] == [], resource["name"]
            records = [row.to_dict() for row in rows]
            fields = {f["name"]: f["type"] for f in resource["schema"]["fields"]}
            for record in records:
                assert list(record) == list(fields)
                for name, value in record.items():
                    assert value is None or isinstance(value, PYTHON_TYPES[fields[name]]), (
                        resource["name"],
                        name,
                        value,
                    )
                    assert not (fields[name] != "boolean" and isinstance(value, bool))
            for name, kind in fields.items():
                values = [record[name] for record in records]
                if kind == "year" and None in values and any(v is not None for v in values):
                    years_with_nulls += resource["format"] == "parquet"
            table = resource["name"].removesuffix("-json").removesuffix("-parquet")
            if resource["format"] == "csv":
                csv_rows[table] = records
            else:
                assert records == csv_rows[table], resource["name"]
            read[resource["format"]] += 1
        report = package.validate()
        assert report.valid, report.flatten(["type", "note"])
    # Every copy of every table of the six datasets (18 tables), the JSON of the empty one aside.
    assert read == {"csv": 18, "json": 17, "parquet": 18}
    assert years_with_nulls >= 2  # avfallsplan's jamforelsear, handlingsplan's slutar and malar


def test_the_same_content_published_again_is_unchanged(
    published: tuple[Path, Path, str],
) -> None:
    home, store, kolada = published
    before = snapshot(store / "datasets")
    result = publish(home, store, kolada)
    assert result.returncode == 0, result.stdout + result.stderr
    assert {o["dataset"]: o["status"] for o in json.loads(result.stdout)} == dict.fromkeys(
        DATASETS, "unchanged"
    )
    assert snapshot(store / "datasets") == before
