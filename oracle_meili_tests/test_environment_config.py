"""Settings from the file over the environment (config/environment.py): whichever way the
settings are split between the two, the file wins and a variable fills what it leaves out."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from oracle_meili.config import OracleSettings, parse_config

INDEX = {"name": "p", "table": "P", "primary_key": "ID"}
PLACES = st.sampled_from(["file", "environment", "both", "neither"])
TEXT = st.text(alphabet="abcXYZ019_-./:", min_size=1, max_size=12)
# Values of each setting, as the file holds them; a variable holds their text.
ORACLE_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "user": TEXT,
    "dsn": TEXT,
    "port": st.integers(1, 65535),
    "protocol": st.sampled_from(["tcp", "tcps"]),
    "wallet_dir": TEXT,
    "connect_timeout_seconds": st.floats(0.5, 600, allow_nan=False).map(lambda f: round(f, 3)),
    "pool_min": st.integers(0, 8),
    "pool_max": st.integers(1, 64),
}
MEILISEARCH_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "url": st.sampled_from(["http://a:7700", "https://b.example", "http://127.0.0.1:1"]),
    "timeout_seconds": st.integers(1, 600),
    "retries": st.integers(0, 9),
    "max_tasks_in_flight": st.integers(1, 16),
}


def split(values: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """Each setting: where it is given, and the file's and the environment's values."""
    return st.fixed_dictionaries(
        {name: st.tuples(PLACES, strategy, strategy) for name, strategy in values.items()}
    )


def place(
    settings: dict[str, Any], variables: dict[str, str]
) -> tuple[dict[str, Any], dict[str, str], dict[str, Any]]:
    """The file's section, the environment and the expected value of each given setting."""
    in_file: dict[str, Any] = {}
    environ: dict[str, str] = {}
    expected: dict[str, Any] = {}
    for name, (where, file_value, environment_value) in settings.items():
        if where in ("environment", "both"):
            environ[variables[name]] = str(environment_value)
            expected[name] = environment_value
        if where in ("file", "both"):
            in_file[name] = file_value
            expected[name] = file_value
    return in_file, environ, expected


@given(oracle=split(ORACLE_VALUES), meilisearch=split(MEILISEARCH_VALUES))
def test_the_file_wins_and_the_environment_fills_the_rest(
    oracle: dict[str, Any], meilisearch: dict[str, Any]
) -> None:
    from oracle_meili.config import MeilisearchConfig

    # Reachable and logged in whatever the split: a DSN and a user somewhere, the password
    # from the environment.
    oracle["dsn"] = oracle["dsn"] if oracle["dsn"][0] != "neither" else ("file", "db/X", "-")
    oracle["user"] = oracle["user"] if oracle["user"][0] != "neither" else ("both", "u", "v")
    pool_min = max(oracle["pool_min"][1], oracle["pool_min"][2])
    oracle["pool_max"] = (oracle["pool_max"][0], pool_min + 1, pool_min + 2)
    oracle_file, oracle_env, oracle_expected = place(oracle, OracleSettings.variables())
    meili_file, meili_env, meili_expected = place(meilisearch, MeilisearchConfig.variables())
    raw = {"source": {"oracle": oracle_file}, "meilisearch": meili_file, "indexes": [INDEX]}
    environ = {**oracle_env, **meili_env, "ORACLE_PASSWORD": "pw"}
    config = parse_config(raw, environ=environ)
    loaded = config.source.oracle
    assert loaded is not None
    defaults = OracleSettings.model_fields
    for name in ORACLE_VALUES:
        want = oracle_expected.get(name, defaults[name].default)
        assert getattr(loaded, name) == want, name
    for name in MEILISEARCH_VALUES:
        want = meili_expected.get(name, MeilisearchConfig.model_fields[name].default)
        assert getattr(config.meilisearch, name) == want, name
