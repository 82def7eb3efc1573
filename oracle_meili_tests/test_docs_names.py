"""Every configuration key, environment variable and CLI flag the docs name exists, and
every configuration key is documented."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from oracle_meili.cli import _parser
from oracle_meili.config import (
    IndexConfig,
    MeilisearchConfig,
    MeilisearchSettings,
    OracleSettings,
    Orchestration,
    SearchCheck,
)
from oracle_meili_tests.test_docs import DOCS, PROJECT, blocks

CONFIGURATION = PROJECT / "docs" / "configuration.md"


def table_keys(header: str) -> set[str]:
    """The backticked names in the first column of each table whose header starts with
    ``header`` in docs/configuration.md."""
    keys: set[str] = set()
    within = False
    for line in CONFIGURATION.read_text().splitlines():
        if line.startswith("| " + header):
            within = True
        elif not line.startswith("|"):
            within = False
        elif within and not line.startswith("|---"):
            keys |= set(re.findall(r"`([a-z_]+)`", line.split("|")[1]))
    return keys


def test_every_index_key_is_documented_and_every_documented_one_exists() -> None:
    documented = table_keys("key (per index)")
    defined = set(IndexConfig.model_fields) | set(Orchestration.model_fields)
    assert documented == defined


def test_every_search_check_key_is_documented_and_every_documented_one_exists() -> None:
    assert table_keys("key (per check)") == set(SearchCheck.model_fields)


def sentence_keys(start: str, end: str) -> set[str]:
    """The backticked names from ``start`` to ``end`` in docs/configuration.md."""
    text = CONFIGURATION.read_text()
    at = text.index(start)
    return set(re.findall(r"`([a-z_]+)`", text[at + len(start) : text.index(end, at)]))


def test_the_oracle_and_meilisearch_keys_listed_are_the_settings() -> None:
    """The sentences that list the keys of `source.oracle` and `meilisearch:` list each
    setting the file may hold (not the secrets; `shards` has a section of its own)."""
    oracle = set(OracleSettings.model_fields) - set(OracleSettings.secrets())
    assert sentence_keys("`source.oracle` takes", "; `password`") == oracle
    meilisearch = set(MeilisearchSettings.model_fields) - {"shards"}
    assert sentence_keys("`meilisearch:` takes", "The API key") == meilisearch


def test_every_documented_environment_variable_is_read() -> None:
    """Each variable of the environment table is a settings record's or is read by the
    package or `./dev` (a ``<NAME>`` part stands for a shard's name); every record's
    variable is in the table."""
    text = CONFIGURATION.read_text()
    table = text[text.index("## The environment") :]
    variables = set(re.findall(r"`([A-Z][A-Z_]+(?:<NAME>)?)`", table))
    records = set(OracleSettings.variables().values()) | set(MeilisearchConfig.variables().values())
    assert records - variables == set()
    code = "\n".join(p.read_text() for p in (PROJECT / "oracle_meili").rglob("*.py"))
    code += (PROJECT / "dev").read_text()
    missing = [v for v in sorted(variables - records) if v.replace("<NAME>", "") not in code]
    assert not missing


def test_every_documented_cli_flag_exists() -> None:
    """Each ``--flag`` the docs give an ``oracle-meili`` command is one that command takes."""
    subparsers = next(a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction))
    flags = {name: set(p._option_string_actions) for name, p in subparsers.choices.items()}
    missing = []
    lines = [line for b in blocks("bash") + blocks("text") for line in b.commands()]
    lines += [m for path in DOCS for m in re.findall(r"`(oracle-meili [^`]+)`", path.read_text())]
    for line in lines:
        words = line.split("#", 1)[0].split()
        if "oracle-meili" not in [w.rsplit("/", 1)[-1] for w in words]:
            continue
        at = [w.rsplit("/", 1)[-1] for w in words].index("oracle-meili")
        if len(words) <= at + 1 or words[at + 1] not in flags:
            continue
        command = words[at + 1]
        for word in words[at + 2 :]:
            flag = word.strip("[]|").split("=", 1)[0]
            if flag.startswith("--") and flag not in flags[command]:
                missing.append(f"{command} {flag}")
    assert not missing


def test_every_file_the_docs_name_exists() -> None:
    """A source or configuration file the docs name (in backticks) is in this project, its
    package or tests (names relative to them), or Dagster's installed package; Meilisearch's
    sources are cited by their repository path and a file a user's own `dg` project holds
    is said to be so."""
    import dagster

    roots = [PROJECT, PROJECT / "oracle_meili", PROJECT / "oracle_meili_tests"]
    roots.append(Path(dagster.__file__).parent.parent)
    elsewhere = ("crates/", "defs/search/")  # Meilisearch's repository; a user's dg project
    texts = [path.read_text() for path in DOCS]
    named = {
        name
        for text in texts
        for name in re.findall(r"`([\w./-]+/[\w.-]+\.(?:py|yaml|yml|sql|toml))`", text)
    }
    assert named
    missing = [
        name
        for name in sorted(named)
        if not name.startswith(elsewhere) and not any((root / name).exists() for root in roots)
    ]
    assert not missing
