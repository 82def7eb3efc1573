"""Launch a job through a running Dagster webserver, as its Materialize button does, and wait.

A run launched this way belongs to the webserver's code location: the Overview timeline and
the job's Runs tab list it, and Re-execute works on it. (``dg launch`` executes in its own
process instead; its runs have no code location.) ``./dev demo`` and the browser test use it
for the first syncs::

    python -m oracle_meili.defs.launch --url http://127.0.0.1:3000 \\
        --job sync_indexes --asset meilisearch/products --partition full
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import requests
from dagster import DagsterRunStatus
from dagster_graphql import DagsterGraphQLClient

from oracle_meili.defs.names import CAUGHT_UP, SYNC_JOB
from oracle_meili.defs.throttle import process_alive

_LOADED = "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus } } } }"
_FINISHED = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}


def wait_for_code_location(url: str, *, timeout: float = 180, pid: int | None = None) -> None:
    """Return once the webserver at ``url`` has loaded every code location; fail at once
    when the process ``pid`` (the one serving it) has exited."""
    deadline = time.monotonic() + timeout
    last_error = "no answer"
    while time.monotonic() < deadline:
        if pid is not None and not process_alive(pid):
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


_JOBS = (
    "{ repositoriesOrError { ... on RepositoryConnection { nodes { name location { name } "
    "pipelines { name } } } } }"
)
_LAUNCH = """
mutation Launch($params: ExecutionParams!) {
  launchPipelineExecution(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on InvalidSubsetError { message }
    ... on RunConfigValidationInvalid { errors { message } }
  }
}
"""


def launch_run(
    url: str,
    job: str,
    partition: str | None = None,
    *,
    assets: Sequence[str] = (),
    timeout: float = 600,
) -> tuple[str, DagsterRunStatus]:
    """Submit ``job`` (for ``partition``; its ``assets`` alone when given, each spelled
    ``a/b``, without their checks) to the webserver at ``url``; wait until it finishes.

    Returns the run's id and final status."""
    run_id = submit(url, job, partition, assets=assets)
    parts = urlsplit(url)
    client = DagsterGraphQLClient(
        parts.hostname or "127.0.0.1", port_number=parts.port, use_https=parts.scheme == "https"
    )
    deadline = time.monotonic() + timeout
    while (status := client.get_run_status(run_id)) not in _FINISHED:
        if time.monotonic() > deadline:
            raise TimeoutError(f"run {run_id} of {job} still {status.value} after {timeout:.0f} s")
        time.sleep(0.5)
    return run_id, status


def submit(url: str, job: str, partition: str | None, *, assets: Sequence[str]) -> str:
    """The GraphQL launch the UI's Launchpad sends: the job, the assets selected (with the
    check each sync evaluates, not the consistency checks: Dagster would add every check of
    a selected asset), the partition's tag."""
    repositories = _graphql(url, _JOBS)["repositoriesOrError"]["nodes"]
    homes = [r for r in repositories if job in {p["name"] for p in r["pipelines"]}]
    if len(homes) != 1:
        raise RuntimeError(f"job {job!r} is in {len(homes)} code locations at {url}")
    selector: dict[str, Any] = {
        "repositoryLocationName": homes[0]["location"]["name"],
        "repositoryName": homes[0]["name"],
        "pipelineName": job,
    }
    if assets:
        selector["assetSelection"] = [{"path": a.split("/")} for a in assets]
        # The check each sync evaluates, part of its step (the one-step indexes' job's).
        checks = [{"assetKey": {"path": a.split("/")}, "name": CAUGHT_UP} for a in assets]
        selector["assetCheckSelection"] = checks if job == SYNC_JOB else []
    tags = [{"key": "dagster/partition", "value": partition}] if partition else []
    params = {"selector": selector, "runConfigData": {}, "executionMetadata": {"tags": tags}}
    answer = _graphql(url, _LAUNCH, {"params": params})["launchPipelineExecution"]
    if answer["__typename"] != "LaunchRunSuccess":
        raise RuntimeError(f"launching {job} failed: {answer}")
    return str(answer["run"]["runId"])


def _graphql(url: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    response = requests.post(
        f"{url}/graphql", json={"query": query, "variables": variables or {}}, timeout=30
    )
    response.raise_for_status()
    body = response.json()
    if body.get("errors"):
        raise RuntimeError(f"GraphQL errors from {url}: {body['errors']}")
    data: dict[str, Any] = body["data"]
    return data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--url", required=True, help="the Dagster webserver, e.g. http://127.0.0.1:3000"
    )
    parser.add_argument("--job", required=True)
    parser.add_argument("--partition")
    parser.add_argument(
        "--asset", action="append", default=[], help="an asset of the job to run (repeatable)"
    )
    parser.add_argument("--pid", type=int, help="the webserver's process: fail once it exits")
    args = parser.parse_args(argv)
    try:
        wait_for_code_location(args.url, pid=args.pid)
    except (RuntimeError, TimeoutError) as error:
        print(f"{error}", file=sys.stderr)
        return 1
    run_id, status = launch_run(args.url, args.job, args.partition, assets=args.asset)
    what = " ".join([args.job, *args.asset])
    print(f"{what} ({args.partition or 'no partition'}): run {run_id} {status.value.lower()}")
    return 0 if status == DagsterRunStatus.SUCCESS else 1


if __name__ == "__main__":
    sys.exit(main())
