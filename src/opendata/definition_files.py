"""Reading a steward's definition files safely: YAML without its surprises (no aliases, tags
or duplicate keys, bounded size and depth), paths that never leave their folder, and the names
and file patterns a definition may use. What the definitions and the Table Schemas share.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from opendata.errors import DefinitionError

SLUG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
# A file name with at most one placeholder, `{field}`, standing for a part such as the year.
PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")
PATTERN_NAME = re.compile(r"^[^{}]*(\{[a-z_][a-z0-9_]*\}[^{}]*)?$")


def pattern_regex(path: str) -> re.Pattern[str]:
    """The concrete paths a pattern path stands for: the placeholder is one or more characters
    of a file name (letters, digits, '.', '_', '-'; never a '/')."""
    found = PLACEHOLDER.search(path)
    if found is None:
        return re.compile(re.escape(path))
    before, after = path[: found.start()], path[found.end() :]
    return re.compile(f"{re.escape(before)}([A-Za-z0-9][A-Za-z0-9._-]*?){re.escape(after)}")


DEFINITION_FILE = "dataset.yaml"
# A dataset.yaml or Table Schema is a page or two; past these it is no definition a steward wrote.
DEFINITION_MAX_BYTES = 1 << 20
DEFINITION_MAX_DEPTH = 32


class StrictYamlLoader(yaml.SafeLoader):
    """YAML read as a steward means it: a key given twice is an error naming both lines (not,
    silently, its last value), anchors and aliases are refused (a definition has no use for
    them, and they are how a few lines expand into millions of values), and nesting is bounded
    (PyYAML composes recursively: thousands of levels ended in a RecursionError)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            raise yaml.composer.ComposerError(
                None,
                None,
                "an alias (*name) is not allowed here: write the value out",
                self.peek_event().start_mark,  # type: ignore[no-untyped-call]
            )
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if getattr(event, "anchor", None):
            raise yaml.composer.ComposerError(
                None, None, "an anchor (&name) is not allowed here", event.start_mark
            )
        self.depth += 1
        try:
            if self.depth > DEFINITION_MAX_DEPTH:
                raise yaml.composer.ComposerError(
                    None,
                    None,
                    f"nested deeper than {DEFINITION_MAX_DEPTH} levels",
                    event.start_mark,
                )
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                first = seen.setdefault(key, key_node.start_mark.line)
            except TypeError:
                continue  # not a possible key: the constructor below says so
            if first != key_node.start_mark.line:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"the key {key!r} is given twice (first on line {first + 1})",
                    key_node.start_mark,
                )
        return super().construct_mapping(node, deep)


def read_yaml(file: Path) -> Any:
    """A definition file's YAML (see StrictYamlLoader); every problem a DefinitionError naming
    the file and the line."""
    text = read_definition_text(file)
    try:
        return yaml.load(text, Loader=StrictYamlLoader)
    except yaml.YAMLError as error:
        raise DefinitionError(f"{file}: not valid YAML: {error}") from None
    except RecursionError:
        raise DefinitionError(f"{file}: nested too deeply to be a definition") from None


def read_definition_text(file: Path) -> str:
    """A definition file's text: UTF-8 and at most DEFINITION_MAX_BYTES."""
    try:
        with file.open("rb") as stream:
            data = stream.read(DEFINITION_MAX_BYTES + 1)
    except OSError as error:
        raise DefinitionError(f"{file}: cannot be read: {error.strerror}") from None
    if len(data) > DEFINITION_MAX_BYTES:
        raise DefinitionError(
            f"{file}: larger than {DEFINITION_MAX_BYTES // 1024} KiB: not a definition"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise DefinitionError(
            f"{file}: not valid UTF-8 (byte {error.start}): save it as UTF-8"
        ) from None


def resolve_inside(root: Path, relative: str, where: str, what: str) -> Path:
    """`root / relative` with symlinks resolved, if that stays inside `root` (the real path of
    the dataset's or the schemas' folder); a loop of symlinks is a DefinitionError too."""
    try:
        real_root = root.resolve()
        resolved = (real_root / relative).resolve()
    except (RuntimeError, OSError) as error:  # 3.11: RuntimeError("Symlink loop from ...")
        raise DefinitionError(f"{where}: {relative!r}: a loop of symbolic links") from error
    if not resolved.is_relative_to(real_root):
        raise DefinitionError(f"{where}: {relative!r} leaves the {what}")
    return resolved
