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
from tests.cli.test_cli import write_broken_copy
from tests.conftest import REPO

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
    """The text of every body cell of every table, row by row (entities decoded, each of a
    cell's lines on a line of its own, emphasis dropped)."""
    rows = re.findall(r"<tr>\n(.*?)</tr>", rendered, re.S)
    found = []
    for row in rows:
        if "<th" in row:
            continue
        found.append([text_of(cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row)])
    return found


def text_of(fragment: str) -> str:
    """Rendered HTML as the text it shows: <br> a line break, other tags gone."""
    return html.unescape(re.sub(r"<[^>]+>", "", fragment.replace("<br>", "\n")))


def headings(rendered: str, level: int = 3) -> list[str]:
    return [text_of(h) for h in re.findall(rf"<h{level}>(.*?)</h{level}>", rendered, re.S)]


def squeezed(text: str, limit: int | None = None) -> str:
    """What a cell shows of `text` (cut at `limit` with "…"), without its whitespace: a cell
    breaks its text into lines between words, or within a word longer than a line."""
    flat = shown(text)
    if limit is not None and len(flat) > limit:
        flat = flat[: limit - 1] + "…"
    return "".join(flat.split())


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


def test_a_dataset_skipped_for_an_unreachable_api_says_which_source_and_what_stays() -> None:
    """The row of a dataset whose public API did not answer: skipped (not failed), its latest
    version named, and why in Swedish and English, the run's message whole (no cut at the
    cell's usual 300 characters: the URL and what failed are long)."""
    message = (
        "Kolada http://127.0.0.1:9/v3 cannot be reached (GET http://127.0.0.1:9/v3/kpi/"
        "U07801,U07482,U07483,U07484,U07485,U07414?per_page=5000: ConnectError: [Errno 111] "
        "Connection refused; gave up after 5 attempts): not collected in this run, its last "
        "published version 1.2.0 stays latest; the next run collects it once the source answers"
    )
    common = {"dataset": "avfallsplan-uppfoljning", "status": "skipped", "exit_code": 3}
    rows = reporting.summary_rows(
        [
            outcome(
                **common,
                version="1.2.0",
                previous_version="1.2.0",
                url=URL,
                message=message,
                unreachable="Kolada http://127.0.0.1:9/v3",
            ),
            outcome(
                **common,
                message=message.replace(
                    "its last published version 1.2.0 stays latest",
                    "no version of it is published yet",
                ),
                unreachable="Kolada http://127.0.0.1:9/v3",
            ),
        ]
    )
    shown = [shown_row(row) for row in rows]
    assert shown[0][:5] == ["avfallsplan-uppfoljning", "hoppades över / skipped", "1.2.0", "", ""]
    assert shown[0][5] == (
        "källan Kolada http://127.0.0.1:9/v3 kunde inte nås, så datamängden hämtades inte i den "
        "här körningen; senaste publicerade versionen 1.2.0 ligger kvar / " + message
    )
    assert shown[1][2] == ""
    assert shown[1][5].startswith(
        "källan Kolada http://127.0.0.1:9/v3 kunde inte nås, så datamängden hämtades inte i den "
        "här körningen; ingen version är publicerad ännu / Kolada http://127.0.0.1:9/v3 cannot "
    )
    assert shown[1][5].endswith(
        "no version of it is published yet; the next run collects it once the source answers"
    )


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
    # The file is named once, above its table; the table has short columns.
    assert headings(rendered) == ["Fil / file: befolkning-kopia/sources/folkmangd.csv"]
    assert problems == [
        ["3", "folkmangd", "-5", 'constraint "minimum" is "0"'],
        ["5", "kommunkod, ar", "", "the same key as row 4"],
        ["7", "folkmangd", "elvatusen", 'type is "integer/default"'],
    ]


def problem(row: int, origin: str, **fields: Any) -> dict[str, Any]:
    return {
        "resource": "r",
        "code": "type-error",
        "row": row,
        "field": "antal",
        "origin": f"{origin}, row {row}",
        **fields,
    }


LONG = "ELVATUSEN SJUHUNDRA TRETTIOTVÅ (uppskattat av förvaltningen i mars) " * 3


def test_each_file_has_its_table_and_each_row_says_what_is_wrong_in_swedish_then_english() -> None:
    xlsx = "forskola/sources/Förskolor i Borås kommun 2024 (reviderad version).xlsx"
    problems = [
        problem(
            6,
            f"{xlsx}, sheet 'Blad1'",
            message="'ca 30': type is \"integer/default\"",
            column="Antal barn i förskolegruppen",
            cell="Blad1!C6",
            message_sv="'ca 30' är inte ett heltal",
            message_en="'ca 30' is not a whole number",
        ),
        problem(
            4,
            "forskola/sources/data.csv",
            message="'12,5': type is \"integer/default\"",
            column="antal",
            message_sv="'12,5' är inte ett heltal. Tips: talet har decimalkomma; ange "
            '`decimal: ","` för källan i dataset.yaml.',
            message_en="'12,5' is not a whole number. Hint: the number has a decimal comma; "
            'declare `decimal: ","` on the source in dataset.yaml.',
        ),
        problem(
            5,
            "forskola/sources/data.csv",
            message=f'{LONG[:200]!r} … (213 characters): type is "integer/default"',
            column="antal",
            message_sv=f"{LONG[:200]!r} … (213 characters) är inte ett heltal",
            message_en=f"{LONG[:200]!r} … (213 characters) is not a whole number",
        ),
    ]
    rendered = render(
        reporting.invalid_report(outcome(dataset="forskola", status="invalid", problems=problems))
    )
    assert_inert(rendered)
    assert headings(rendered) == [
        f"Fil / file: {xlsx}, sheet 'Blad1'",
        "Fil / file: forskola/sources/data.csv",
    ]
    assert cells(rendered)[1:] == [
        [
            "6\nBlad1!C6",
            "Antal barn i\nförskolegruppen",
            "ca 30",
            "är inte ett heltal\nis not a whole number",
        ],
        [
            "4",
            "antal",
            "12,5",
            "är inte ett heltal (tips 1)\nis not a whole number (hint 1)",
        ],
        [
            "5",
            "antal",
            "ELVATUSEN\nSJUHUNDRA\nTRETTIOTVÅ\n(uppskat…",
            "är inte ett heltal\nis not a whole number",
        ],
    ]
    # English in italics under the Swedish; the hint once, below the tables.
    assert "är inte ett heltal<br><em>is not a whole number</em>" in rendered
    assert headings(rendered, 2)[-1] == "Tips / Hints"
    assert text_of(rendered.rsplit("<ol>", 1)[1]).strip() == (
        'Tips: talet har decimalkomma; ange `decimal: ","` för källan i dataset.yaml. Hint: the '
        'number has a decimal comma; declare `decimal: ","` on the source in dataset.yaml.'
    )


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "resource": st.text(max_size=20),
                "code": st.sampled_from(["type-error", "constraint-error", "x"]),
                "message": st.text(max_size=400),
                "row": st.none() | st.integers(0, 10**6),
                "field": st.none() | st.text(max_size=80),
                "origin": st.none() | st.text(max_size=40),
                "cell": st.none() | st.text(max_size=40),
                "message_sv": st.text(max_size=400),
                "message_en": st.text(max_size=400),
            }
        ),
        min_size=1,
        max_size=5,
    )
)
def test_no_line_of_a_problem_cell_is_longer_than_its_column_allows(
    problems: list[dict[str, Any]],
) -> None:
    """The UI never wraps a table cell: the report's lines are what keeps the table narrow."""
    rendered = render(reporting.invalid_report(outcome(status="invalid", problems=problems)))
    widths = [
        reporting.WHERE_WIDTH,
        reporting.COLUMN_WIDTH,
        reporting.VALUE_WIDTH,
        reporting.NOTE_WIDTH,
    ]
    for row in cells(rendered)[len({p["code"] for p in problems}) :]:
        for cell, width in zip(row, widths, strict=True):
            assert max(len(line) for line in cell.split("\n")) <= width, (cell, width)


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
    assert [row[0] for row in table[1:]] == [str(row) for row in range(1, 51)]
    assert headings(rendered) == ["Fil / file: sources/r.csv"]
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
    assert headings(rendered) == [f"Fil / file: {shown(text)}"]
    where, column, value, note = cells(rendered)[-1]
    assert where == "2"
    assert "".join(column.split()) == squeezed(text, reporting.NAME_LIMIT)
    assert "".join(value.split()) == squeezed(text, reporting.NAME_LIMIT)
    assert "".join(note.split()) == squeezed(text)
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
    assert [len(row) for row in found] == [2] * len(kinds) + [4] * len(problems)
    rows = [row[0] for row in found[len(kinds) :]]
    assert sorted(r for r in rows if r) == sorted(
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


# -- the deployment's run form in the UI (Deployments → Run → Custom run) ---------------------


FLOWS = [flow_module.publish_all, flow_module.publish_dataset, flow_module.publish_spread]


@pytest.mark.parametrize("flow", FLOWS, ids=lambda flow: flow.name)
def test_every_parameter_of_the_form_has_a_type_a_title_and_swedish_then_english(
    flow: Any,
) -> None:
    from prefect.utilities.callables import parameter_schema, parameter_schema_from_entrypoint

    # `prefect deploy` reads the schema from the source file; a flow run from the function.
    entrypoint = f"flows/publish.py:{flow.fn.__name__}"
    schemas = [parameter_schema(flow.fn), parameter_schema_from_entrypoint(entrypoint)]
    first, second = (schema.model_dump() for schema in schemas)
    assert first == second
    properties = first["properties"]
    assert set(properties) == set(flow.parameters.properties)
    for name, spec in properties.items():
        # One real type each: no `anyOf` with null, which the form shows as a choice whose
        # null branch reads 'Property is type "None"' (and no default it would send back).
        assert spec["type"] in {"string", "array", "boolean", "integer", "number"}, name
        assert "anyOf" not in spec and spec.get("default", "") is not None, name
        swedish, english = spec["title"].split(" / ")
        assert english.replace(" ", "_") == name and swedish != english, spec["title"]
        # The description: a Swedish paragraph, then the English one in italics.
        sv, en = spec["description"].split("\n\n")
        assert en.startswith("*") and en.endswith("*") and "*" not in sv, name
    assert "null" not in json.dumps(first)


def test_datasets_is_a_choice_of_the_defined_names() -> None:
    from prefect.utilities.callables import parameter_schema_from_entrypoint

    from opendata.definitions import discover
    from opendata.parameters import datasets_schema, defined_names

    names = discover(REPO / "datasets")
    assert "befolkning" in names and defined_names(REPO) == names
    for flow in ("publish_all", "publish_spread"):
        schema = parameter_schema_from_entrypoint(f"flows/publish.py:{flow}").model_dump()
        datasets = schema["properties"]["datasets"]
        assert (datasets["type"], datasets["items"], datasets["default"]) == (
            "array",
            {"type": "string", "enum": names},
            [],
        )
    # A repository without datasets offers any name rather than none.
    assert datasets_schema([]) == {
        "type": "array",
        "items": {"type": "string"},
        "uniqueItems": True,
    }


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
    assert headings(rendered) == [f"Fil / file: {name}/sources/folkmangd.csv"]
    [problem] = cells(rendered)[1:]
    assert problem == [
        str(row),
        "folkmangd",
        "elvatusen",
        "är inte ett heltal\nis not a whole number",
    ]

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
