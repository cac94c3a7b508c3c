"""A real PostgreSQL server for the tests: Debian's package, a throwaway cluster.

`initdb` makes a cluster in a temporary folder under /tmp, `pg_ctl` starts it listening only
on a Unix socket in that folder (`listen_addresses = ''`: no TCP port, nothing another machine
or test could reach), and each test that needs a Prefect database gets a fresh one from
`PostgresServer.database`. The server is stopped (`pg_ctl stop -m fast`) and the folder removed
when the fixture ends, also when a test failed.

PostgreSQL refuses to run as root (CI runs as root): there `initdb` and the server run as the
`postgres` user the Debian package creates (`nobody` without it), owning the folder.

Without PostgreSQL the tests that need it skip with a reason `-ra` prints in the summary; where
it must be there (CI: `.ci/run` installs it and sets OPENDATA_REQUIRE_POSTGRES=1) they fail
instead, so that a missing PostgreSQL never passes as a green run.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REQUIRED = "OPENDATA_REQUIRE_POSTGRES"
SUPERUSER = "opendata"
PORT = 5432  # only names the socket file (.s.PGSQL.5432) in the cluster's own folder
PROGRAMS = ("initdb", "pg_ctl", "postgres", "createuser", "createdb", "psql")
NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def postgres_bindir() -> Path | None:
    """The folder of the server's programs (initdb, pg_ctl, postgres, createdb, psql): `pg_config --bindir`, else the newest
    /usr/lib/postgresql/<version>/bin (Debian keeps the server's programs off PATH)."""
    candidates: list[Path] = []
    if shutil.which("pg_config"):
        done = subprocess.run(
            ["pg_config", "--bindir"], capture_output=True, text=True, check=False
        )
        if done.returncode == 0:
            candidates.append(Path(done.stdout.strip()))

    def version(path: Path) -> tuple[int, ...]:
        return tuple(int(part) for part in re.findall(r"\d+", path.parent.name))

    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=version, reverse=True)
    for bindir in candidates:
        if all((bindir / program).is_file() for program in PROGRAMS):
            return bindir
    return None


def missing_postgres() -> str | None:
    """Why the PostgreSQL tests cannot run here (None: they can)."""
    if postgres_bindir() is None:
        return (
            "PostgreSQL's server is not installed (no initdb in `pg_config --bindir` or "
            "/usr/lib/postgresql/*/bin; apt-get install postgresql)"
        )
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root without runuser: PostgreSQL cannot be started as another user"
    return None


def require_postgres() -> Path:
    """The server's bindir; skips the calling test (fails it where OPENDATA_REQUIRE_POSTGRES
    is set) without PostgreSQL."""
    reason = missing_postgres()
    if reason is not None:
        if os.environ.get(REQUIRED):
            pytest.fail(f"{reason}, and {REQUIRED} is set: the PostgreSQL tests must run here")
        pytest.skip(reason)
    bindir = postgres_bindir()
    assert bindir is not None
    return bindir


class PostgresServer:
    """A running cluster: its socket folder, its log, and fresh databases on request."""

    def __init__(self, bindir: Path, root: Path, as_owner: list[str]) -> None:
        self.bindir = bindir
        self.root = root
        self.data = root / "data"
        self.socket_dir = root / "socket"
        self.log = root / "postgres.log"
        self._as_owner = as_owner
        self._databases: set[str] = set()
        self._roles: set[str] = set()

    def command(self, program: str, *args: str, timeout: float = 120) -> str:
        """One of the server's programs, run as the cluster's owner; fails the test if it
        fails, with the server's log."""
        done = subprocess.run(
            [*self._as_owner, str(self.bindir / program), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=clean_env(),
            cwd=self.root,
            stdin=subprocess.DEVNULL,
        )
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-5000:] if self.log.exists() else ""
            pytest.fail(
                f"`{program} {' '.join(args)}` exited {done.returncode}:\n"
                f"{done.stdout}{done.stderr}\n----- postgres.log -----\n{log}"
            )
        return done.stdout

    def database(self, name: str, owner: str = SUPERUSER) -> str:
        """A new, empty database as Prefect's connection URL (SQLAlchemy's asyncpg driver;
        `host` is the socket's folder, no password: the cluster trusts connections on its
        socket, which only its folder's owner reaches). An `owner` other than the superuser
        is made an ordinary role first, as README's "Production layout" sets one up."""
        assert NAME.fullmatch(name) and name not in self._databases, name
        assert NAME.fullmatch(owner), owner
        socket = ["-h", str(self.socket_dir), "-p", str(PORT), "-U", SUPERUSER]
        if owner != SUPERUSER and owner not in self._roles:
            self.command("createuser", *socket, "--no-superuser", "--no-createdb", owner)
            self._roles.add(owner)
        self.command("createdb", *socket, "--owner", owner, name)
        self._databases.add(name)
        return self.url(name, owner)

    def url(self, name: str, user: str = SUPERUSER) -> str:
        return f"postgresql+asyncpg://{user}@/{name}?host={self.socket_dir}&port={PORT}"

    def query(self, database: str, sql: str) -> list[str]:
        """The rows psql prints for a query (unaligned, tuples only): what a test reads back
        from the database a server wrote to."""
        output = self.command(
            "psql",
            "-h",
            str(self.socket_dir),
            "-p",
            str(PORT),
            "-U",
            SUPERUSER,
            "-d",
            database,
            "-X",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            sql,
        )
        return output.splitlines()


def clean_env() -> dict[str, str]:
    """The environment without PG* settings (a developer's PGHOST or PGDATA would point the
    programs elsewhere), in the C locale so initdb needs no generated locale."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    env.update(LC_ALL="C", LANG="C")
    return env


def unprivileged_user() -> pwd.struct_passwd:
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    pytest.fail("running as root, and neither a `postgres` nor a `nobody` user to run PostgreSQL")


@contextlib.contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """initdb, start, yield the running server; stop it and remove its folder on the way out."""
    bindir = require_postgres()
    # Under /tmp, not a test's deep temporary folder: the socket's path must fit AF_UNIX's
    # limit, and a root-owned pytest folder (0700) would not let the postgres user in.
    root = Path(tempfile.mkdtemp(prefix="opendata-pg-", dir="/tmp"))
    as_owner: list[str] = []
    owner: tuple[int, int] | None = None
    if os.geteuid() == 0:
        user = unprivileged_user()
        owner = (user.pw_uid, user.pw_gid)
        os.chown(root, *owner)
        as_owner = ["runuser", "-u", user.pw_name, "--"]
    server = PostgresServer(bindir, root, as_owner)
    started = False
    try:
        server.command(
            "initdb",
            "-D",
            str(server.data),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        )
        settings = {
            "listen_addresses": "''",
            "unix_socket_directories": f"'{server.socket_dir}'",
            "unix_socket_permissions": "0700",
            "port": str(PORT),
        }
        conf = "".join(f"{key} = {value}\n" for key, value in settings.items())
        (server.data / "postgresql.auto.conf").write_text(conf)
        server.socket_dir.mkdir(mode=0o700)
        if owner is not None:
            for path in (server.data / "postgresql.auto.conf", server.socket_dir):
                os.chown(path, *owner)
        started = True
        server.command(
            "pg_ctl", "-D", str(server.data), "-l", str(server.log), "-w", "-t", "60", "start"
        )
        yield server
    finally:
        if started:
            stop = ["-D", str(server.data), "-m", "fast", "-w", "-t", "60", "stop"]
            subprocess.run(
                [*as_owner, str(bindir / "pg_ctl"), *stop],
                capture_output=True,
                env=clean_env(),
                cwd=root,
                check=False,
                timeout=90,
            )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One cluster for the session (per xdist worker); each test takes its own database."""
    with postgres_server() as server:
        yield server
