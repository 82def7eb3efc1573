"""The docs keep their promises: every configuration example loads, the Component example
passes ``dg check defs``, the instance example is the shipped file, every command runs (or
names the test that runs it, or says it needs Oracle), and the traceability table names
tests that exist."""

from __future__ import annotations

import argparse
import ast
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import yaml

from oracle_meili.adapters.meili import MeiliClient
from oracle_meili.adapters.server import RunningMeilisearch, meilisearch_server
from oracle_meili.cli import _parser, main
from oracle_meili.config import MeilisearchConfig, load_config, parse_config
from oracle_meili.definitions import build_definitions
from oracle_meili_tests.test_component import dg as run_dg
from oracle_meili_tests.test_component import make_project

PROJECT = Path(__file__).resolve().parents[1]
DOCS = [PROJECT / "README.md", *sorted((PROJECT / "docs").glob("*.md"))]
# What an example needs from the environment: secrets and a server, never in a file.
EXAMPLE_ENV = {
    "ORACLE_DSN": "db.example.com:1521/FREEPDB1",
    "ORACLE_USER": "shop",
    "ORACLE_PASSWORD": "example-password",
    "MEILI_URL": "http://127.0.0.1:7700",
    "MEILI_API_KEY": "example-key",
}
NEEDS_ORACLE = "needs Oracle"
DEMO_TEST = "oracle_meili_tests/test_demo.py::test_dev_demo_and_a_second_terminal"
RESHARD_TEST = (
    "oracle_meili_tests/engine/test_sharded_sync.py::test_reshard_commands_add_then_remove_a_shard"
)
# Commands of the docs that these tests do not run themselves, each with what runs it.
RUN_ELSEWHERE = {
    "./dev test": ".ci/run",
    "./dev demo": DEMO_TEST,
    ".venv/bin/oracle-meili status": DEMO_TEST,
    ".venv/bin/oracle-meili history --index products": DEMO_TEST,
    ".venv/bin/oracle-meili check --index products": DEMO_TEST,
    "pip install /path/to/oracle-meili": ".ci/run",
    "dg scaffold defs oracle_meili.OracleMeiliComponent search": (
        "oracle_meili_tests/test_component.py::test_scaffold_check_list_and_launch_with_dg"
    ),
    "oracle-meili follow --config demo/config.yaml --dagster": (
        "oracle_meili_tests/engine/test_follow.py::test_follow_command_stops_cleanly_on_sigterm"
    ),
    "oracle-meili meilisearch --data-dir .state/meilisearch --port 7700": (
        "oracle_meili_tests/test_cli.py::test_meilisearch_command_serves_until_sigterm"
    ),
    "oracle-meili reshard --index products": RESHARD_TEST,
    "oracle-meili reshard --index products --from s2=http://10.0.0.12:7700": RESHARD_TEST,
    "dagster instance concurrency set oracle_meili/products 1": (
        "oracle_meili_tests/test_docs.py::test_pool_limit_command_sets_the_limit"
    ),
}


@dataclass(frozen=True)
class Block:
    """A fenced code block of a doc."""

    path: Path
    line: int
    lang: str
    text: str

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(PROJECT)}:{self.line}"

    def commands(self) -> list[str]:
        """Each command line, without its prompt and its trailing comment."""
        lines = []
        for raw in self.text.splitlines():
            line = raw.strip()
            if line and not line.startswith("#"):
                lines.append(line)
        return lines


def blocks(lang: str) -> list[Block]:
    found = []
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(r"^( *)```(\w*)\n(.*?)^\1```", text, re.M | re.S):
            if match.group(2) == lang:
                body = "\n".join(line[len(match.group(1)) :] for line in match.group(3).split("\n"))
                found.append(Block(path, text.count("\n", 0, match.start()) + 1, lang, body))
    return found


def yaml_examples(kind: str) -> list[Block]:
    return [b for b in blocks("yaml") if classify(yaml.safe_load(b.text)) == kind]


def classify(data: Any) -> str:
    if isinstance(data, dict) and "indexes" in data:
        return "configuration"
    if isinstance(data, dict) and data.get("type") == "oracle_meili.OracleMeiliComponent":
        return "component"
    if isinstance(data, dict) and "run_coordinator" in data:
        return "instance"
    if isinstance(data, dict) and "load_from" in data:
        return "workspace"
    return "unknown"


def test_every_yaml_example_is_one_the_tests_load() -> None:
    unknown = [b.where for b in blocks("yaml") if classify(yaml.safe_load(b.text)) == "unknown"]
    assert not unknown, f"YAML examples no test loads: {unknown}"
    assert yaml_examples("configuration") and yaml_examples("component")


@pytest.mark.parametrize("block", yaml_examples("configuration"), ids=lambda b: b.where)
def test_configuration_examples_load(block: Block) -> None:
    """Each configuration file of the docs loads, and Dagster definitions build from it."""
    config = parse_config(yaml.safe_load(block.text), environ=EXAMPLE_ENV)
    defs = build_definitions(config, EXAMPLE_ENV)
    assert defs.resolve_job_def("sync_indexes" if config.indexes[0].parallel == 1
                                else "sync_sliced_indexes")  # fmt: skip


def test_the_production_files_are_shown_as_they_are() -> None:
    """docs/deploying.md shows deploy/production's files (which test_production.py runs)
    verbatim, and the production instance is the shipped one with Postgres storage."""
    (instance,) = yaml_examples("instance")
    (workspace,) = yaml_examples("workspace")
    production = PROJECT / "deploy" / "production"
    assert instance.text == (production / "dagster.yaml").read_text()
    assert workspace.text == (production / "workspace.yaml").read_text()
    example = yaml.safe_load(instance.text)
    shipped = yaml.safe_load((PROJECT / "deploy" / "dagster.yaml").read_text())
    storage = example.pop("storage")
    assert example == shipped
    assert set(storage) == {"postgres"}


@pytest.mark.parametrize("block", yaml_examples("component"), ids=lambda b: b.where)
def test_component_examples_pass_dg_check_defs(
    block: Block, tmp_path: Path, meili_server: RunningMeilisearch
) -> None:
    root = make_project(tmp_path / "shop")
    defs_yaml = root / "src" / "shop" / "defs" / "search" / "defs.yaml"
    defs_yaml.parent.mkdir(parents=True)
    defs_yaml.write_text(block.text)
    env = {
        **os.environ,
        **EXAMPLE_ENV,
        "PYTHONPATH": str(root / "src"),
        "MEILI_URL": meili_server.url,
    }
    checked = run_dg(root, env, "check", "defs")
    assert checked.returncode == 0, checked.stdout + checked.stderr


def all_commands() -> list[tuple[Block, str]]:
    return [(b, c) for b in blocks("bash") for c in b.commands()]


def cli_argv(command: str) -> list[str] | None:
    """The arguments of an ``oracle-meili`` command line (None for another program)."""
    words = command.split("#", 1)[0].split()
    while words and "=" in words[0]:
        words.pop(0)  # VAR=value prefixes
    if not words or Path(words[0]).name != "oracle-meili":
        return None
    return words[1:]


def test_every_command_is_run_or_says_why_not() -> None:
    """A command in a doc is run by ``test_cli_commands_run``, or listed in RUN_ELSEWHERE with
    the test that runs it, or marked as needing Oracle."""
    unaccounted = []
    for block, command in all_commands():
        bare = command.split("#", 1)[0].strip()
        if NEEDS_ORACLE in command or bare in RUN_ELSEWHERE:
            continue
        if cli_argv(command) is not None and block_is_run(block):
            continue
        unaccounted.append(f"{block.where}: {command}")
    assert not unaccounted, "commands no test runs:\n" + "\n".join(unaccounted)
    for runner in RUN_ELSEWHERE.values():
        assert names_a_test(runner), runner
    assert "./dev test" in (PROJECT / ".ci" / "run").read_text()


def block_is_run(block: Block) -> bool:
    """A block whose every command is an ``oracle-meili`` command that ends by itself."""
    return all(
        cli_argv(c) is not None and c.split("#", 1)[0].strip() not in RUN_ELSEWHERE
        for c in block.commands()
        if NEEDS_ORACLE not in c
    )


def names_a_test(node: str) -> bool:
    """Whether ``path::function`` names a test function (or ``path`` a file)."""
    path, _, name = node.partition("::")
    file = PROJECT / path
    if not file.exists():
        return False
    if not name:
        return True
    tree = ast.parse(file.read_text())
    return any(isinstance(n, ast.FunctionDef) and n.name == name for n in ast.walk(tree))


@pytest.fixture(scope="module")
def docs_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningMeilisearch]:
    """A Meilisearch of its own: the docs' commands use the index name ``products``."""
    data = tmp_path_factory.mktemp("docs-meilisearch")
    with meilisearch_server(data_dir=data, log_path=data / "meilisearch.log") as server:
        yield server


RUN_BLOCKS = [
    b
    for b in blocks("bash")
    if block_is_run(b) and any(NEEDS_ORACLE not in c for c in b.commands())
]


@pytest.mark.parametrize("block", RUN_BLOCKS, ids=lambda b: b.where)
def test_cli_commands_run(
    block: Block,
    tmp_path: Path,
    docs_server: RunningMeilisearch,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The block's commands, in order, from a copy of the project's demo folder: each exits
    0, and the index they build answers a search."""
    (tmp_path / "demo").mkdir()
    shutil.copy(PROJECT / "demo" / "config.yaml", tmp_path / "demo" / "config.yaml")
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(PROJECT / "deploy" / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MEILI_URL", docs_server.url)
    monkeypatch.setenv("MEILI_API_KEY", docs_server.master_key)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    for command in block.commands():
        if NEEDS_ORACLE in command:
            continue
        argv = cli_argv(command)
        assert argv is not None
        assert main(argv) == 0, f"{block.where}: {command}\n{capsys.readouterr().err}"
    config = load_config("demo/config.yaml")
    meili = MeilisearchConfig.model_validate(
        {"url": docs_server.url, "api_key": docs_server.master_key}
    )
    with MeiliClient(meili) as client:
        hits = client.search("products", "이어폰")["hits"]
    assert hits and all("이어폰" in hit["name"] for hit in hits)
    assert config.index("products")


def test_the_cli_synopsis_lists_every_command() -> None:
    (synopsis,) = [b for b in blocks("text") if b.text.startswith("oracle-meili sync")]
    listed = {line.split()[1] for line in synopsis.commands()}
    subparsers = [a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction)]
    assert listed == set(subparsers[0].choices)


def test_the_traceability_table_names_tests_that_exist() -> None:
    table = (PROJECT / "docs" / "traceability.md").read_text()
    rows = [line for line in table.splitlines() if line.startswith("| TEST-")]
    plan = PROJECT.parent / "shared" / "seed" / "phase01-plan.en.md"
    if plan.exists():  # the seed plan sits beside the project where it is developed
        assert {r.split("|")[1].strip() for r in rows} == set(
            re.findall(r"TEST-\d{3}", plan.read_text())
        )
    missing = [
        node
        for row in rows
        for node in re.findall(r"`([\w/]+\.py::\w+)`", row)
        if not names_a_test(f"oracle_meili_tests/{node}")
    ]
    assert not missing, missing


def test_pool_limit_command_sets_the_limit(tmp_path: Path) -> None:
    """docs/deploying.md's command sets the index's pool limit in the instance."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(PROJECT / "deploy" / "dagster.yaml", home / "dagster.yaml")
    (command,) = [c for _, c in all_commands() if c.startswith("dagster instance concurrency")]
    dagster = Path(sys.executable).parent / "dagster"
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    subprocess.run([str(dagster), *command.split()[1:]], env=env, check=True, capture_output=True)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        info = instance.event_log_storage.get_concurrency_info("oracle_meili/products")
    assert info.slot_count == 1


def test_every_metadata_key_is_documented_and_every_documented_key_is_recorded() -> None:
    """docs/dagster.md's Metadata table lists each key of oracle-meili's metadata sets, and
    nothing else."""
    import oracle_meili.defs.follow_reports  # noqa: F401  (its SyncFailure set)
    from oracle_meili.defs.metadata_sets import OracleMeiliMetadata

    def sets(cls: type[OracleMeiliMetadata]) -> list[type[OracleMeiliMetadata]]:
        return [cls, *(s for sub in cls.__subclasses__() for s in sets(sub))]

    recorded = {cls.key(field) for cls in sets(OracleMeiliMetadata) for field in cls.model_fields}
    table = (PROJECT / "docs" / "dagster.md").read_text().split("## Metadata\n", 1)[1]
    table = table.split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `(oracle_meili/[a-z_]+)` \|", table, re.M))
    assert documented == recorded
    # The UI's metadata table overlaps a longer key with its value.
    assert max(len(key) for key in recorded) <= 34


# Backticked words of the docs that look like Dagster names but are not: the translator's
# TableAsset fields, and the engine's function that opens a source.
NOT_DAGSTER_NAMES = {"observed_by", "source_kind", "source_engine"}


def test_every_documented_job_schedule_sensor_and_check_exists() -> None:
    """Each job, schedule, sensor or check name the docs give (``<index>`` and ``<n>`` as
    placeholders) is one that configurations of every shape define."""
    index = {"table": "PRODUCTS", "primary_key": "PRODUCT_ID", "cursor": "UPDATED_AT"}
    every = {"incremental": "* * * * *", "full": "0 3 * * *", "checks": "0 4 * * *",
             "reconcile": "0 5 * * *", "observe": "0 6 * * *"}  # fmt: skip
    shapes: list[list[dict[str, Any]]] = [
        [{**index, "name": "products", "schedule": every,
          "search_checks": [{"q": "x", "min_hits": 1}]}],
        [{**index, "name": "a"}, {**index, "name": "b", "parallel": 2}],
        [{**index, "name": "a", "change_sensor": None, "follow": {}}],
        [{**index, "name": "a", "change_sensor": None, "follow": {}},
         {**index, "name": "b", "change_sensor": None, "follow": {"interval_seconds": 2}}],
    ]  # fmt: skip
    names: set[str] = set()
    for indexes in shapes:
        for shards in (
            [],
            [{"name": "s1", "url": "http://a:7700"}, {"name": "s2", "url": "http://b:7700"}],
        ):
            raw = (
                {"source": {"url": "sqlite:///x.db"}, "meilisearch": {"shards": shards}}
                if shards
                else {"source": {"url": "sqlite:///x.db"}}
            )
            defs = build_definitions(
                parse_config({**raw, "indexes": indexes}, environ=EXAMPLE_ENV), EXAMPLE_ENV
            )
            names |= {j.name for j in defs.resolve_all_job_defs()}
            names |= {s.name for s in defs.schedules or []}
            names |= {s.name for s in defs.sensors or []}
            names |= {c.node_def.name for c in defs.asset_checks or []}
            names |= {k.name for k in defs.resolve_asset_graph().asset_check_keys}
    pattern = re.compile(
        r"`((?:sync|check|observe|reconcile|reshard|follow|keep|source|consistency|search)_"
        r"[A-Za-z0-9_<>]+)`"
    )
    documented = {m for path in DOCS for m in pattern.findall(path.read_text())} - NOT_DAGSTER_NAMES
    assert documented
    missing = []
    for name in sorted(documented):
        shape = re.escape(name).replace("<index>", "[a-z0-9_]+").replace("<n>", r"\d+")
        if not any(re.fullmatch(shape, n) for n in names):
            missing.append(name)
    assert not missing, f"documented but not defined: {missing} (defined: {sorted(names)})"
