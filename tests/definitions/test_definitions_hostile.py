"""Issue 19, item 1: definitions and schemas never crash a run.

Whatever a dataset.yaml or a Table Schema holds — a key twice, aliases, thousands of levels of
nesting, a symlink loop, a field type that is no Table Schema type, keys naming no field, a
foreign key to no resource, any JSON or YAML structure at all — `load_dataset` answers with a
DefinitionError naming the file and the key (exit 2 at the CLI), decided before any data is
read, or accepts the definition; no other exception escapes.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opendata.definitions import load_dataset
from opendata.errors import DefinitionError
from opendata.table_schemas import load_schema
from tests.conftest import FIXTURE_HOME, copy_home


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return copy_home(tmp_path / "home", "avfallsplan")


def definition(home: Path) -> Path:
    return home / "datasets" / "avfallsplan" / "dataset.yaml"


def refusal(home: Path) -> str:
    with pytest.raises(DefinitionError) as caught:
        load_dataset(home / "datasets" / "avfallsplan", home / "schemas")
    return str(caught.value)


def test_a_key_given_twice_names_both_lines(home: Path) -> None:
    path = definition(home)
    lines = path.read_text("utf-8").splitlines(keepends=True)
    title = next(n for n, line in enumerate(lines) if line.startswith("title:"))
    lines.append("title: Något annat\n")
    path.write_text("".join(lines), "utf-8")
    message = refusal(home)
    assert message.startswith(f"{path}: not valid YAML:")
    assert f"the key 'title' is given twice (first on line {title + 1})" in message
    assert f"line {len(lines)}, column 1" in message


def test_aliases_and_anchors_are_refused(home: Path) -> None:
    path = definition(home)
    path.write_text("a: &x [1, 2]\nb: *x\n" + path.read_text("utf-8"), "utf-8")
    assert "an anchor (&name) is not allowed here" in refusal(home)
    path.write_text("b: *x\n", "utf-8")
    assert "an alias (*name) is not allowed here" in refusal(home)
    laughs = "".join(f"l{n}: &l{n} [*l{n - 1}, *l{n - 1}]\n" for n in range(1, 30))
    path.write_text("l0: &l0 [lol]\n" + laughs, "utf-8")
    assert "not allowed here" in refusal(home)


@pytest.mark.parametrize("depth", [33, 5000, 200_000])
def test_deep_nesting_is_refused_clearly(home: Path, depth: int) -> None:
    path = definition(home)
    path.write_text("title: " + "[" * depth + "]" * depth + "\n", "utf-8")
    message = refusal(home)
    assert message.startswith(f"{path}: ")
    assert "nested deeper than 32 levels" in message or "larger than" in message


def test_a_symlink_loop_as_a_source_path_is_named(home: Path) -> None:
    folder = home / "datasets" / "avfallsplan" / "sources"
    os.symlink("loop-b", folder / "loop-a")
    os.symlink("loop-a", folder / "loop-b")
    path = definition(home)
    text = path.read_text("utf-8")
    declared = "        path: sources/malomraden.csv\n"
    assert declared in text
    path.write_text(text.replace(declared, "        path: sources/loop-a/mal.csv\n"), "utf-8")
    message = refusal(home)
    assert message.startswith(f"{path}: path: 'sources/loop-a/mal.csv': a loop of symbolic links")


def write_schema(home: Path, change: Any) -> Path:
    path = home / "schemas" / "avfallsplan-mal.json"
    schema = json.loads(path.read_text("utf-8"))
    change(schema)
    path.write_text(json.dumps(schema), "utf-8")
    return path


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda s: s["fields"][1].update(type="strng"),
            "fields.1.type: 'strng' is not a Table Schema type (one of string, number,",
        ),
        (lambda s: s["fields"].insert(0, "kommunkod"), "fields.0: a field is an object"),
        (lambda s: s["fields"][0].pop("name"), "fields.0.name: every field needs a name"),
        (
            lambda s: s.update(primaryKey=["id", "finns_inte"]),
            "primaryKey: 'finns_inte' is not a field of the schema (its fields: 'id',",
        ),
        (
            lambda s: s["foreignKeys"][0]["reference"].update(resource="saknas"),
            "foreignKeys.0.reference.resource: 'saknas' is not a resource of the dataset "
            "(its resources: 'malomraden', 'mal')",
        ),
        (
            lambda s: s["foreignKeys"][0]["reference"].update(fields=["finns_inte"]),
            "foreignKeys.0.reference.fields: 'finns_inte' not a field of 'malomraden'",
        ),
        (
            lambda s: s["fields"][1].update(constraints={"pattern": "(unclosed"}),
            "fields.1.constraints.pattern: '(unclosed' is not a regular expression",
        ),
        (lambda s: s.update(fields={"a": 1}), "fields: a Table Schema needs a non-empty list"),
        (lambda s: s.update(missingValues="NA"), "missingValues: a list of texts"),
    ],
)
def test_a_broken_schema_is_named_before_any_data_is_read(
    home: Path, change: Any, expected: str
) -> None:
    path = write_schema(home, change)
    message = refusal(home)
    assert message.startswith(f"{path}: "), message
    assert expected in message, message


def test_a_key_given_twice_in_a_schema_is_refused(home: Path) -> None:
    path = home / "schemas" / "avfallsplan-mal.json"
    text = path.read_text("utf-8")
    path.write_text(text.replace("{", '{"primaryKey": "x", ', 1), "utf-8")
    assert refusal(home) == f"{path}: the key 'primaryKey' is given twice"


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=30,
)
KEYS = st.sampled_from(
    ["fields", "name", "type", "format", "constraints", "primaryKey", "foreignKeys",
     "reference", "resource", "missingValues", "pattern", "required", "enum"]
)  # fmt: skip
SCHEMA_LIKE = st.recursive(
    JSON,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=5),
    max_leaves=40,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schema=SCHEMA_LIKE)
def test_any_json_as_a_schema_is_accepted_or_a_definition_error(
    tmp_path_factory: pytest.TempPathFactory, schema: Any
) -> None:
    folder = tmp_path_factory.mktemp("schemas")
    (folder / "s.json").write_text(json.dumps(schema), "utf-8")
    try:
        load_schema(folder, "s.json", "dataset.yaml: resources.0.schema")
    except DefinitionError as error:
        assert str(error).startswith(str(folder / "s.json"))


def mutations(value: Any) -> st.SearchStrategy[Any]:
    """The real definition with one value somewhere replaced by arbitrary JSON."""
    paths: list[tuple[Any, ...]] = []

    def walk(node: Any, path: tuple[Any, ...]) -> None:
        paths.append(path)
        if isinstance(node, dict):
            for key, item in node.items():
                walk(item, (*path, key))
        elif isinstance(node, list):
            for index, item in enumerate(node):
                walk(item, (*path, index))

    walk(value, ())

    def replaced(path: tuple[Any, ...], new: Any) -> Any:
        copy = json.loads(json.dumps(value))
        if not path:
            return new
        node = copy
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = new
        return copy

    return st.builds(replaced, st.sampled_from(paths), SCHEMA_LIKE)


REAL_DEFINITION = yaml.safe_load(
    (FIXTURE_HOME / "datasets" / "avfallsplan" / "dataset.yaml").read_text("utf-8")
)
REAL_SCHEMA = json.loads((FIXTURE_HOME / "schemas" / "avfallsplan-mal.json").read_text("utf-8"))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_real_definitions_and_schemas_never_crash(
    tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    home = copy_home(tmp_path_factory.mktemp("home"), "avfallsplan")
    which = data.draw(st.sampled_from(["definition", "schema"]))
    if which == "definition":
        mutated = data.draw(mutations(REAL_DEFINITION))
        definition(home).write_text(yaml.safe_dump(mutated, allow_unicode=True), "utf-8")
    else:
        mutated = data.draw(mutations(REAL_SCHEMA))
        (home / "schemas" / "avfallsplan-mal.json").write_text(json.dumps(mutated), "utf-8")
    try:
        load_dataset(home / "datasets" / "avfallsplan", home / "schemas")
    except DefinitionError as error:
        assert str(error).startswith(str(home)), str(error)
