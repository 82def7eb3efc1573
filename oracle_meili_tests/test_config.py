"""Configuration: YAML + environment + .env, validated at load."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from oracle_meili.config import DEFAULT_MEILI_URL, load_config, parse_config
from oracle_meili.errors import ConfigError

INDEX = {"name": "products", "table": "SHOP.PRODUCTS", "primary_key": "PRODUCT_ID"}
ORACLE_ENV = {
    "ORACLE_HOST": "db.example",
    "ORACLE_SERVICE_NAME": "FREEPDB1",
    "ORACLE_USER": "sync",
    "ORACLE_PASSWORD": "s3cret-pw",
}


def parse(raw: dict[str, Any], env: dict[str, str] | None = None) -> Any:
    return parse_config(raw, environ=env if env is not None else ORACLE_ENV)


def test_oracle_settings_from_environment_TEST_010() -> None:
    config = parse({"indexes": [INDEX]})
    oracle = config.source.oracle
    assert oracle is not None
    assert (oracle.host, oracle.port, oracle.service_name, oracle.user) == (
        "db.example",
        1521,
        "FREEPDB1",
        "sync",
    )
    assert oracle.password.get_secret_value() == "s3cret-pw"
    assert "s3cret-pw" not in repr(config)


def test_oracle_dsn_replaces_host_and_service() -> None:
    env = {"ORACLE_DSN": "db:1522/ORCL", "ORACLE_USER": "u", "ORACLE_PASSWORD": "p"}
    oracle = parse({"indexes": [INDEX]}, env).source.oracle
    assert oracle.target == "db:1522/ORCL"


def test_meilisearch_settings_from_environment_TEST_011() -> None:
    env = {**ORACLE_ENV, "MEILI_URL": "https://search.example", "MEILI_API_KEY": "key-123"}
    meili = parse({"indexes": [INDEX]}, env).meilisearch
    assert meili.url == "https://search.example"
    assert meili.api_key is not None and meili.api_key.get_secret_value() == "key-123"


def test_file_wins_over_environment() -> None:
    env = {**ORACLE_ENV, "MEILI_URL": "http://from-env:7700"}
    raw = {"meilisearch": {"url": "http://from-file:7700"}, "indexes": [INDEX]}
    assert parse(raw, env).meilisearch.url == "http://from-file:7700"


@pytest.mark.parametrize("missing", ["ORACLE_USER", "ORACLE_PASSWORD", "ORACLE_HOST"])
def test_missing_oracle_variable_is_named_TEST_012(missing: str) -> None:
    env = {k: v for k, v in ORACLE_ENV.items() if k != missing}
    with pytest.raises(ConfigError, match=missing):
        parse({"indexes": [INDEX]}, env)


def test_defaults_TEST_013() -> None:
    config = parse({"indexes": [INDEX]})
    assert config.meilisearch.url == DEFAULT_MEILI_URL
    assert config.source.oracle is not None and config.source.oracle.port == 1521
    index = config.index("products")
    assert index.primary_key == ("PRODUCT_ID",)
    assert index.full_strategy == "swap"
    assert index.lookback_seconds == 0


def test_dotenv_fills_unset_variables_TEST_141(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "c.yaml").write_text("indexes:\n  - {name: a, table: T, primary_key: ID}\n")
    (tmp_path / ".env").write_text(
        "ORACLE_DSN=from-dotenv/ORCL\nORACLE_USER=dotenv_user\nORACLE_PASSWORD=pw\n"
    )
    monkeypatch.chdir(tmp_path)
    for name in ("ORACLE_DSN", "ORACLE_HOST", "ORACLE_SERVICE_NAME", "ORACLE_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ORACLE_USER", "env_user")  # a set variable wins over .env
    oracle = load_config("c.yaml").source.oracle
    assert oracle is not None
    assert (oracle.dsn, oracle.user) == ("from-dotenv/ORCL", "env_user")


def test_composite_primary_key_list() -> None:
    index = parse({"indexes": [{**INDEX, "primary_key": ["ORDER_ID", "LINE_NO"]}]}).indexes[0]
    assert index.primary_key == ("ORDER_ID", "LINE_NO")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"primary_key": None}, r"index 'products': primary_key"),
        ({"query": "SELECT 1 FROM DUAL"}, r"index 'products': .*exactly one of `table` or `query`"),
        ({"name": "bad name"}, r"name: must be"),
        ({"name": "a__b"}, r"without '__'"),
        ({"batch_size": 0}, r"index 'products': batch_size"),
        ({"full_strategy": "drop"}, r"index 'products': full_strategy"),
        ({"colour": "red"}, r"index 'products': colour: Extra inputs"),
        ({"settings": {"primaryKey": "x"}}, r"settings.primaryKey"),
    ],
)
def test_invalid_index_names_index_and_key(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse({"indexes": [{**INDEX, **change}]})


def test_duplicate_index_names() -> None:
    with pytest.raises(ConfigError, match="used twice: products"):
        parse({"indexes": [INDEX, INDEX]})


def test_api_key_in_file_is_refused() -> None:
    with pytest.raises(ConfigError, match="MEILI_API_KEY"):
        parse({"meilisearch": {"api_key": "k"}, "indexes": [INDEX]})


def test_bad_meilisearch_url() -> None:
    with pytest.raises(ConfigError, match=r"meilisearch.url"):
        parse({"meilisearch": {"url": "localhost:7700"}, "indexes": [INDEX]})


def test_unknown_index_lookup_lists_known() -> None:
    with pytest.raises(ConfigError, match=r"no index named 'x'.*known: products"):
        parse({"indexes": [INDEX]}).index("x")


def test_missing_file_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read configuration file"):
        load_config(tmp_path / "absent.yaml", environ={})
    (tmp_path / "bad.yaml").write_text("indexes: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(tmp_path / "bad.yaml", environ={})


def test_no_config_path() -> None:
    with pytest.raises(ConfigError, match="ORACLE_MEILI_CONFIG"):
        load_config(environ={})


def test_demo_config_loads() -> None:
    config = load_config(Path(__file__).parent.parent / "demo" / "config.yaml", environ={})
    assert config.source.url == "sqlite:///demo/demo.db"
    assert config.index("products").soft_delete is not None


def test_a_misspelled_required_key_names_the_unknown_key() -> None:
    """`primary_keys:` is named as the unknown key beside the missing `primary_key`."""
    raw = {
        "source": {"url": "sqlite:///x.db"},
        "indexes": [{"name": "p", "table": "T", "primary_keys": "ID"}],
    }
    with pytest.raises(ConfigError) as raised:
        parse_config(raw, environ={})
    assert str(raised.value) == (
        "index 'p': primary_key: Field required (unknown key(s): primary_keys; misspelled?)"
    )


def test_oracle_settings_in_the_file() -> None:
    """`source.oracle` in the file wins; the environment fills the rest, the password
    included; the pool sizes' older spelling still loads."""
    raw = {
        "source": {
            "oracle": {"dsn": "file-db:1521/SHOP", "user": "shop", "pool_max": 9},
            "pool": {"min": 2},
        },
        "indexes": [INDEX],
    }
    oracle = parse(raw, {**ORACLE_ENV, "ORACLE_POOL_INCREMENT": "3"}).source.oracle
    assert oracle is not None
    assert (oracle.target, oracle.user) == ("file-db:1521/SHOP", "shop")
    assert (oracle.pool_min, oracle.pool_max, oracle.pool_increment) == (2, 9, 3)
    assert oracle.password.get_secret_value() == "s3cret-pw"


@pytest.mark.parametrize(
    ("oracle", "message"),
    [
        ({"password": "x"}, r"source.oracle.password: keep secrets out of the file"),
        ({"pool_max": 0}, r"source.oracle.pool_max: Input should be greater than or equal to 1"),
        ({"hostname": "db"}, r"source.oracle.hostname: Extra inputs are not permitted"),
        ({"dsn": "db/X"}, r"ORACLE_PASSWORD is not set"),
    ],
)
def test_bad_oracle_settings_in_the_file_are_named(oracle: dict[str, Any], message: str) -> None:
    env = {"ORACLE_USER": "u"}
    with pytest.raises(ConfigError, match=message):
        parse({"source": {"oracle": oracle}, "indexes": [INDEX]}, env)


def test_dagster_settings_are_split_from_the_engines() -> None:
    """An index entry's schedule, sensor, owners and freshness go to the Dagster layer; the
    engine's record holds none of them."""
    entry = {
        **INDEX,
        "schedule": {"full": "0 3 * * *"},
        "change_sensor": None,
        "owners": ["team:search"],
        "freshness": {"fail_after_minutes": 30},
    }
    config = parse({"indexes": [entry]})
    index = config.indexes[0]
    assert not {"schedule", "change_sensor", "owners", "freshness"} & set(type(index).model_fields)
    orchestration = config.orchestration_of(index)
    assert orchestration.schedule.full == "0 3 * * *"
    assert orchestration.change_sensor is None
    assert orchestration.owners == ("team:search",)


def test_read_path_columnar_still_loads(caplog: pytest.LogCaptureFixture) -> None:
    index = parse({"indexes": [{**INDEX, "read_path": "columnar"}]}).indexes[0]
    assert index.read_path == "columnar"
    assert "read_path: columnar is read as rows" in caplog.text


@pytest.mark.parametrize("limit", [0, -1, "2", 1.5, True])
def test_max_concurrent_syncs_is_a_whole_number_from_1(limit: Any) -> None:
    with pytest.raises(ConfigError, match=r"source.max_concurrent_syncs: "):
        parse({"source": {"url": "sqlite:///x.db", "max_concurrent_syncs": limit},
               "indexes": [INDEX]})  # fmt: skip


def test_max_concurrent_syncs_for_oracle_and_any_url() -> None:
    oracle_env = {"ORACLE_USER": "u", "ORACLE_PASSWORD": "p", "ORACLE_DSN": "db:1521/X"}
    oracle = parse({"source": {"max_concurrent_syncs": 3}, "indexes": [INDEX]}, oracle_env)
    assert oracle.source.max_concurrent_syncs == 3
    url = parse({"source": {"url": "sqlite:///x.db"}, "indexes": [INDEX]})
    assert url.source.max_concurrent_syncs is None


@pytest.mark.parametrize(
    ("meilisearch", "message"),
    [
        ({"shards": []}, r"meilisearch.shards: empty"),
        ({"shards": None}, r"meilisearch.shards: empty"),
        (
            {"url": "http://a:7700", "shards": [{"name": "s1", "url": "http://b:7700"},
                                                 {"name": "s2", "url": "http://c:7700"}]},
            r"`url` and `shards` both given",
        ),
    ],
)  # fmt: skip
def test_empty_or_conflicting_shards_are_errors_naming_the_key(
    meilisearch: dict[str, Any], message: str
) -> None:
    """Never a fallback to MEILI_URL or the local default, which would write there."""
    with pytest.raises(ConfigError, match=message):
        parse(
            {"indexes": [INDEX], "meilisearch": meilisearch},
            {**ORACLE_ENV, "MEILI_URL": "http://d:7700"},
        )


def test_only_the_command_line_reads_the_running_demo_s_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A code location, a Component or a Python caller reads the environment and `.env`;
    `.state/demo.env` (what `./dev demo` writes for a second terminal) only the CLI."""
    from oracle_meili.cli import main
    from oracle_meili.config import environment

    monkeypatch.chdir(tmp_path)
    # Set, then unset: monkeypatch then restores it however the CLI changes it.
    monkeypatch.setenv("ORACLE_MEILI_CONFIG", "restored")
    monkeypatch.delenv("ORACLE_MEILI_CONFIG")
    (tmp_path / ".state").mkdir()
    (tmp_path / ".state" / "demo.env").write_text("ORACLE_MEILI_CONFIG=from-demo.yaml\n")
    (tmp_path / ".env").write_text("ORACLE_MEILI_TEST_VARIABLE=from-dotenv\n")
    seen = environment()
    assert seen["ORACLE_MEILI_TEST_VARIABLE"] == "from-dotenv"
    assert "ORACLE_MEILI_CONFIG" not in seen
    assert main(["status"]) == 1  # the CLI looked for the demo's configuration file
    assert "from-demo.yaml" in capsys.readouterr().err


def test_every_setting_s_variable_fills_what_the_file_leaves_out() -> None:
    """One rule for every setting: ORACLE_<KEY> and MEILI_<KEY> (the timeout's own name
    too), the file winning; Oracle's own spelling of the protocol loads."""
    env = {
        **ORACLE_ENV,
        "ORACLE_CONNECT_TIMEOUT": "4.5",
        "ORACLE_PROTOCOL": "TCPS",
        "MEILI_RETRIES": "0",
        "MEILI_TIMEOUT_SECONDS": "12",
    }
    config = parse({"meilisearch": {"timeout_seconds": 5}, "indexes": [INDEX]}, env)
    oracle = config.source.oracle
    assert oracle is not None
    assert (oracle.connect_timeout_seconds, oracle.protocol) == (4.5, "tcps")
    assert (config.meilisearch.retries, config.meilisearch.timeout_seconds) == (0, 5)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("ORACLE_POOL_MAX", "many", r"source: ORACLE_POOL_MAX: Input should be a valid integer"),
        ("ORACLE_PROTOCOL", "udp", r"source: ORACLE_PROTOCOL: Input should be 'tcp' or 'tcps'"),
        ("MEILI_RETRIES", "-1", r"meilisearch: MEILI_RETRIES: Input should be greater than"),
    ],
)
def test_a_bad_variable_is_named(variable: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse({"indexes": [INDEX]}, {**ORACLE_ENV, variable: value})


def test_records_read_only_the_environment_they_are_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A record built in code never picks up the process's variables behind the caller."""
    from oracle_meili.config import MeilisearchConfig, OracleSettings

    monkeypatch.setenv("ORACLE_DSN", "from-process/ORCL")
    monkeypatch.setenv("MEILI_RETRIES", "9")
    oracle = OracleSettings(user="u", password="p", host="h", service_name="S")
    assert oracle.dsn is None
    assert MeilisearchConfig().retries == 3
    assert parse({"indexes": [INDEX]}, ORACLE_ENV).meilisearch.retries == 3


def test_an_empty_oracle_key_is_left_to_its_variable() -> None:
    raw = {
        "source": {"oracle": {"dsn": None, "user": "shop", "pool_max": None}},
        "indexes": [INDEX],
    }
    env = {**ORACLE_ENV, "ORACLE_DSN": "env-db/X", "ORACLE_POOL_MAX": "6"}
    oracle = parse(raw, env).source.oracle
    assert oracle is not None
    assert (oracle.dsn, oracle.user, oracle.pool_max) == ("env-db/X", "shop", 6)
