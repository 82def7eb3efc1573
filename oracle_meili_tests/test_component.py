"""``oracle_meili.OracleMeiliComponent`` in a user's own ``dg`` project, driven by
the ``dg`` command line (dagster-dg-cli) as a user would: scaffold, check, list, launch."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from oracle_meili.adapters.meili import MeiliClient
from oracle_meili.adapters.server import RunningMeilisearch
from oracle_meili.config import MeilisearchConfig
from oracle_meili.defs.component import SCAFFOLD_ATTRIBUTES
from oracle_meili.demo import create_demo
from oracle_meili_tests.harness import SyncHarness

PROJECT = Path(__file__).resolve().parents[1]
DG = Path(sys.executable).parent / "dg"


def make_project(root: Path) -> Path:
    """An empty ``dg`` project ``shop`` whose definitions load its ``defs/`` folder."""
    package = root / "src" / "shop"
    (package / "defs").mkdir(parents=True)
    (root / "pyproject.toml").write_text(
        '[project]\nname = "shop"\nversion = "0.1.0"\n\n'
        '[tool.dg]\ndirectory_type = "project"\n\n'
        '[tool.dg.project]\nroot_module = "shop"\n'
    )
    (package / "__init__.py").write_text("")
    (package / "defs" / "__init__.py").write_text("")
    (package / "definitions.py").write_text(
        "from pathlib import Path\n\nimport dagster as dg\n\n\n"
        "@dg.definitions\ndef defs() -> dg.Definitions:\n"
        "    return dg.load_from_defs_folder(path_within_project=Path(__file__).parent)\n"
    )
    return root


@pytest.fixture
def shop(tmp_path: Path, meili_server: RunningMeilisearch) -> tuple[Path, dict[str, str]]:
    root = make_project(tmp_path / "shop")
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(PROJECT / "deploy" / "dagster.yaml", home / "dagster.yaml")
    env = {
        **os.environ,
        "PYTHONPATH": str(root / "src"),
        "VIRTUAL_ENV": str(Path(sys.executable).parent.parent),
        "PATH": f"{DG.parent}{os.pathsep}{os.environ['PATH']}",
        "DAGSTER_HOME": str(home),
        "MEILI_URL": meili_server.url,
        "MEILI_API_KEY": meili_server.master_key,
    }
    return root, env


def dg(project: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(DG), *args], cwd=project, env=env, capture_output=True, text=True, timeout=300
    )


def write_defs(defs_yaml: Path, attributes: dict[str, Any]) -> None:
    document = {"type": "oracle_meili.OracleMeiliComponent", "attributes": attributes}
    defs_yaml.write_text(yaml.safe_dump(document, sort_keys=False))


def test_scaffold_check_list_and_launch_with_dg(
    shop: tuple[Path, dict[str, str]],
    sync: SyncHarness,
    demo_db: Path,
    index_name: str,
    meili_config: MeilisearchConfig,
) -> None:
    project, env = shop
    listed = dg(project, env, "list", "components", "--json")
    assert listed.returncode == 0, listed.stderr
    assert "oracle_meili.OracleMeiliComponent" in {
        c["key"] for c in json.loads(listed.stdout)["items"]
    }

    scaffolded = dg(project, env, "scaffold", "defs", "oracle_meili.OracleMeiliComponent", "search")
    assert scaffolded.returncode == 0, scaffolded.stderr
    defs_yaml = project / "src" / "shop" / "defs" / "search" / "defs.yaml"
    written = yaml.safe_load(defs_yaml.read_text())
    assert written == {
        "type": "oracle_meili.OracleMeiliComponent",
        "attributes": SCAFFOLD_ATTRIBUTES,
    }

    # The user points it at their source and server; dg's env templates work in it.
    attributes = {
        **SCAFFOLD_ATTRIBUTES,
        "source": {"url": f"sqlite:///{demo_db}"},
        "meilisearch": {"url": "{{ env.MEILI_URL }}"},
        "indexes": [{**SCAFFOLD_ATTRIBUTES["indexes"][0], "name": index_name}],
    }
    write_defs(defs_yaml, attributes)
    checked = dg(project, env, "check", "defs")
    assert checked.returncode == 0, checked.stdout + checked.stderr

    listed = dg(project, env, "list", "defs", "--json")
    assert listed.returncode == 0, listed.stderr
    definitions = json.loads(listed.stdout)
    assert {a["asset_key"] for a in definitions["assets"]} >= {
        f"meilisearch/{index_name}",
        "sqlite/PRODUCTS",
    }
    assert {j["name"] for j in definitions["jobs"]} >= {
        "sync_indexes",
        "check_indexes",
        "reconcile_index",
    }

    launched = dg(project, env, "launch", "--assets", f"meilisearch/{index_name}",
                  "--partition", "full")  # fmt: skip
    assert launched.returncode == 0, launched.stdout[-3000:] + launched.stderr[-3000:]
    with MeiliClient(meili_config) as client:
        assert client.document_count(index_name) == sync.live_count()


def test_a_misspelled_key_is_named_by_dg_check(
    shop: tuple[Path, dict[str, str]], demo_db: Path
) -> None:
    project, env = shop
    defs_yaml = project / "src" / "shop" / "defs" / "search" / "defs.yaml"
    defs_yaml.parent.mkdir()
    index = {**SCAFFOLD_ATTRIBUTES["indexes"][0]}
    index["primary_keys"] = index.pop("primary_key")
    write_defs(
        defs_yaml,
        {**SCAFFOLD_ATTRIBUTES, "source": {"url": f"sqlite:///{demo_db}"}, "indexes": [index]},
    )
    checked = dg(project, env, "check", "defs")
    assert checked.returncode != 0
    assert "primary_keys" in checked.stdout + checked.stderr


def test_two_components_with_their_own_sources_load_and_sync_apart(
    shop: tuple[Path, dict[str, str]], tmp_path: Path, meili_config: MeilisearchConfig
) -> None:
    """Two sources, one component each, in one project: their own resources, names and
    (with `translation.key_prefix`) asset keys; `translation` and `post_processing` shape
    the assets; each syncs its own index from its own source."""
    project, env = shop
    indexes: dict[str, tuple[str, int]] = {}
    for team, rows in (("crm", 40), ("erp", 70)):
        database = create_demo(tmp_path / f"{team}.db", rows=rows)
        index = f"{team}_{uuid.uuid4().hex[:10]}"
        indexes[team] = (index, live_rows(database))
        folder = project / "src" / "shop" / "defs" / team
        folder.mkdir()
        attributes = {
            "name": team,
            "translation": {
                "key_prefix": team,
                "group_name": f"{team}_search",
                "owners": [f"team:{team}"],
                "tags": {"kind_of_asset": "{{ data.kind }}"},
            },
            "source": {"url": f"sqlite:///{database}"},
            "meilisearch": {"url": "{{ env.MEILI_URL }}"},
            "indexes": [{**SCAFFOLD_ATTRIBUTES["indexes"][0], "name": index}],
        }
        document: dict[str, Any] = {
            "type": "oracle_meili.OracleMeiliComponent",
            "attributes": attributes,
        }
        if team == "erp":
            document["post_processing"] = {
                "assets": [{"target": "*", "attributes": {"tags": {"post_processed": "yes"}}}]
            }
        (folder / "defs.yaml").write_text(yaml.safe_dump(document, sort_keys=False))

    checked = dg(project, env, "check", "defs")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    listed = dg(project, env, "list", "defs", "--json")
    assert listed.returncode == 0, listed.stderr
    definitions = json.loads(listed.stdout)
    assets = {a["asset_key"]: a for a in definitions["assets"]}
    for team, (index, _) in indexes.items():
        shown = assets[f"{team}/meilisearch/{index}"]
        assert shown["group_name"] == f"{team}_search"
        assert shown["owners"] == [{"team": team}]
        assert {"key": "kind_of_asset", "value": "index"} in shown["tags"]
        assert shown["dependency_keys"] == [f"{team}/sqlite/PRODUCTS"]
        table = assets[f"{team}/sqlite/PRODUCTS"]
        assert {"key": "kind_of_asset", "value": "table"} in table["tags"]
        assert {f"{team}__sync_indexes", f"{team}__check_indexes"} <= {
            j["name"] for j in definitions["jobs"]
        }
    assert "post_processed" in str(assets[f"erp/meilisearch/{indexes['erp'][0]}"])
    assert "post_processed" not in str(assets[f"crm/meilisearch/{indexes['crm'][0]}"])

    for team, (index, _) in indexes.items():
        launched = dg(project, env, "launch", "--assets", f"{team}/meilisearch/{index}",
                      "--partition", "full")  # fmt: skip
        assert launched.returncode == 0, launched.stdout[-3000:] + launched.stderr[-3000:]
    with MeiliClient(meili_config) as client:
        for index, rows in indexes.values():
            assert client.document_count(index) == rows


def live_rows(database: Path) -> int:
    engine = sa.create_engine(f"sqlite:///{database}")
    try:
        with engine.connect() as c:
            return int(c.exec_driver_sql(
                "SELECT COUNT(*) FROM PRODUCTS WHERE IS_DELETED = 'N'"
            ).scalar_one())  # fmt: skip
    finally:
        engine.dispose()


def test_the_component_s_oracle_and_meilisearch_keys_are_the_engine_s(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`source.oracle` and `meilisearch:` in a defs.yaml reach the engine as the same keys
    of the configuration file do, the environment filling the rest, and `dg`'s schema
    describes each of them."""
    from oracle_meili.config import MeilisearchSettings, OracleSettings
    from oracle_meili.defs.component import OracleMeiliComponent
    from oracle_meili.defs.resources import MeilisearchResource, OracleResource

    for variable, value in {"ORACLE_PASSWORD": "pw", "ORACLE_POOL_MAX": "7"}.items():
        monkeypatch.setenv(variable, value)
    attributes = {
        "source": {"oracle": {"user": "shop", "dsn": "db:1521/SHOP", "connect_timeout_seconds": 2}},
        "meilisearch": {"url": "http://search:7700", "retries": 0},
        "indexes": [{"name": "p", "table": "P", "primary_key": "ID"}],
    }
    component = OracleMeiliComponent.resolve_from_dict(attributes)
    defs = component.build_defs(None)
    resources = defs.resources or {}
    source, meili = resources["source"], resources["meilisearch"]
    assert isinstance(source, OracleResource) and isinstance(meili, MeilisearchResource)
    oracle = source.settings().oracle
    assert oracle is not None
    assert (oracle.user, oracle.dsn, oracle.connect_timeout_seconds) == ("shop", "db:1521/SHOP", 2)
    assert oracle.pool_max == 7
    assert (meili.settings().url, meili.settings().retries) == ("http://search:7700", 0)
    model_cls = OracleMeiliComponent.get_model_cls()
    assert model_cls is not None
    schema = model_cls.model_json_schema()["$defs"]
    for model, record in (
        ("OracleAttributesModel", OracleSettings),
        ("MeilisearchAttributesModel", MeilisearchSettings),
    ):
        described = {k: v.get("description") for k, v in schema[model]["properties"].items()}
        assert all(described.values()) and set(described) <= set(record.model_fields)
