"""The Dagster code location: the configuration file, translated (``defs/build.py``).

The configuration file comes from ``$ORACLE_MEILI_CONFIG`` (default ``demo/config.yaml``,
the embedded demo). Nothing connects at load time.
"""

from __future__ import annotations

import dagster as dg

from oracle_meili.config import CONFIG_ENV_VAR, environment, load_config
from oracle_meili.defs.build import build_definitions

DEFAULT_CONFIG = "demo/config.yaml"

__all__ = ["build_definitions", "defs"]


@dg.definitions
def defs() -> dg.Definitions:
    """Loaded by ``dagster dev`` / the code server through workspace.yaml."""
    environ = environment()
    config = load_config(environ.get(CONFIG_ENV_VAR) or DEFAULT_CONFIG, environ=environ)
    return build_definitions(config, environ)
