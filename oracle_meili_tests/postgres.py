"""A PostgreSQL cluster of the tests' own: Debian's binaries, a free port on 127.0.0.1, a
temporary data folder, run as an unprivileged user (``postgres`` when the tests run as
root, as in CI), stopped when the tests end."""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from oracle_meili.adapters.server import free_port

USER = "dagster"
DATABASE = "dagster"


@dataclass(frozen=True)
class RunningPostgres:
    host: str
    port: int
    user: str
    password: str
    database: str

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}:{self.password}@{self.host}:{self.port}/{self.database}"

    def environment(self) -> dict[str, str]:
        """The variables deploy/production/dagster.yaml reads."""
        return {
            "DAGSTER_PG_HOST": self.host,
            "DAGSTER_PG_PORT": str(self.port),
            "DAGSTER_PG_USER": self.user,
            "DAGSTER_PG_PASSWORD": self.password,
            "DAGSTER_PG_DB": self.database,
        }


def postgres_bin() -> Path | None:
    """Debian's PostgreSQL binaries (the newest installed), or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


@contextmanager
def postgres_cluster() -> Iterator[RunningPostgres]:
    """Start a cluster in a temporary folder; stop it and remove the folder afterwards."""
    bin_dir = postgres_bin()
    if bin_dir is None:
        raise FileNotFoundError("no PostgreSQL binaries under /usr/lib/postgresql/*/bin")
    # Directly under the temporary directory: the unprivileged user cannot enter pytest's
    # folders (root's, mode 700).
    folder = Path(tempfile.mkdtemp(prefix="oracle-meili-postgres-"))
    try:
        with _cluster(bin_dir, folder) as running:
            yield running
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def _cluster(bin_dir: Path, folder: Path) -> Iterator[RunningPostgres]:
    as_user: list[str] = []
    if os.geteuid() == 0:
        # PostgreSQL refuses to run as root.
        shutil.chown(folder, user="postgres", group="postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    data, sockets = folder / "data", folder / "sockets"
    password = secrets.token_urlsafe(16)
    password_file = folder / "password"
    password_file.write_text(password)
    sockets.mkdir()
    if as_user:
        for path in (password_file, sockets):
            shutil.chown(path, user="postgres", group="postgres")
    port = free_port()

    def run(*command: str) -> None:
        done = subprocess.run([*as_user, *command], capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command[:1])} failed: {done.stderr or done.stdout}")

    run(str(bin_dir / "initdb"), "-D", str(data), "-U", USER, f"--pwfile={password_file}",
        "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8")  # fmt: skip
    options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off"
    run(str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(folder / "log"),
        "-w", "start")  # fmt: skip
    try:
        run(str(bin_dir / "createdb"), "-h", str(sockets), "-p", str(port), "-U", USER, DATABASE)
        yield RunningPostgres("127.0.0.1", port, USER, password, DATABASE)
    finally:
        run(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
