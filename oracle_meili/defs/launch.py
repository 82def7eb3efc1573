"""Launch a job through a running Dagster webserver, as its Materialize button does, and wait.

A run launched this way belongs to the webserver's code location: the Overview timeline and
the job's Runs tab list it, and Re-execute works on it. (``dg launch`` executes in its own
process instead; its runs have no code location.) ``./dev demo`` and the browser test use it
for the first syncs::

    python -m oracle_meili.defs.launch --url http://127.0.0.1:3000 \\
        --job sync_products --partition full
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from urllib.parse import urlsplit

import requests
from dagster import DagsterRunStatus
from dagster_graphql import DagsterGraphQLClient

_LOADED = "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus } } } }"
_FINISHED = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}


def wait_for_code_location(url: str, *, timeout: float = 180, pid: int | None = None) -> None:
    """Return once the webserver at ``url`` has loaded every code location; fail at once
    when the process ``pid`` (the one serving it) has exited."""
    deadline = time.monotonic() + timeout
    last_error = "no answer"
    while time.monotonic() < deadline:
        if pid is not None and not _alive(pid):
            raise RuntimeError(f"the Dagster process {pid} serving {url} has exited")
        try:
            answer = requests.post(f"{url}/graphql", json={"query": _LOADED}, timeout=5).json()
            entries = answer["data"]["workspaceOrError"]["locationEntries"]
            if entries and all(entry["loadStatus"] == "LOADED" for entry in entries):
                return
            last_error = f"code locations {entries}"
        except (requests.RequestException, KeyError, TypeError, ValueError) as error:
            last_error = str(error)
        time.sleep(0.5)
    raise TimeoutError(
        f"Dagster at {url} did not load its code location in {timeout:.0f} s: {last_error}"
    )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def launch_run(
    url: str, job: str, partition: str | None = None, *, timeout: float = 600
) -> tuple[str, DagsterRunStatus]:
    """Submit ``job`` (for ``partition``) to the webserver at ``url``; wait until it finishes.

    Returns the run's id and final status."""
    parts = urlsplit(url)
    client = DagsterGraphQLClient(
        parts.hostname or "127.0.0.1", port_number=parts.port, use_https=parts.scheme == "https"
    )
    tags = {"dagster/partition": partition} if partition else None
    run_id = client.submit_job_execution(job, tags=tags)
    deadline = time.monotonic() + timeout
    while (status := client.get_run_status(run_id)) not in _FINISHED:
        if time.monotonic() > deadline:
            raise TimeoutError(f"run {run_id} of {job} still {status.value} after {timeout:.0f} s")
        time.sleep(0.5)
    return run_id, status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--url", required=True, help="the Dagster webserver, e.g. http://127.0.0.1:3000"
    )
    parser.add_argument("--job", required=True)
    parser.add_argument("--partition")
    parser.add_argument("--pid", type=int, help="the webserver's process: fail once it exits")
    args = parser.parse_args(argv)
    try:
        wait_for_code_location(args.url, pid=args.pid)
    except (RuntimeError, TimeoutError) as error:
        print(f"{error}", file=sys.stderr)
        return 1
    run_id, status = launch_run(args.url, args.job, args.partition)
    print(f"{args.job} ({args.partition or 'no partition'}): run {run_id} {status.value.lower()}")
    return 0 if status == DagsterRunStatus.SUCCESS else 1


if __name__ == "__main__":
    sys.exit(main())
