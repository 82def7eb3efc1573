"""The ``oracle-meili`` command line, run in-process."""

from __future__ import annotations

import argparse
import logging
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import orjson
import psutil
import pytest
import sqlalchemy as sa
import yaml
from pydantic import SecretStr

from oracle_meili.adapters.meili import MeiliClient
from oracle_meili.adapters.server import RunningMeilisearch, free_port
from oracle_meili.cli import _parser, main
from oracle_meili.config import MeilisearchConfig, load_config


@pytest.fixture
def cli_env(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    meili_server: RunningMeilisearch,
    index_name: str,
) -> Path:
    """A working directory with a demo database and a config for the test server."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MEILI_URL", meili_server.url)
    monkeypatch.setenv("MEILI_API_KEY", meili_server.master_key)
    config = {
        "source": {"url": "sqlite:///demo/demo.db"},
        "indexes": [
            {
                "name": index_name,
                "table": "PRODUCTS",
                "primary_key": "PRODUCT_ID",
                "cursor": "UPDATED_AT",
                "soft_delete": {"column": "IS_DELETED", "deleted_value": "Y"},
            }
        ],
    }
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    return tmp_path


def test_demo_sync_status_history(
    cli_env: Path, index_name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--rows", "300"]) == 0
    assert (cli_env / "demo" / "demo.db").exists()
    assert main(["sync", "--config", "config.yaml", "--index", index_name, "--mode", "full"]) == 0
    full = orjson.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert full["rows_read"] == full["index_document_count"] > 280
    assert (
        main(["sync", "--config", "config.yaml", "--index", index_name, "--mode", "incremental"])
        == 0
    )
    incremental = orjson.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert incremental["previous_watermark"] == full["watermark"]
    state = orjson.loads((cli_env / "sync_state.json").read_bytes())
    assert state["indexes"][index_name]["last_success"]["mode"] == "incremental"

    assert main(["status", "--config", "config.yaml"]) == 0
    status = capsys.readouterr().out
    assert f"{index_name}: last incremental sync" in status
    assert f"{index_name}: settings as configured" in status
    assert main(["history", "--config", "config.yaml", "--index", index_name]) == 0
    header, *lines = capsys.readouterr().out.strip().splitlines()
    assert header.split()[:6] == ["started", "finished", "mode", "outcome", "by", "what"]
    assert len(lines) == 2 and "full" in lines[1]
    assert lines[0].split()[2:5] == ["incremental", "succeeded", "CLI"]


def test_failure_is_one_line_and_recorded(
    cli_env: Path,
    index_name: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    main(["demo", "--rows", "10"])
    monkeypatch.setenv("MEILI_URL", f"http://127.0.0.1:{free_port()}")
    code = main(["sync", "--config", "config.yaml", "--index", index_name, "--mode", "full"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert err[-1].startswith("oracle-meili: Meilisearch at http://127.0.0.1:")
    assert "Traceback" not in "\n".join(err)
    state = orjson.loads((cli_env / "sync_state.json").read_bytes())
    assert state["indexes"][index_name]["history"][-1]["outcome"] == "failed"
    assert "last_success" not in state["indexes"][index_name]


def test_unknown_index_and_missing_config(
    cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sync", "--config", "config.yaml", "--index", "nope", "--mode", "full"]) == 1
    assert "no index named 'nope'" in capsys.readouterr().err
    assert main(["status", "--config", "missing.yaml"]) == 1
    assert "cannot read configuration file" in capsys.readouterr().err


def test_secrets_never_reach_output_or_state(
    cli_env: Path,
    index_name: str,
    meili_server: RunningMeilisearch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    main(["demo", "--rows", "10"])
    main(["sync", "--config", "config.yaml", "--index", index_name, "--mode", "full"])
    captured = capsys.readouterr()
    assert meili_server.master_key not in captured.out + captured.err
    assert meili_server.master_key not in (cli_env / "sync_state.json").read_text()


def test_logs_start_finish_and_progress_TEST_100_TEST_101(
    cli_env: Path, index_name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["demo", "--rows", "60000"])
    assert main(["sync", "--config", "config.yaml", "--index", index_name, "--mode", "full"]) == 0
    err = capsys.readouterr().err
    assert f"INFO oracle_meili.engine.full: full sync of '{index_name}' started" in err
    assert f"full sync of '{index_name}' finished" in err
    assert f"INFO oracle_meili: {index_name}: 50,000 rows read (" in err  # with the rate


def test_log_level_from_environment_or_flag_TEST_103(
    cli_env: Path,
    index_name: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    main(["demo", "--rows", "10"])
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    assert main(["sync", "--config", "config.yaml", "--index", index_name, "--mode", "full"]) == 0
    assert "INFO" not in capsys.readouterr().err
    assert main(["--log-level", "DEBUG", "sync", "--config", "config.yaml", "--index",
                 index_name, "--mode", "incremental"]) == 0  # fmt: skip
    assert "INFO oracle_meili.engine.incremental: incremental sync" in capsys.readouterr().err
    monkeypatch.setenv("LOG_LEVEL", "LOUD")
    assert main(["status", "--config", "config.yaml"]) == 2
    assert "LOG_LEVEL must be one of" in capsys.readouterr().err


def test_error_details_in_the_log_TEST_102(
    cli_env: Path, index_name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    (cli_env / "config.yaml").write_text(
        (cli_env / "config.yaml").read_text().replace("UPDATED_AT", "NO_SUCH_COLUMN")
    )
    main(["demo", "--rows", "10"])
    assert main(["sync", "--config", "config.yaml", "--index", index_name, "--mode", "full"]) == 1
    err = capsys.readouterr().err
    assert f"index '{index_name}': cursor column 'NO_SUCH_COLUMN' is not in PRODUCTS" in err


def test_reconcile_command(
    cli_env: Path, index_name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["demo", "--rows", "100"])
    assert main(["sync", "--config", "config.yaml", "--index", index_name, "--mode", "full"]) == 0
    engine = sa.create_engine("sqlite:///demo/demo.db")
    with engine.begin() as c:
        c.execute(sa.text("DELETE FROM PRODUCTS WHERE IS_DELETED = 'N' AND PRODUCT_ID < 40"))
    engine.dispose()
    capsys.readouterr()
    assert main(["reconcile", "--config", "config.yaml", "--index", index_name, "--dry-run"]) == 0
    dry = orjson.loads(capsys.readouterr().out)
    assert dry["orphans"] > 0
    assert dry["deleted"] is False
    # 39 % of the index: more than max_delete_share (10 %), so it stops and says why.
    assert main(["reconcile", "--config", "config.yaml", "--index", index_name]) == 1
    assert "more than max_delete_share" in capsys.readouterr().err
    forced = ["reconcile", "--config", "config.yaml", "--index", index_name, "--force"]
    assert main(forced) == 0
    assert orjson.loads(capsys.readouterr().out)["orphans"] == dry["orphans"]


def test_check_command(cli_env: Path, index_name: str, capsys: pytest.CaptureFixture[str]) -> None:
    main(["demo", "--rows", "100"])
    assert main(["sync", "--config", "config.yaml", "--index", index_name, "--mode", "full"]) == 0
    capsys.readouterr()
    # A sentence by default, as the run log says it; one JSON line for scripts.
    assert main(["check", "--config", "config.yaml", "--index", index_name]) == 0
    assert re.fullmatch(
        rf"{index_name}: (\d+) live rows, \1 documents; \1 match, 0 differ, 0 missing, "
        r"0 orphans \(100.00 % consistent\) in [\d.]+ s\n"
        rf"{index_name}: settings as configured\n",
        capsys.readouterr().out,
    )
    engine = sa.create_engine("sqlite:///demo/demo.db")
    with engine.begin() as c:
        c.execute(sa.text("UPDATE PRODUCTS SET NAME = 'changed' WHERE IS_DELETED = 'N'"))
    engine.dispose()
    assert main(["check", "--config", "config.yaml", "--index", index_name, "--json"]) == 1
    report = orjson.loads(capsys.readouterr().out)
    assert report["mismatched"] > 0 and report["consistent_percent"] < 100


def test_check_and_reconcile_of_an_index_never_built(
    cli_env: Path, index_name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`check` on a new index printed the client's hint about Meilisearch
    versions; now both commands say the index was never built and what to do."""
    main(["demo", "--rows", "20"])
    for command in ("check", "reconcile"):
        assert main([command, "--config", "config.yaml", "--index", index_name]) == 1
        err = capsys.readouterr().err
        assert f"index '{index_name}' does not exist in Meilisearch yet" in err
        assert "run a full sync first" in err and "version" not in err


def meilisearch_command(folder: Path) -> tuple[subprocess.Popen[str], int]:
    """`oracle-meili meilisearch` on a free port, started; and the port."""
    port = free_port()
    env = {**os.environ, "MEILI_MASTER_KEY": "k" * 24}
    command = [sys.executable, "-m", "oracle_meili.cli", "meilisearch",
               "--data-dir", str(folder / "ms"), "--port", str(port)]  # fmt: skip
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True), port


def test_meilisearch_command_serves_until_sigterm(tmp_path: Path) -> None:
    """`oracle-meili meilisearch` runs the pinned server in the foreground, says where it
    listens, and stops cleanly on SIGTERM."""
    child, port = meilisearch_command(tmp_path)
    try:
        assert child.stdout is not None
        first = child.stdout.readline()
        assert f"Meilisearch listening on http://127.0.0.1:{port}" in first
        with MeiliClient(
            MeilisearchConfig(url=f"http://127.0.0.1:{port}", api_key=SecretStr("k" * 24))
        ) as client:
            client.check_health()
    finally:
        child.send_signal(signal.SIGTERM)
        child.communicate(timeout=60)
    assert child.returncode == 0


def test_the_server_ends_with_a_killed_meilisearch_command(tmp_path: Path) -> None:
    """kill -9 of `oracle-meili meilisearch`: the server it started does not go on holding
    its port and data."""
    child, _ = meilisearch_command(tmp_path)
    try:
        assert child.stdout is not None
        assert "listening" in child.stdout.readline()
        (server,) = psutil.Process(child.pid).children()
        child.kill()
        child.wait()
        _, alive = psutil.wait_procs([server], timeout=10)
        assert not alive, "the Meilisearch server outlived the command that started it"
    finally:
        if child.poll() is None:
            child.kill()


def test_help_reads_as_text_and_says_what_every_option_is() -> None:
    """`--help` shows no reStructuredText quotes, and every option of every command has
    its own help text."""
    parser = _parser()
    assert "``" not in parser.format_help()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    for name, command in commands.items():
        for action in command._actions:
            if action.option_strings and action.dest != "help":
                assert action.help, f"oracle-meili {name} {action.option_strings[0]}: no help"


def test_apply_settings_keeps_syncs_out_and_loses_no_change(
    cli_env: Path, index_name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A row changes while apply-settings copies the index: a sync started then is refused
    (it would write to the index about to be replaced), the next one after the swap brings
    the change, and it is searchable under the new settings."""
    main(["demo", "--rows", "300"])
    assert main(["sync", "--config", "config.yaml", "--index", index_name, "--mode", "full"]) == 0
    config = yaml.safe_load((cli_env / "config.yaml").read_text())
    config["indexes"][0]["settings"] = {"synonyms": {"kettle": ["zyxwv"]}}
    (cli_env / "config.yaml").write_text(yaml.safe_dump(config))
    during: list[int] = []

    class WhileCopying(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "documents copied" not in record.getMessage() or during:
                return
            engine = sa.create_engine("sqlite:///demo/demo.db")
            with engine.begin() as c:
                c.execute(sa.text(
                    "UPDATE PRODUCTS SET NAME = 'Zyxwv', UPDATED_AT = '2031-01-01 00:00:00' "
                    "WHERE PRODUCT_ID = (SELECT MIN(PRODUCT_ID) FROM PRODUCTS "
                    "WHERE IS_DELETED = 'N')"
                ))  # fmt: skip
            engine.dispose()
            sync = ["sync", "--config", "config.yaml", "--index", index_name]
            during.append(main([*sync, "--mode", "incremental"]))

    handler = WhileCopying()
    logging.getLogger("oracle_meili").addHandler(handler)
    try:
        assert main(["apply-settings", "--config", "config.yaml", "--index", index_name]) == 0
    finally:
        logging.getLogger("oracle_meili").removeHandler(handler)
    assert during == [1]
    out, err = capsys.readouterr()
    assert "another process is syncing it or applying its settings" in err
    applied = orjson.loads(out.strip().splitlines()[-1])
    assert (applied["how"], applied["changed"]) == ("copy", ["synonyms"])
    assert (
        main(["sync", "--config", "config.yaml", "--index", index_name, "--mode", "incremental"])
        == 0
    )
    client = MeiliClient(load_config("config.yaml").meilisearch)
    # The changed row, found through the new synonym.
    hits = client.search(index_name, "kettle", limit=1000)["hits"]
    assert "Zyxwv" in [h["name"] for h in hits]
    client.close()
