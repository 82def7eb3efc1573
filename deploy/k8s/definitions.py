"""The code location on Kubernetes: every step of a sync in a Kubernetes job of its own, so
the key-range slices of a full sync (``parallel: N``) read on as many nodes at once.

Served by the user code deployment of Dagster's Helm chart:
    dagster code-server start -f deploy/k8s/definitions.py -h 0.0.0.0 -p 4000
"""

import dagster as dg
from dagster_k8s import k8s_job_executor

from oracle_meili.config import environment, load_config
from oracle_meili.definitions import build_definitions


@dg.definitions
def defs() -> dg.Definitions:
    environ = environment()
    config = load_config(environ=environ)  # the file named by ORACLE_MEILI_CONFIG
    # The step pods start from the run's image with its environment: the configuration file,
    # the Oracle and Meilisearch variables and DAGSTER_PG_*. At most 8 steps run at once;
    # source.max_concurrent_syncs still bounds how many slices read the database.
    executor = k8s_job_executor.configured({"max_concurrent": 8})
    return build_definitions(config, environ, executor=executor)
