"""Pydantic models of the configuration format of the original plan (``external_integration_config``)."""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    FieldSerializationInfo,
    SecretStr,
    field_serializer,
)

from portico.config._masking import mask_section
from portico.sdk import ConnectorKind, RateLimitPolicy, RateWindow, RetryPolicy

__all__ = [
    "AuthenticationConfig",
    "IntegrationConfig",
    "ScaleOutConfig",
    "SystemConfig",
    "ThrottlingConfig",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^/?#@:]*:)[^/?#@]*@")


def _mask_url(value: Any) -> Any:
    """A URL with the password of its user info replaced by ``***`` (``postgresql://u:***@host/db``)."""
    return _URL_PASSWORD.sub(r"\g<head>***@", value) if isinstance(value, str) else value


class _MasksUrls(_Strict):
    """A section whose URL fields may carry a password: ``repr``/``str`` show it masked."""

    _url_fields: ClassVar[frozenset[str]] = frozenset()

    def __repr_args__(self) -> Any:
        for name, value in super().__repr_args__():
            yield name, (_mask_url(value) if name in self._url_fields else value)


class AuthenticationConfig(_Strict):
    """``authentication``: the scheme (``type``) and its credentials; every credential is held as a secret."""

    type: str | None = None
    credentials: dict[str, SecretStr] = Field(default_factory=dict)
    options: dict[str, Any] = Field(default_factory=dict)


_PERIODS = {
    "max_requests_per_second": 1.0,
    "max_requests_per_minute": 60.0,
    "max_requests_per_hour": 3600.0,
    "max_requests_per_day": 86400.0,
}


class ThrottlingConfig(_Strict):
    """``throttling``: overrides of the connector's declared limits.

    Each ``max_requests_per_*`` key replaces the manifest's window of that period and keeps the others.
    ``retry_attempts`` counts retries after the first attempt; ``retry_delay`` is the base backoff delay
    in seconds.
    """

    max_requests_per_second: float | None = Field(default=None, gt=0)
    max_requests_per_minute: float | None = Field(default=None, gt=0)
    max_requests_per_hour: float | None = Field(default=None, gt=0)
    max_requests_per_day: float | None = Field(default=None, gt=0)
    retry_attempts: int | None = Field(default=None, ge=0, le=19)
    retry_delay: float | None = Field(default=None, ge=0)
    max_retry_delay: float | None = Field(default=None, ge=0)
    max_wait: float | None = Field(default=None, ge=0)
    endpoint_costs: dict[str, float] = Field(default_factory=dict)

    def apply(self, policy: RateLimitPolicy) -> RateLimitPolicy:
        """The manifest's policy with this section's overrides applied."""
        windows = {w.period: w for w in policy.windows}
        for key, period in _PERIODS.items():
            limit = getattr(self, key)
            if limit is not None:
                windows[period] = RateWindow(limit=limit, period=period)
        retry = policy.retry
        retry_changes: dict[str, Any] = {}
        if self.retry_attempts is not None:
            retry_changes["attempts"] = self.retry_attempts + 1
        if self.retry_delay is not None:
            retry_changes["base_delay"] = self.retry_delay
            retry_changes["max_delay"] = max(retry.max_delay, self.retry_delay)
        if self.max_retry_delay is not None:
            retry_changes["max_delay"] = self.max_retry_delay
        if retry_changes:
            retry = RetryPolicy.model_validate({**retry.model_dump(), **retry_changes})
        changes: dict[str, Any] = {
            "windows": tuple(sorted(windows.values(), key=lambda w: w.period)),
            "retry": retry,
            "endpoint_costs": {**policy.endpoint_costs, **self.endpoint_costs},
        }
        if self.max_wait is not None:
            changes["max_wait"] = self.max_wait
        return RateLimitPolicy.model_validate({**policy.model_dump(), **changes})


class SystemConfig(_Strict):
    """One entry of ``systems``.

    The system's key names its connector unless ``connector`` is given, so several systems can share
    one connector (``alpaca_paper`` and ``alpaca_live``). ``type`` must be one of the connector's kinds.
    ``mock: true`` serves the connector's mock and points the system at it.
    """

    type: ConnectorKind
    enabled: bool = True
    connector: str | None = None
    api_version: str | None = None
    environment: str | None = None
    mock: bool = False
    mock_seed: int = 0
    mock_options: dict[str, Any] = Field(default_factory=dict)
    """Keyword arguments for the mock server's factory (``default_tier: premium_75`` for Alpha Vantage)."""
    connection: dict[str, Any] = Field(default_factory=dict)
    authentication: AuthenticationConfig = Field(default_factory=AuthenticationConfig)
    features: dict[str, bool] = Field(default_factory=dict)
    throttling: ThrottlingConfig = Field(default_factory=ThrottlingConfig)
    allow_live_trading: bool = False
    """Opt-in for orders on an environment the manifest marks ``live_money`` (real money); off by default."""
    allow_insecure: bool = False
    """Opt-in for plain ``http://``/``ws://`` or non-TLS sockets on a system that is not a mock."""


class ScaleOutConfig(_MasksUrls):
    """``scale_out``: the real engines that let several processes share one workload.

    Attributes:
        redis_url: rate-limit budgets live in Redis, shared by every process using one API key.
        events_url: runtime events are published to this broker (``amqp://`` RabbitMQ or ``nats://``).
        events_exchange: the AMQP topic exchange (or NATS subject prefix) events go to.
        events_outbox: events are committed to the store's outbox first and relayed after the broker
            confirms them (nothing lost while the broker restarts); off: sent from memory, best effort.
        workers: how many processes of this deployment share the rate-limit budgets; with Redis
            unreachable each process falls back to ``limit / workers`` of every window.
    """

    _url_fields: ClassVar[frozenset[str]] = frozenset({"redis_url", "events_url"})

    redis_url: str | None = None
    events_url: str | None = None
    events_exchange: str = "portico.events"
    events_outbox: bool = True
    workers: int = Field(default=1, ge=1, le=1024)


_SYSTEM_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]{0,63}$")


def _system_id(value: str) -> str:
    if not _SYSTEM_ID.match(value):
        raise ValueError(f"system id {value!r} must start with a letter and use letters, digits, _ or -")
    return value


SystemId = Annotated[str, AfterValidator(_system_id)]
"""A key of ``systems``: checked per key, so every bad id is reported at its own path."""


_SECTIONS_TUPLE = ("data_import", "data_export", "monitoring", "market_data", "trading", "gateway")
_SECTIONS = frozenset(_SECTIONS_TUPLE)


class IntegrationConfig(_MasksUrls):
    """The whole configuration: ``systems`` plus the sections owned by the runtime's services.

    ``data_import``, ``data_export``, ``monitoring``, ``market_data`` and ``trading`` are validated by the
    service that owns each (see :data:`portico.config.SECTION_MODELS`), so their errors carry full key paths.
    """

    _url_fields: ClassVar[frozenset[str]] = frozenset({"database_url"})

    systems: dict[SystemId, SystemConfig] = Field(default_factory=dict)
    data_import: dict[str, Any] = Field(default_factory=dict)
    data_export: dict[str, Any] = Field(default_factory=dict)
    monitoring: dict[str, Any] = Field(default_factory=dict)
    market_data: dict[str, Any] = Field(default_factory=dict)
    trading: dict[str, Any] = Field(default_factory=dict)
    gateway: dict[str, Any] = Field(default_factory=dict)
    """The REST/WebSocket gateway's users, groups, TLS and webhooks (:class:`portico.gateway.GatewayConfig`)."""
    scale_out: ScaleOutConfig = Field(default_factory=ScaleOutConfig)
    database_url: str | None = None
    """SQLAlchemy URL of the store; default the SQLite file under ``PORTICO_HOME``."""
    instance: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
    """The name stored jobs and schedules are kept under, so configurations sharing one store never see
    each other's; default the config file's stem (``desk.yaml``: ``desk``), else ``default``."""
    source: str | None = Field(default=None, exclude=True)
    """The file this configuration came from, for error messages."""

    def __repr_args__(self) -> Any:
        for name, value in super().__repr_args__():
            yield name, (mask_section(name, value) if name in _SECTIONS else value)

    @field_serializer(*_SECTIONS_TUPLE)
    def _mask_sections(self, value: dict[str, Any], info: FieldSerializationInfo) -> Any:
        # a dump is shown or stored somewhere: secrets leave as "**********" (JSON) or SecretStr (Python),
        # never as text; the services read the live dicts on the model, not a dump
        section = info.field_name or ""
        if info.mode_is_json():
            return mask_section(section, value)
        return mask_section(section, value, lambda v: v if isinstance(v, SecretStr) else SecretStr(str(v)))

    def connector_name(self, system_id: str) -> str:
        """The connector a system uses."""
        system = self.systems[system_id]
        return system.connector or system_id
