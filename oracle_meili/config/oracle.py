"""The Oracle settings: their one declaration.

The configuration file's ``source.oracle``, the ``ORACLE_*`` variables, the Dagster
``OracleResource`` and the Component's ``source.oracle`` attributes are all derived from
:class:`OracleSettings` (names, defaults, descriptions, variables); its constraints are
checked once, when the record is built.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from oracle_meili.config.environment import EnvironmentRecord

DEFAULT_ORACLE_PORT = 1521


class OracleSettings(EnvironmentRecord):
    """Oracle Database through python-oracledb: thin mode, a session pool per run (thick
    mode when ``client_lib_dir`` is given). Each setting the file leaves out comes from its
    ``ORACLE_*`` variable; the passwords only from those."""

    model_config = SettingsConfigDict(env_prefix="ORACLE_")

    user: str = Field(description="Database user the sync reads as.")
    password: SecretStr = Field(description="Password (ORACLE_PASSWORD; never in the file).")
    dsn: str | None = Field(
        default=None, description="Full DSN or Easy Connect string; or host and service_name."
    )
    host: str | None = Field(default=None, description="Listener host (when no DSN).")
    port: int = Field(default=DEFAULT_ORACLE_PORT, description="Listener port.")
    service_name: str | None = Field(default=None, description="Service name (when no DSN).")
    sid: str | None = Field(default=None, description="SID, for a database without a service.")
    protocol: Literal["tcp", "tcps"] = Field(default="tcp", description="tcp, or tcps for TLS.")
    wallet_dir: str | None = Field(
        default=None, description="Folder of the TCPS wallet (ewallet.pem)."
    )
    wallet_password: SecretStr | None = Field(
        default=None, description="Wallet password (ORACLE_WALLET_PASSWORD; never in the file)."
    )
    client_lib_dir: str | None = Field(
        default=None, description="Oracle Client libraries: switches python-oracledb to thick mode."
    )
    connect_timeout_seconds: float = Field(
        default=15.0,
        gt=0,
        # Its variable is ORACLE_CONNECT_TIMEOUT (without _SECONDS).
        validation_alias=AliasChoices("connect_timeout_seconds", "ORACLE_CONNECT_TIMEOUT"),
        description="Longest wait for the database to answer a new connection.",
    )
    pool_min: int = Field(default=1, ge=0, description="Sessions the pool opens at start.")
    pool_max: int = Field(default=4, ge=1, description="Most sessions the pool may hold.")
    pool_increment: int = Field(default=1, ge=1, description="Sessions opened at a time.")

    @field_validator("protocol", mode="before")
    @classmethod
    def _lower_case(cls, protocol: object) -> object:
        # ORACLE_PROTOCOL=TCPS is how Oracle's own tools spell it.
        return protocol.lower() if isinstance(protocol, str) else protocol

    @model_validator(mode="after")
    def _reachable(self) -> OracleSettings:
        if self.dsn is None and (self.host is None or (self.service_name or self.sid) is None):
            names = self.variables()
            raise ValueError(
                "give dsn, or host and service_name (or sid), in source.oracle or as "
                f"{names['dsn']}, or {names['host']} and {names['service_name']} "
                f"(or {names['sid']})"
            )
        return self

    @property
    def target(self) -> str:
        """Where the connection goes, without secrets (for messages)."""
        if self.dsn is not None:
            return self.dsn
        database = self.service_name if self.service_name else f"SID {self.sid}"
        return f"{self.protocol}://{self.host}:{self.port}/{database}"
