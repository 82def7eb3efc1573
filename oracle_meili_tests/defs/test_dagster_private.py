"""The Dagster APIs oracle-meili uses that Dagster does not export live in one module,
``oracle_meili/defs/dagster_private.py``; these tests fail when one of them moves or
changes its shape in a new Dagster."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Annotated

import dagster as dg

from oracle_meili.defs import dagster_private as private

PACKAGE = Path(__file__).resolve().parents[2] / "oracle_meili"


def private_imports(path: Path) -> list[str]:
    """The modules of ``dagster._...`` or ``dagster.components.utils`` a file imports."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        names = (
            [node.module or ""]
            if isinstance(node, ast.ImportFrom)
            else [a.name for a in node.names]
            if isinstance(node, ast.Import)
            else []
        )
        found += [n for n in names if n.startswith(("dagster._", "dagster.components.utils"))]
    return found


def test_only_one_module_imports_private_dagster_apis() -> None:
    importing = {
        str(path.relative_to(PACKAGE)): found
        for path in sorted(PACKAGE.rglob("*.py"))
        if (found := private_imports(path))
    }
    assert set(importing) == {"defs/dagster_private.py"}, importing


def test_the_pool_slots_claim_wait_and_free(tmp_path: Path) -> None:
    with dg.DagsterInstance.local_temp(str(tmp_path)) as instance:
        private.set_pool_limit(instance, "p", 1)
        assert private.pool_limit(instance, "p") == 1
        assert private.pool_is_limited(instance, "p")
        assert private.claim_slot(instance, "p", "run-a", "step") is None
        wait = private.claim_slot(instance, "p", "run-b", "step")
        assert wait is not None and wait > 0  # queued behind run-a
        assert {"run-a", "run-b"} <= private.pool_run_ids(instance)
        private.free_slot(instance, "run-b", "step")  # off the queue
        private.free_run_slots(instance, "run-a")
        assert private.claim_slot(instance, "p", "run-c", "step") is None


def test_the_metadata_sets_and_the_job_type_are_where_they_were() -> None:
    class Namespaced(private.NamespacedMetadataSet):
        figure: int | None = None

        @classmethod
        def namespace(cls) -> str:
            return "ns"

    assert dict(Namespaced(figure=1)) == {"ns/figure": 1}
    assert dict(private.TableMetadataSet(row_count=3)) == {"dagster/row_count": 3}
    assert dict(private.UriMetadataSet(uri="u")) == {"dagster/uri": "u"}
    job = dg.define_asset_job("j", selection="*")
    assert isinstance(job, private.UnresolvedAssetJobDefinition)


def test_the_translation_resolver_builds_a_translation_function() -> None:
    class Holder(dg.Model, dg.Resolvable):
        translation: (
            Annotated[
                private.TranslationFn[str],
                private.TranslationFnResolver[str](lambda data: {"data": data}),
            ]
            | None
        ) = None

    holder = Holder.resolve_from_dict(
        {"translation": {"key_prefix": "p", "tags": {"from": "{{ data }}"}}}
    )
    assert holder.translation is not None
    spec = holder.translation(dg.AssetSpec("a"), "x")
    assert spec.key == dg.AssetKey(["p", "a"]) and spec.tags == {"from": "x"}
