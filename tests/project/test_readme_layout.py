"""The README's Layout names every module of src/opendata (issue 20): a newcomer finds the room
for a change there, and a module nobody listed is a room nobody can find."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import REPO


def layout_section(readme: str) -> str:
    """The Layout section's code block."""
    section = readme[readme.index("## Layout") :]
    start = section.index("```") + 3
    return section[start : section.index("```", start)]


def unlisted(source: Path, layout: str) -> list[str]:
    """The modules under `source` whose file name the layout does not mention."""
    return [
        str(path.relative_to(source))
        for path in sorted(source.rglob("*.py"))
        if path.name != "__init__.py"
        and "__pycache__" not in path.parts
        and path.name not in layout
    ]


def test_the_layout_names_every_module() -> None:
    layout = layout_section((REPO / "README.md").read_text("utf-8"))
    assert "publish.py" in layout and "worker.py" in layout
    assert unlisted(REPO / "src" / "opendata", layout) == []


def test_a_module_left_out_is_found(tmp_path: Path) -> None:
    (tmp_path / "room").mkdir()
    (tmp_path / "room" / "listed.py").write_text("")
    (tmp_path / "room" / "forgotten.py").write_text("")
    assert unlisted(tmp_path, "room/  listed.py  what it does") == ["room/forgotten.py"]
