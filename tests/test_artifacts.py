"""What a steward reads in the Prefect UI: the run's table, the invalid dataset's report, and the
deployment's parameter descriptions.

The builders (opendata.reporting) are checked by rendering their markdown as the UI does (a
CommonMark renderer with tables, raw HTML allowed) and looking at the HTML: source text of any
kind must come out as that text, in its cell, never as a tag, a link or an extra column. The
flow's artifacts are read back through a real Prefect API.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

import flows.publish as flow_module
from opendata import reporting
from opendata.reporting import BUMP, CHANGES, DATASET, LINK, ROWS, STATUS, VERSION
from tests.test_cli import write_broken_copy

RENDERER = MarkdownIt("commonmark", {"html": True}).enable("table")
HOSTILE = [
    "<img src=x onerror=alert(1)>",
    "[klicka](javascript:alert(1))",
    "![x](http://evil.example/x.png)",
    "a | b || c",
    "<script>alert('x')</script>",
    "**fet** _kursiv_ `kod` ~~bort~~",
    "# rubrik\n- lista\n1. lista",
    "&lt; &amp; &#60; \\| \\\\",
    "<http://evil.example> www.evil.example https://evil.example",
    "rad ett\r\nrad två\ttabb\x00nul\u2028",
]


def render(markdown: str) -> str:
    return RENDERER.render(markdown)


def cells(rendered: str) -> list[list[str]]:
    """The text of every body cell of every table, row by row (entities decoded)."""
    rows = re.findall(r"<tr>\n(.*?)</tr>", rendered, re.S)
    found = []
    for row in rows:
        if "<th" in row:
            continue
        found.append([html.unescape(cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row)])
    return found


def shown(text: str) -> str:
    """What `escape` promises to show of `text`: one line, control characters replaced."""
    flat = " ".join(text.split())
    return "".join(
        "\ufffd" if ord(char) < 32 or 0x7F <= ord(char) < 0xA0 else char for char in flat
    )


def assert_inert(rendered: str) -> None:
    assert "<img" not in rendered and "<script" not in rendered
    assert "javascript:" not in re.sub(r"<[^>]*>", "", rendered) or "href" not in rendered
    assert not re.search(r"<a\s", rendered)


INVALID = {
    "dataset": "befolkning-kopia",
    "status": "invalid",
    "version": None,
    "previous_version": None,
    "url": None,
    "rows": None,
    "message": "befolkning-kopia is invalid (3 problems), nothing published: ...",
    "dry_run": False,
    "changes": None,
    "exit_code": 1,
    "problems": [
        {
            "resource": "folkmangd",
            "code": "type-error",
            "message": "'elvatusen': type is \"integer/default\"",
            "row": 7,
            "field": "folkmangd",
            "origin": "befolkning-kopia/sources/folkmangd.csv, row 7",
        },
        {
            "resource": "folkmangd",
            "code": "constraint-error",
            "message": '"-5": constraint "minimum" is "0"',
            "row": 3,
            "field": "folkmangd",
            "origin": "befolkning-kopia/sources/folkmangd.csv, row 3",
        },
        {
            "resource": "folkmangd",
            "code": "primary-key",
            "message": "the same key as row 4",
            "row": 5,
            "field": "kommunkod, ar",
            "origin": "befolkning-kopia/sources/folkmangd.csv, row 5",
        },
    ],
}


# -- the summary table --------------------------------------------------------------------------


def outcome(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "dataset": "avfallsplan",
        "status": "published",
        "version": None,
        "previous_version": None,
        "url": None,
        "rows": None,
        "message": None,
        "dry_run": False,
        "changes": None,
        "exit_code": 0,
        "problems": [],
    }
    return base | fields


URL = "http://localhost:8000/datasets/avfallsplan/2.0.0/datapackage.json"


def test_the_summary_table_says_what_happened_to_each_dataset() -> None:
    rows = reporting.summary_rows(
        [
            outcome(
                version="2.0.0",
                previous_version="1.4.2",
                url=URL,
                rows=12345,
                changes="atgarder: 3 rows changed",
            ),
            outcome(
                dataset="befolkning",
                status="unchanged",
                version="1.0.0",
                previous_version="1.0.0",
                url=URL,
                rows=88,
            ),
            outcome(
                dataset="kolada",
                status="skipped",
                version="1.2.0",
                previous_version="1.2.0",
                message="collected from a public API; skipped offline",
            ),
            INVALID,
            outcome(dataset="trafa", status="failed", exit_code=3, message="access denied"),
            outcome(
                dataset="ny",
                version="1.0.0",
                url=URL,
                rows=9,
                dry_run=True,
                changes="first version",
            ),
        ]
    )
    assert [list(row) for row in rows] == [
        [DATASET, STATUS, VERSION, BUMP, ROWS, CHANGES, LINK]
    ] * 6
    # As the UI shows the cells (they are markdown): the link is a link, the rest text.
    assert rows[0][LINK] == f"[2\\.0\\.0\\/datapackage\\.json]({URL})"
    assert f'<a href="{URL}">2.0.0/datapackage.json</a>' in render(rows[0][LINK])
    assert [shown_row(row) for row in rows] == [
        [
            "avfallsplan",
            "publicerad / published",
            "2.0.0",
            "major",
            "12\u00a0345",
            "atgarder: 3 rows changed",
            "2.0.0/datapackage.json",
        ],
        ["befolkning", "oförändrad / unchanged", "1.0.0", "", "88", "", "2.0.0/datapackage.json"],
        [
            "kolada",
            "hoppades över / skipped",
            "1.2.0",
            "",
            "",
            "collected from a public API; skipped offline",
            "",
        ],
        [
            "befolkning-kopia",
            "ogiltig / invalid",
            "",
            "",
            "",
            "3 fel / 3 problems: se rapporten invalid-befolkning-kopia / "
            "see the report invalid-befolkning-kopia",
            "",
        ],
        ["trafa", "misslyckades / failed", "", "", "", "access denied", ""],
        # A dry run links nowhere: the version it names was not written.
        [
            "ny",
            "publicerad / published",
            "1.0.0",
            "första versionen / first version",
            "9",
            "provkörning, inget publicerades / dry run, nothing published: first version",
            "",
        ],
    ]


def shown_row(row: dict[str, str]) -> list[str]:
    """The row's cells as the UI shows them (markdown rendered, tags dropped)."""
    return [html.unescape(re.sub(r"<[^>]+>", "", render(cell))).strip() for cell in row.values()]


@pytest.mark.parametrize(
    ("previous", "version", "bump"),
    [
        (None, "1.0.0", "first"),
        ("1.0.0", "2.0.0", "major"),
        ("1.9.3", "1.10.0", "minor"),
        ("1.0.0", "1.0.1", "patch"),
        ("1.0.0", "1.0.0", None),
    ],
)
def test_the_bump_is_derived_from_the_versions(
    previous: str | None, version: str, bump: str | None
) -> None:
    assert reporting.bump_of(outcome(previous_version=previous, version=version)) == bump
    assert reporting.bump_of(outcome(previous_version=previous, version=version, bump="major")) == (
        "major"
    )


def test_only_http_links_are_links() -> None:
    [row] = reporting.summary_rows([outcome(url="javascript:alert(1)", version="1.0.0")])
    assert row[LINK] == "javascript\\:alert\\(1\\)"
    assert_inert(render(f"| a |\n|---|\n| {row[LINK]} |"))


# -- the report of an invalid dataset -----------------------------------------------------------


def test_the_report_says_what_to_do_first_then_the_problems_by_row() -> None:
    report = reporting.invalid_report(INVALID)
    assert report.startswith("# befolkning\\-kopia: inget publicerades / nothing was published\n")
    rendered = render(report)
    # Swedish first, English beside; the steps come before the tables.
    assert rendered.index("Gör så här / What to do") < rendered.index("Fel per sort")
    assert "Öppna filen" in rendered and "Open the file" in rendered
    assert "publicera igen" in rendered and "publish again" in rendered
    kinds, problems = cells(rendered)[:3], cells(rendered)[3:]
    assert kinds == [
        ["värdet bryter mot en regel / the value breaks a rule (constraint-error)", "1"],
        ["samma nyckel två gånger / the same key twice (primary-key)", "1"],
        ["fel sorts värde / wrong kind of value (type-error)", "1"],
    ]
    file = "befolkning-kopia/sources/folkmangd.csv"
    assert problems == [
        [file, "3", "folkmangd", "-5", 'constraint "minimum" is "0"'],
        [file, "5", "kommunkod, ar", "", "the same key as row 4"],
        [file, "7", "folkmangd", "elvatusen", 'type is "integer/default"'],
    ]


def test_a_long_report_is_cut_and_says_how_many_more() -> None:
    problems = [
        {
            "resource": "r",
            "code": "type-error",
            "message": f"'x{row}': bad",
            "row": row,
            "field": "f",
            "origin": f"sources/r.csv, row {row}",
        }
        for row in range(120, 0, -1)
    ]
    report = reporting.invalid_report(outcome(status="invalid", problems=problems), limit=50)
    rendered = render(report)
    table = cells(rendered)
    assert table[0] == ["fel sorts värde / wrong kind of value (type-error)", "120"]
    assert [row[1] for row in table[1:]] == [str(row) for row in range(1, 51)]
    assert "… och 70 till / … and 70 more" in report


def test_the_counts_are_the_validators_when_it_listed_only_the_first() -> None:
    problems = [
        {
            "resource": "r",
            "code": code,
            "message": "bad",
            "row": row,
            "field": "f",
            "origin": f"sources/r.csv, row {row}",
        }
        for row, code in [(2, "type-error"), (3, "type-error"), (4, "constraint-error")]
    ]
    message = (
        "r is invalid (3 problems), nothing published:\n...\n... and 12,349 more problems\n"
        "    in all: type-error 12,345, constraint-error 7"
    )
    report = reporting.invalid_report(outcome(status="invalid", problems=problems, message=message))
    assert cells(render(report))[:2] == [
        ["fel sorts värde / wrong kind of value (type-error)", "12\u00a0345"],
        ["värdet bryter mot en regel / the value breaks a rule (constraint-error)", "7"],
    ]
    assert "… och 12\u00a0349 till / … and 12\u00a0349 more" in report


def test_a_source_file_that_cannot_be_read_gets_a_report_of_its_message() -> None:
    failed = outcome(
        dataset="avfallsplan",
        status="failed",
        exit_code=1,
        message="avfallsplan/sources/plan.csv, line 4: an unclosed quote <b>\nsecond line",
    )
    assert reporting.is_data_problem(failed)
    assert not reporting.is_data_problem(outcome(status="failed", exit_code=3))
    rendered = render(reporting.invalid_report(failed))
    assert "<blockquote>" in rendered and "<b>" not in rendered
    assert "line 4: an unclosed quote &lt;b&gt;" in rendered


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_renders_as_text(text: str) -> None:
    problem = {
        "resource": text,
        "code": text,
        "message": f"{text!r}: {text}",
        "row": 2,
        "field": text,
        "origin": f"{text}, row 2",
    }
    bad = outcome(dataset=text, status="invalid", problems=[problem])
    rendered = render(reporting.invalid_report(bad))
    assert_inert(rendered)
    assert cells(rendered)[-1] == [shown(text), "2", shown(text), shown(text), shown(text)]
    [row] = reporting.summary_rows([bad])
    table = render(
        "| "
        + " | ".join(row)
        + " |\n"
        + "|---" * len(row)
        + "|\n| "
        + " | ".join(row.values())
        + " |\n"
    )
    assert_inert(table)
    assert cells(table)[0][0] == shown(text)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_escaped_text_is_that_text_and_nothing_else(text: str) -> None:
    escaped = reporting.escape(text, limit=None)
    # No raw tag, no raw column separator, no line break; every punctuation escaped.
    assert not set(escaped) & {"<", ">", "|", "\n", "\r"}
    bare = re.sub(r"&(amp|lt|gt|quot|#39|#124|#92);", "", escaped)
    assert not re.search(r"(?<!\\)[\[\]()!*_`~#&]", bare)
    # Rendered in a paragraph and in a table cell, it reads as the text (one line of it).
    paragraph = render(escaped)
    expected = shown(text).strip()
    if expected:
        assert html.unescape(re.sub(r"^<p>|</p>\n$", "", paragraph)).strip() == expected
    table = render(f"| a | b |\n|---|---|\n| {escaped} | x |\n")
    assert cells(table) == [[expected, "x"]]
    assert_inert(paragraph)
    assert_inert(table)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "resource": st.text(max_size=20),
                "code": st.text(max_size=20),
                "message": st.text(max_size=60),
                "row": st.none() | st.integers(0, 10**6),
                "field": st.none() | st.text(max_size=20),
                "origin": st.none() | st.text(max_size=40),
            }
        ),
        min_size=1,
        max_size=8,
    ),
    st.text(max_size=30),
)
def test_every_report_keeps_its_table_shape(problems: list[dict[str, Any]], name: str) -> None:
    rendered = render(
        reporting.invalid_report(outcome(dataset=name, status="invalid", problems=problems))
    )
    assert_inert(rendered)
    found = cells(rendered)
    kinds = {str(p["code"]) for p in problems}
    assert [len(row) for row in found] == [2] * len(kinds) + [5] * len(problems)
    rows = [row[1] for row in found[len(kinds) :]]
    assert sorted(r.split(" ")[0] for r in rows if r) == sorted(
        str(p["row"]) for p in problems if p["row"] is not None
    )


@given(st.text(min_size=0, max_size=80))
def test_artifact_keys_are_what_prefect_accepts(name: str) -> None:
    key = reporting.artifact_key("invalid", name)
    assert re.fullmatch(r"[a-z0-9-]+", key) and key.startswith("invalid-")
    assert len(key) <= 80


def test_artifact_keys_keep_names_apart() -> None:
    assert reporting.artifact_key("invalid", "befolkning-kopia") == "invalid-befolkning-kopia"
    assert reporting.artifact_key("invalid", "Avfall_2024") != reporting.artifact_key(
        "invalid", "avfall-2024"
    )


# -- parameter descriptions (the deployment's form in the UI) -----------------------------------


@pytest.mark.parametrize("flow", [flow_module.publish_all, flow_module.publish_dataset])
def test_every_flow_parameter_has_a_description(flow: Any) -> None:
    from prefect.utilities.callables import parameter_schema, parameter_schema_from_entrypoint

    # `prefect deploy` reads the schema from the source file; a flow run from the function.
    entrypoint = f"flows/publish.py:{flow.fn.__name__}"
    for schema in (parameter_schema(flow.fn), parameter_schema_from_entrypoint(entrypoint)):
        properties = schema.model_dump()["properties"]
        assert set(properties) == set(flow.parameters.properties)
        missing = [name for name, spec in properties.items() if not spec.get("description")]
        assert missing == []


# -- the artifacts of real flow runs, read back through the API ---------------------------------


def artifacts_of(state: Any) -> dict[str, Any]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    flow_run_id: UUID = state.state_details.flow_run_id
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )
    # Prefect adds artifacts of its own without a key (e.g. a result's description).
    return {artifact.key: artifact for artifact in found if artifact.key}


@pytest.mark.integration
def test_a_failed_run_leaves_its_table_and_the_invalid_report(
    workspace: Path, prefect_api: str
) -> None:
    name, row = write_broken_copy(workspace, "not-a-number")
    store = str(workspace / "public")
    state = flow_module.publish_all(
        datasets=["avfallsplan", name], store=store, home=str(workspace), return_state=True
    )
    assert state.is_failed()
    assert state.message.endswith(f"Not published: {name} (invalid)")
    found = artifacts_of(state)
    assert set(found) == {"publish-summary", f"invalid-{name}"}

    summary = found["publish-summary"]
    assert summary.type == "table"
    table = json.loads(summary.data) if isinstance(summary.data, str) else summary.data
    assert [(r[DATASET], r[STATUS], r[VERSION], r[BUMP], r[ROWS]) for r in table] == [
        (
            "avfallsplan",
            "publicerad \\/ published",
            "1\\.0\\.0",
            "första versionen \\/ first version",
            "9",
        ),
        ("befolkning\\-kopia", "ogiltig \\/ invalid", "", "", ""),
    ]
    assert table[0][LINK].endswith(
        "(http://localhost:8000/datasets/avfallsplan/1.0.0/datapackage.json)"
    )
    assert "invalid\\-befolkning\\-kopia" in table[1][CHANGES]

    report = found[f"invalid-{name}"]
    assert report.type == "markdown"
    rendered = render(report.data)
    assert "inget publicerades / nothing was published" in rendered
    [problem] = cells(rendered)[1:]
    assert problem[:4] == [f"{name}/sources/folkmangd.csv", str(row), "folkmangd", "elvatusen"]

    # A run that completes leaves its table too.
    state = flow_module.publish_all(
        datasets=["avfallsplan"], store=store, home=str(workspace), return_state=True
    )
    assert state.is_completed()
    [summary] = artifacts_of(state).values()
    table = json.loads(summary.data) if isinstance(summary.data, str) else summary.data
    assert [(r[DATASET], r[STATUS], r[VERSION]) for r in table] == [
        ("avfallsplan", "oförändrad \\/ unchanged", "1\\.0\\.0")
    ]


@pytest.mark.integration
def test_a_run_stopped_by_a_setting_says_so_in_its_table(workspace: Path, prefect_api: str) -> None:
    state = flow_module.publish_all(
        datasets=["avfallsplan"],
        store="s3://steward:hemligt@bucket/data",
        home=str(workspace),
        return_state=True,
    )
    assert state.is_failed()
    [summary] = artifacts_of(state).values()
    table = json.loads(summary.data) if isinstance(summary.data, str) else summary.data
    [row] = table
    assert row[STATUS] == "stoppad \\/ stopped"
    assert "credentials" in row[CHANGES] and "hemligt" not in json.dumps(table)
