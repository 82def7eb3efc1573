"""deploy/k8s/definitions.py: the code location whose steps run as Kubernetes jobs.

No cluster here: the file is loaded as the code server loads it, and its jobs are checked.
The same sliced job runs for real under the multiprocess executor in test_sliced.py.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import dagster as dg
import pytest
import yaml

from oracle_meili.config import IndexConfig
from oracle_meili.defs.names import sync_job_name
from oracle_meili_tests.test_docs import PROJECT, blocks

K8S_DEFINITIONS = PROJECT / "deploy" / "k8s" / "definitions.py"


def load_file(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("k8s_definitions", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_docs_show_the_file_as_it_is() -> None:
    (shown,) = [b for b in blocks("python") if "k8s_job_executor" in b.text]
    assert shown.text == K8S_DEFINITIONS.read_text()


def test_sliced_jobs_run_on_the_k8s_executor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config: dict[str, Any] = {
        "source": {"url": f"sqlite:///{tmp_path / 'shop.db'}"},
        "indexes": [
            {"name": "products", "table": "PRODUCTS", "primary_key": "PRODUCT_ID",
             "parallel": 4},
            {"name": "stores", "table": "STORES", "primary_key": "STORE_ID"},
        ],
    }  # fmt: skip
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    monkeypatch.setenv("ORACLE_MEILI_CONFIG", str(tmp_path / "config.yaml"))
    module = load_file(K8S_DEFINITIONS)
    definitions = module.defs()
    assert isinstance(definitions, dg.Definitions)
    products, stores = (IndexConfig.model_validate(i) for i in config["indexes"])
    sliced = definitions.resolve_job_def(sync_job_name(products))
    assert sliced.executor_def.name == "k8s"
    assert sliced.executor_def.config_schema  # configured: max_concurrent 8
    ops = {node.name for node in sliced.all_node_defs if isinstance(node, dg.OpDefinition)}
    assert ops == {"products_plan", "products_slice", "products_publish"}
    plain = definitions.resolve_job_def(sync_job_name(stores))
    assert plain.executor_def.name == "in_process"
