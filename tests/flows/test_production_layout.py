"""deploy/systemd/: the production layout README's "Production layout" describes, checked.

The units are read as systemd reads them (and, where systemd-analyze is installed, verified by
it with their paths moved to this checkout): every command is one this checkout installs and
takes the options the unit gives it, the workers take runs from the pool prefect.yaml deploys
to, every service listens on 127.0.0.1 only, no file holds a credential, and every setting the
units and the example environment files name is a real one, documented in the README.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from opendata.config import Settings

REPO = Path(__file__).resolve().parents[2]
LAYOUT = REPO / "deploy" / "systemd"
INSTALLED = Path("/srv/opendata")  # where the units expect the checkout (README)
VENV_BIN = INSTALLED / ".venv" / "bin"
UNITS = sorted(p for p in LAYOUT.iterdir() if p.suffix in (".service", ".target"))
ENV_FILES = sorted(LAYOUT.glob("*.env.example"))
EXEC_KEYS = ("ExecStartPre", "ExecStart", "ExecStartPost", "ExecStop", "ExecReload")
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|CREDENTIAL|WEBHOOK|_KEY\b", re.IGNORECASE)
URL_PASSWORD = re.compile(r"://[^/\s:@]+:([^/\s@]+)@")
AWS_SETTINGS = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_ENDPOINT_URL"}

Unit = dict[str, dict[str, list[str]]]


def parse_unit(text: str) -> Unit:
    """A unit file as systemd reads it: sections of keys, a key given again adds a value
    (ExecStartPre=, Wants=), comments start with # or ;, a trailing backslash continues."""
    sections: Unit = {}
    current: dict[str, list[str]] | None = None
    pending = ""
    for number, raw in enumerate(text.splitlines(), 1):
        line = pending + raw.strip()
        pending = ""
        if not line or line[0] in "#;":
            continue
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        key, equals, value = line.partition("=")
        assert equals and current is not None, f"line {number}: {raw!r} is no key=value"
        assert re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", key.strip()), f"line {number}: {key!r}"
        current.setdefault(key.strip(), []).append(value.strip())
    assert not pending, "the file ends in a continuation"
    return sections


def parse_env(text: str) -> dict[str, str]:
    """An EnvironmentFile's settings, those commented out (`#NAME=value`, offered but not
    set) included: each is a setting the layout documents."""
    settings = {}
    for raw in text.splitlines():
        match = re.fullmatch(r"#?([A-Z][A-Z0-9_]*)=(.*)", raw.strip())
        if match:
            settings[match.group(1)] = match.group(2)
    return settings


def units() -> dict[str, Unit]:
    return {path.name: parse_unit(path.read_text()) for path in UNITS}


def commands() -> list[tuple[str, str, list[str]]]:
    """(unit, key, argv) of every Exec line, its prefixes (-, @, +, !) dropped."""
    found = []
    for name, unit in units().items():
        for key in EXEC_KEYS:
            for value in unit.get("Service", {}).get(key, []):
                found.append((name, key, value.lstrip("-@+!:").split()))
    return found


def readme_section(title: str) -> str:
    text = (REPO / "README.md").read_text()
    start = text.index(f"\n## {title}")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def test_the_layout_has_the_server_workers_delivery_app_and_site() -> None:
    """One Prefect server, templated workers, the delivery app and the site, each a service
    with its command, started by the target that groups them."""
    found = units()
    assert sorted(found) == [
        "opendata-delivery.service",
        "opendata-site.service",
        "opendata-worker@.service",
        "opendata.target",
        "prefect-server.service",
    ]
    for name, unit in found.items():
        assert unit["Unit"]["Description"], name
        assert unit["Install"]["WantedBy"], name
        if name.endswith(".service"):
            assert len(unit["Service"]["ExecStart"]) == 1, name
            assert unit["Service"]["KillSignal"] == ["SIGTERM"], name
            assert unit["Service"]["TimeoutStopSec"], name
            assert unit["Service"]["User"] == ["opendata"], name  # never root
            assert unit["Service"]["WorkingDirectory"] == [str(INSTALLED)], name
            assert unit["Install"]["WantedBy"] == ["opendata.target"], name
            assert unit["Unit"]["PartOf"] == ["opendata.target"], name
    wanted = " ".join(found["opendata.target"]["Unit"]["Wants"]).split()
    services = [n for n in found if n.endswith(".service")]
    assert {
        w.replace("@1.", "@.").replace("@2.", "@.").replace("@3.", "@.") for w in wanted
    } == set(services)
    # Started after the server they talk to, so stopped before it.
    for name in ("opendata-worker@.service", "opendata-delivery.service"):
        assert "prefect-server.service" in " ".join(found[name]["Unit"]["After"]).split()
    assert "postgresql.service" in " ".join(found["prefect-server.service"]["Unit"]["After"])


def test_every_command_is_one_this_checkout_installs_with_the_options_it_takes() -> None:
    """Each Exec line runs a console script of the checkout's .venv: `opendata` (pyproject's
    [project.scripts]) or `prefect` (the locked Prefect); its subcommand exists and takes every
    option the unit gives it (`--help` of the same subcommand, in this environment)."""
    scripts = set(tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"])
    here = Path(sys.executable).parent
    environment = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"}
    checked = set()
    for unit, key, argv in commands():
        program = Path(argv[0])
        assert program.parent == VENV_BIN, (unit, key, argv)
        assert program.name in scripts | {"prefect"}, (unit, key, argv)
        assert (here / program.name).is_file(), f"{program.name} is not installed in {here}"
        subcommand = []
        for word in argv[1:]:
            if word.startswith("-"):
                break
            subcommand.append(word)
        options = {a.split("=")[0] for a in argv[1:] if a.startswith("--")}
        assert subcommand and options, (unit, argv)
        done = subprocess.run(
            [str(here / program.name), *subcommand, "--help"],
            capture_output=True,
            text=True,
            env=environment,
            timeout=120,
        )
        assert done.returncode == 0, (unit, done.stdout, done.stderr)
        for option in options:
            assert re.search(rf"{re.escape(option)}\b", done.stdout), (unit, option, done.stdout)
        checked.add((program.name, *subcommand))
    assert checked == {
        ("prefect", "server", "database", "upgrade"),
        ("prefect", "server", "start"),
        ("opendata", "worker"),
        ("opendata", "deliveries", "serve"),
        ("opendata", "serve"),
    }


def test_the_workers_take_runs_from_the_pool_prefect_yaml_deploys_to() -> None:
    """prefect.yaml's deployments all go to one process pool; the worker unit starts
    `opendata worker --pool <that pool>` (Prefect's process worker that stops on SIGTERM; two
    runs at most each, as README's spread section says) in the checkout, which OPENDATA_HOME
    names too."""
    deployments = yaml.safe_load((REPO / "prefect.yaml").read_text())["deployments"]
    pools = {d["work_pool"]["name"] for d in deployments}
    assert len(pools) == 1
    service = units()["opendata-worker@.service"]["Service"]
    argv = service["ExecStart"][0].split()
    assert Path(argv[0]).name == "opendata" and argv[1] == "worker"
    assert argv[argv.index("--pool") + 1] == pools.pop()
    assert argv[argv.index("--limit") + 1] == "2"
    assert f"OPENDATA_HOME={INSTALLED}" in service["Environment"]
    assert service["KillMode"] == ["control-group"]  # every flow run gets SIGTERM too


def test_every_service_listens_on_loopback_only() -> None:
    """The services answer on 127.0.0.1 only: the TLS proxy in front is what the network
    reaches (README)."""
    listening = []
    for unit, _key, argv in commands():
        if argv[1:3] == ["server", "start"] or "serve" in argv[1:3]:
            assert argv[argv.index("--host") + 1] == "127.0.0.1", (unit, argv)
            listening.append(unit)
    assert sorted(listening) == [
        "opendata-delivery.service",
        "opendata-site.service",
        "prefect-server.service",
    ]
    worker = units()["opendata-worker@.service"]["Service"]["ExecStart"][0]
    assert "--host" not in worker


def test_no_file_of_the_layout_holds_a_credential() -> None:
    """Credentials live in /etc/opendata/*.env on the machine, never in the repository: the
    units set no secret and name their environment files, and the examples carry only
    placeholders (`<…>`) or nothing where a secret goes."""
    for path in [*UNITS, *ENV_FILES]:
        text = path.read_text()
        for match in URL_PASSWORD.finditer(text):
            assert re.fullmatch(r"<[a-z ]+>", match.group(1)), (path.name, match.group(0))
    for name, unit in units().items():
        service = unit.get("Service", {})
        for assignment in service.get("Environment", []):
            key = assignment.split("=", 1)[0]
            assert not SECRET_NAME.search(key), (name, key)
            assert "DATABASE_CONNECTION_URL" not in key, (name, key)
        for path in service.get("EnvironmentFile", []):
            assert path.startswith("/etc/opendata/") and path.endswith(".env"), (name, path)
            assert (LAYOUT / f"{Path(path).name}.example").is_file(), (name, path)
    for path in ENV_FILES:
        for key, value in parse_env(path.read_text()).items():
            if SECRET_NAME.search(key):
                assert value == "" or re.fullmatch(r"<[a-z ]+>", value), (path.name, key)


def test_every_setting_is_a_real_one_and_documented() -> None:
    """Each variable a unit sets or an example file offers is one the code reads (an
    OPENDATA_ setting, a Prefect setting, an AWS one boto3 reads) and README's "Production
    layout" names it, so an operator finds what each is for."""
    import prefect.settings

    names: set[str] = set()
    for unit in units().values():
        service = unit.get("Service", {})
        names |= {a.split("=", 1)[0] for a in service.get("Environment", [])}
        for value in service.get("ExecStart", []) + service.get("ExecStartPre", []):
            names |= set(re.findall(r"\$\{?([A-Z][A-Z0-9_]*)", value))
    offered: set[str] = set()
    for path in ENV_FILES:
        offered |= set(parse_env(path.read_text()))
    assert {
        "PREFECT_SERVER_DATABASE_CONNECTION_URL",
        "PREFECT_API_URL",
        "OPENDATA_STORE",
    } <= offered
    fields = set(Settings.model_fields)
    section = readme_section("Production layout")
    for name in sorted(names | offered):
        if name.startswith("OPENDATA_"):
            assert name.removeprefix("OPENDATA_").lower() in fields, name
        elif name.startswith("PREFECT_"):
            assert hasattr(prefect.settings, name), name
        else:
            assert name in AWS_SETTINGS, name
        assert name in section, f"README's Production layout does not name {name}"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
def test_systemd_accepts_every_unit(tmp_path: Path) -> None:
    """`systemd-analyze verify` of the units, moved to this checkout and its virtualenv: no
    unknown key, no bad value, every command there and executable."""
    here = Path(sys.executable).parent
    for path in UNITS:
        text = path.read_text().replace(f"{VENV_BIN}/", f"{here}/")
        (tmp_path / path.name).write_text(text.replace(str(INSTALLED), str(REPO)))
    instances = [
        str(tmp_path / (p.name.replace("@.", "@1.") if "@." in p.name else p.name)) for p in UNITS
    ]
    done = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *instances],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert (done.returncode, done.stdout + done.stderr) == (0, "")
