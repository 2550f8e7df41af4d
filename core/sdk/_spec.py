"""The connector manifest: what a connector declares about itself, as data.

The runtime, the CLI's ``plugins`` table, the docs' capability matrix and the conformance suite are all
generated from a :class:`ConnectorSpec`.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from datetime import date
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from portico.models import AssetClass, BarInterval, OrderType, TimeInForce
from portico.policy import RateLimitPolicy, RateWindow, RetryPolicy

__all__ = [
    "AuthSchemeSpec",
    "Capability",
    "CapabilitySet",
    "ConnectionSettings",
    "ConnectorKind",
    "ConnectorSpec",
    "CredentialField",
    "Environment",
    "MockSpec",
    "RateLimitPolicy",
    "RateWindow",
    "Retirement",
    "RetryPolicy",
    "StreamKind",
    "Support",
    "resolve_url_templates",
]

_NAME = re.compile(r"^[a-z][a-z0-9_]{1,63}$")


def resolve_url_templates(options: dict[str, Any], urls: dict[str, str]) -> dict[str, Any]:
    """Fill ``{name}`` placeholders in string options with the environment's URLs.

    An auth option like ``token_url: "{base}/oauth/token"`` then follows the environment in use, and
    so the mock server when ``mock: true``. Unknown placeholders are left as they are.
    """

    class _Keep(dict[str, str]):
        def __missing__(self, key: str) -> str:
            return "{" + key + "}"

    known = _Keep({k: v.rstrip("/") for k, v in urls.items()})
    return {k: v.format_map(known) if isinstance(v, str) and "{" in v else v for k, v in options.items()}


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ConnectorKind(StrEnum):
    """What a connector connects to; a system's ``type`` in config must be one of its kinds."""

    BROKERAGE = "brokerage"
    MARKET_DATA = "market_data"
    DATA_SERVICE = "data_service"
    ANALYTICS = "analytics"


class Capability(StrEnum):
    """One unified operation. Each maps to one :class:`~portico.sdk.Connector` method of the same name."""

    GET_ACCOUNT = "get_account"
    GET_POSITIONS = "get_positions"
    PLACE_ORDER = "place_order"
    CANCEL_ORDER = "cancel_order"
    REPLACE_ORDER = "replace_order"
    GET_ORDER = "get_order"
    GET_ORDER_BY_CLIENT_ID = "get_order_by_client_id"
    LIST_ORDERS = "list_orders"
    GET_EXECUTIONS = "get_executions"
    GET_BARS = "get_bars"
    GET_QUOTES = "get_quotes"
    GET_TRADES = "get_trades"
    GET_LATEST_QUOTES = "get_latest_quotes"
    GET_LATEST_TRADES = "get_latest_trades"
    GET_SNAPSHOTS = "get_snapshots"
    SEARCH_INSTRUMENTS = "search_instruments"
    GET_FUNDAMENTALS = "get_fundamentals"
    GET_FX_RATE = "get_fx_rate"
    GET_FX_SERIES = "get_fx_series"
    GET_CORPORATE_ACTIONS = "get_corporate_actions"
    GET_NEWS = "get_news"
    GET_CASH_MOVEMENTS = "get_cash_movements"
    SUBSCRIBE_QUOTES = "subscribe_quotes"
    SUBSCRIBE_TRADES = "subscribe_trades"
    SUBSCRIBE_BARS = "subscribe_bars"
    SUBSCRIBE_ORDER_UPDATES = "subscribe_order_updates"
    SUBSCRIBE_NEWS = "subscribe_news"


class Support(StrEnum):
    """How a connector offers a capability: natively, emulated from other calls, or not at all."""

    SUPPORTED = "supported"
    EMULATED = "emulated"
    UNSUPPORTED = "unsupported"


class StreamKind(StrEnum):
    QUOTES = "quotes"
    TRADES = "trades"
    BARS = "bars"
    ORDER_UPDATES = "order_updates"
    NEWS = "news"


class CapabilitySet(_Spec):
    """Which operations a connector offers, and with what options.

    Capabilities not listed in ``operations`` are unsupported.
    """

    operations: dict[Capability, Support] = Field(default_factory=dict)
    order_types: tuple[OrderType, ...] = ()
    time_in_force: tuple[TimeInForce, ...] = ()
    asset_classes: tuple[AssetClass, ...] = ()
    bar_intervals: tuple[BarInterval, ...] = ()
    fractional: bool = False
    notional_orders: bool = False
    extended_hours: bool = False
    max_symbols_per_request: int = Field(default=1, ge=1)
    """How many symbols one market data request may carry (the market data service batches by it)."""

    def support(self, capability: Capability | str) -> Support:
        """How ``capability`` is offered (``UNSUPPORTED`` when not declared)."""
        return self.operations.get(Capability(capability), Support.UNSUPPORTED)

    def has(self, capability: Capability | str) -> bool:
        """True when ``capability`` is supported or emulated."""
        return self.support(capability) is not Support.UNSUPPORTED

    @property
    def declared(self) -> list[Capability]:
        """Every capability offered, in the enum's order."""
        return [c for c in Capability if self.has(c)]


class CredentialField(_Spec):
    """One credential an auth scheme needs. Secret fields are held as ``SecretStr`` and never printed."""

    name: str
    secret: bool = True
    required: bool = True
    description: str = ""
    env_var: str | None = None
    """An environment variable the value may come from when config does not give it."""


class AuthSchemeSpec(_Spec):
    """An auth scheme a connector accepts, by the AuthenticationManager's scheme name.

    ``options`` configure the scheme (header names, token URL, scopes...).
    """

    scheme: str
    credentials: tuple[CredentialField, ...] = ()
    options: dict[str, Any] = Field(default_factory=dict)
    description: str = ""


class ConnectionSettings(BaseModel):
    """A connector's typed ``connection`` settings: subclass it and name the subclass in the manifest.

    The configuration's ``connection`` section of a system is validated by the connector's model before
    anything connects: an unknown key is an error (with "did you mean"), a wrong type or range names the
    key path. The connector reads the validated values from
    :meth:`ConnectorContext.settings_as <portico.sdk.ConnectorContext.settings_as>`. Every field needs a
    default (a system may leave ``connection`` out) and a ``description`` (the docs list it).

    Example::

        class AcmeConnection(ConnectionSettings):
            region: Literal["eu", "us"] = Field(default="eu", description="the API region")
    """

    # defer_build: each connector's subclass is built when a configuration is first validated, not when
    # its manifest is imported (listing twelve plugins built twelve validators nobody used)
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    base_url: str | None = Field(
        default=None,
        description="replaces the environment's base URL (every URL when the connector has one); "
        "non-mock systems need https:// or wss:// unless allow_insecure is set",
    )

    @field_validator("base_url")
    @classmethod
    def _absolute_url(cls, value: str | None) -> str | None:
        if value is None:
            return value
        parts = urlsplit(value)
        if parts.scheme not in {"http", "https", "ws", "wss"} or not parts.hostname:
            raise ValueError(f"must be an absolute http(s):// or ws(s):// URL, got {value!r}")
        return value

    def endpoints(self, urls: dict[str, str]) -> dict[str, str]:
        """The URLs a system connects to, given its environment's ``urls``: ``base_url`` replaces the only
        URL (or adds ``base`` beside several). A connector whose settings move an endpoint (a socket's
        host and port) overrides this, so the TLS check sees where it really connects."""
        if not self.base_url:
            return dict(urls)
        return {key: self.base_url for key in urls} if len(urls) == 1 else {**urls, "base": self.base_url}

    @classmethod
    def describe(cls) -> list[dict[str, str]]:
        """One row per setting: ``name``, ``type``, ``default`` and ``description`` (for docs and the CLI)."""
        rows = []
        for name, info in cls.model_fields.items():
            annotation = info.annotation
            kind = getattr(annotation, "__name__", None) if isinstance(annotation, type) else None
            text = kind or str(annotation).replace("typing.", "")
            bounds = [
                f"{symbol} {getattr(m, attr)}"
                for m in info.metadata
                for attr, symbol in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<"))
                if getattr(m, attr, None) is not None
            ]
            rows.append(
                {
                    "name": name,
                    "type": text + (f" ({', '.join(bounds)})" if bounds else ""),
                    "default": "none" if info.default is None else repr(info.default),
                    "description": info.description or "",
                }
            )
        return rows


class Environment(_Spec):
    """A named deployment of the vendor's API: paper, live, sandbox...

    ``urls`` names each base URL the connector uses (``trading``, ``data``, ``stream``...).
    """

    name: str
    urls: dict[str, str]
    live_money: bool = False
    description: str = ""


class MockSpec(_Spec):
    """The mock server a connector ships (served by ``portico mock NAME``).

    ``app`` is an import path ``module:callable`` returning an ASGI app; called with keyword arguments
    ``seed`` and ``faults``. ``url_keys`` maps each environment URL name to the mock's path for it, so
    ``mock: true`` can point the connector at the mock (``{"trading": "", "data": "", "stream": "/stream"}``).
    """

    app: str
    url_keys: dict[str, str] = Field(default_factory=dict)
    description: str = ""
    protocols: tuple[str, ...] = ("http",)
    sample_symbols: tuple[str, ...] = ()
    """Symbols the mock knows, as the vendor writes them (``AAPL.O`` for LSEG), for ``portico demo``;
    empty: the demo asks for AAPL, MSFT and GOOGL."""


class HealthCheckSpec(_Spec):
    """The call a connector's health check makes: the cheapest one that proves the venue answers and
    accepts the credentials.

    The check spends the system's shared rate budget like any call, but never waits for it: when the
    budget (or the vendor's quota) is spent, the system is "rate limited until T", not down, and is not
    checked again before T.

    Attributes:
        call: the vendor call, as the connector names it (an endpoint ``GET /v2/account``, a function
            ``SYMBOL_SEARCH``, a socket request ``reqCurrentTime``).
        params: the parameters it is made with.
        description: why this call is the cheapest, for people.
    """

    call: str
    params: dict[str, str] = Field(default_factory=dict)
    description: str = ""


class Retirement(_Spec):
    """A vendor API that is gone: the connector stays installed so its name is refused with the way out.

    A configuration naming a retired connector fails validation with :meth:`explain`; its class refuses
    to build (:class:`~portico.errors.ConfigurationError` with the same text), and ``portico plugins``, the
    capability matrix and the conformance suite mark it retired. A retired manifest declares no
    capabilities: nothing can be called on an API that no longer answers.

    Attributes:
        retired_on: the day the vendor's API stopped answering.
        message: what happened and what to configure instead, for people (the first part of every refusal).
        replacements: the connectors that take its place, by name; a refusal says which of them are not
            installed.
        migration: the vendor's calls and the portico call that replaces each, as ``(vendor call, portico
            call)`` pairs, rendered after ``migration_heading`` as ``a -> b; c -> d``.
        migration_heading: the table's heading (``IEX endpoint -> portico call``).
    """

    retired_on: date
    message: str
    replacements: tuple[str, ...] = ()
    migration: tuple[tuple[str, str], ...] = ()
    migration_heading: str = "vendor call -> portico call"

    @field_validator("message")
    @classmethod
    def _message(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("say what happened to the API and what to configure instead")
        return value

    def text(self) -> str:
        """The message, then the migration table when there is one."""
        if not self.migration:
            return self.message
        table = "; ".join(f"{old} -> {new}" for old, new in self.migration)
        return f"{self.message} {self.migration_heading}: {table}"

    def explain(self, installed: Collection[str]) -> str:
        """:meth:`text`, and which replacements are not among the ``installed`` connectors."""
        missing = [name for name in self.replacements if name not in installed]
        if missing and len(missing) == len(self.replacements):
            return f"{self.text()} (no {' or '.join(missing)} connector is installed in this portico yet)"
        if missing:
            return f"{self.text()} (not installed in this portico yet: {', '.join(missing)})"
        return self.text()


class ConnectorSpec(_Spec):
    """The manifest of a connector.

    Attributes:
        name: the connector's id, lower snake case (``alpaca``); a config system key or ``connector:``.
        kinds: what it connects to; the first is its primary kind.
        environments: named deployments; ``default_environment`` is used when config names none.
        auth: accepted auth schemes, preferred first.
        throttling: default rate limits and retry policy (config may override).
        capabilities: operations and their options.
        streams: which subscriptions stream natively.
        feature_flags: the plan's ``features`` keys, each naming the capabilities it switches.
        mock: the mock server it ships.
        connection_settings: the typed model of a system's ``connection`` section.
        health_check: the call its health check makes (see :class:`HealthCheckSpec`); None: the
            default check (``get_account`` for brokers).
        retired: set when the vendor's API is gone (see :class:`Retirement`): configurations naming the
            connector fail validation with its message, and the manifest declares no capabilities.
    """

    name: str
    display_name: str
    kinds: tuple[ConnectorKind, ...]
    aliases: tuple[str, ...] = ()
    """Other names a config may give as ``connector:`` (a vendor's new brand: ``polygon`` is also ``massive``)."""
    version: str = "0.1.0"
    description: str = ""
    docs_url: str | None = None
    environments: tuple[Environment, ...]
    default_environment: str | None = None
    auth: tuple[AuthSchemeSpec, ...] = ()
    throttling: RateLimitPolicy = RateLimitPolicy()
    capabilities: CapabilitySet = CapabilitySet()
    streams: tuple[StreamKind, ...] = ()
    feature_flags: dict[str, tuple[Capability, ...]] = Field(default_factory=dict)
    mock: MockSpec | None = None
    connection_settings: type[ConnectionSettings] = ConnectionSettings
    """The model of the ``connection`` section: the connector's settings, typed (a subclass of
    :class:`ConnectionSettings`). The base accepts only ``base_url``."""
    health_check: HealthCheckSpec | None = None
    retired: Retirement | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(f"{value!r} must be lower snake case, 2-64 characters, starting with a letter")
        return value

    @field_validator("kinds")
    @classmethod
    def _kinds(cls, value: tuple[ConnectorKind, ...]) -> tuple[ConnectorKind, ...]:
        if not value:
            raise ValueError("declare at least one kind")
        return value

    @model_validator(mode="after")
    def _coherent(self) -> ConnectorSpec:
        if not self.environments:
            raise ValueError("declare at least one environment")
        names = [e.name for e in self.environments]
        if len(set(names)) != len(names):
            raise ValueError(f"environment names repeat: {names}")
        if self.default_environment is not None and self.default_environment not in names:
            raise ValueError(f"default_environment {self.default_environment!r} is not one of {names}")
        for flag, caps in self.feature_flags.items():
            missing = [c.value for c in caps if not self.capabilities.has(c)]
            if missing:
                raise ValueError(f"feature flag {flag!r} names undeclared capabilities {missing}")
        streaming = {
            StreamKind.QUOTES: Capability.SUBSCRIBE_QUOTES,
            StreamKind.TRADES: Capability.SUBSCRIBE_TRADES,
            StreamKind.BARS: Capability.SUBSCRIBE_BARS,
            StreamKind.ORDER_UPDATES: Capability.SUBSCRIBE_ORDER_UPDATES,
            StreamKind.NEWS: Capability.SUBSCRIBE_NEWS,
        }
        for stream in self.streams:
            if not self.capabilities.has(streaming[stream]):
                raise ValueError(
                    f"stream {stream.value!r} declared without capability {streaming[stream].value!r}"
                )
        if self.capabilities.has(Capability.PLACE_ORDER) and not self.capabilities.order_types:
            raise ValueError("a connector that places orders must declare its order_types")
        if self.retired is not None and (self.capabilities.declared or self.streams):
            offered = [c.value for c in self.capabilities.declared] + [s.value for s in self.streams]
            raise ValueError(
                f"a retired connector declares no capabilities or streams (its API no longer answers); "
                f"remove {offered}"
            )
        return self

    @property
    def kind(self) -> ConnectorKind:
        """The primary kind."""
        return self.kinds[0]

    def environment(self, name: str | None = None) -> Environment:
        """The named environment, or the default (the first one declared when none is set)."""
        wanted = name or self.default_environment or self.environments[0].name
        for env in self.environments:
            if env.name == wanted:
                return env
        raise KeyError(wanted)

    def auth_scheme(self, name: str | None = None) -> AuthSchemeSpec | None:
        """The named auth scheme, or the preferred one."""
        if not self.auth:
            return None
        if name is None:
            return self.auth[0]
        for scheme in self.auth:
            if scheme.scheme == name:
                return scheme
        return None

    def summary(self) -> dict[str, Any]:
        """A JSON-safe description (``portico plugins --json``)."""
        return {
            "name": self.name,
            "display_name": self.display_name,
            "kinds": [k.value for k in self.kinds],
            "version": self.version,
            "environments": {e.name: dict(e.urls) for e in self.environments},
            "auth": [
                {
                    "scheme": a.scheme,
                    "credentials": [
                        {"name": c.name, "secret": c.secret, "required": c.required} for c in a.credentials
                    ],
                }
                for a in self.auth
            ],
            "throttling": {
                "windows": [
                    {"limit": w.limit, "period": w.period, "text": str(w)} for w in self.throttling.windows
                ],
                "endpoint_costs": dict(self.throttling.endpoint_costs),
                "retry_attempts": self.throttling.retry.attempts,
            },
            "capabilities": {c.value: self.capabilities.support(c).value for c in self.capabilities.declared},
            "order_types": [o.value for o in self.capabilities.order_types],
            "time_in_force": [t.value for t in self.capabilities.time_in_force],
            "asset_classes": [a.value for a in self.capabilities.asset_classes],
            "bar_intervals": [b.value for b in self.capabilities.bar_intervals],
            "streams": [s.value for s in self.streams],
            "mock": self.mock.app if self.mock else None,
            "connection": self.connection_settings.describe(),
            "retired": None
            if self.retired is None
            else {
                "retired_on": self.retired.retired_on.isoformat(),
                "replacements": list(self.retired.replacements),
                "message": self.retired.text(),
            },
        }
