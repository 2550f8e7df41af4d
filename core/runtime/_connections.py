"""Connecting the configured systems and the runtime's lifecycle: a system's connector is built with its
context (auth, rate limiter, circuit breaker, API client factory, its mock when ``mock: true``), and
:meth:`Connections.start` / :meth:`Connections.stop` bring the systems and services up and down in order.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from portico.config import IntegrationConfig, SystemConfig, load_config, require_secure_transport
from portico.context import correlation_scope
from portico.errors import ConfigurationError, ConnectionFailed, PorticoError
from portico.runtime._builders import build_breaker
from portico.runtime._composition import Composition
from portico.runtime._systems import SystemRuntime, SystemStatus
from portico.sdk import Capability, ConnectorContext, resolve_url_templates

__all__ = ["Connections"]


class Connections(Composition):
    """The systems' connections and the runtime's start and stop (the base of
    :class:`~portico.runtime.AsyncIntegration`)."""

    # declared again here (Composition sets them): `mypy core` sees portico.* imports as Any
    _fx_task: asyncio.Task[None] | None
    _started: bool
    _scheduling: bool

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self, *, schedule: bool = False, require_connected: bool = True) -> None:
        """Connect every enabled system (a failing one is marked ``error``; the others go on).

        When systems are enabled and not one of them connected, the runtime is useless to the caller:
        it raises, naming each system and why, rather than letting ``with Integration(...)`` go on.
        Some connected and some not is a working runtime: :attr:`unavailable_systems` names the others.

        Args:
            schedule: also start health checks and the job scheduler (``portico run`` does).
            require_connected: raise when no enabled system connected; ``portico run`` and the demo
                pass False to serve (and show) the failed systems' state.

        Raises:
            ConnectionFailed: ``require_connected`` and every enabled system failed to connect; its
                ``detail`` maps each system id to its error.
        """
        if not self._started:
            self._started = True
            for system_id, system in self.systems.items():
                if system.config.enabled:
                    with contextlib.suppress(PorticoError):
                        await self.connect_external_system(system_id)
            enabled = [sid for sid, s in self.systems.items() if s.config.enabled]
            if require_connected and enabled and all(self.systems[sid].connector is None for sid in enabled):
                failed = self.unavailable_systems
                await self.stop()
                raise ConnectionFailed(
                    "no system could be connected: "
                    + "; ".join(f"{sid}: {why}" for sid, why in failed.items()),
                    detail=failed,
                )
            if any(
                s.connector is not None and s.spec.capabilities.has(Capability.PLACE_ORDER)
                for s in self.systems.values()
            ):
                # live order tracking: recover unresolved intents, follow order streams, resolve unknowns
                await self.trading.start()
        if schedule and not self._scheduling:
            self._scheduling = True
            await self._maybe(self.monitor, "start")
            await self._maybe(self.jobs, "start")
            feed = self.fx_feed
            if feed is not None and self._fx_task is None:
                self._fx_task = asyncio.create_task(feed.run(asyncio.Event()), name="portico-fx-feed")

    @property
    def unavailable_systems(self) -> dict[str, str]:
        """Enabled systems that are not connected, with why (their last error, else their state)."""
        return {
            sid: system.last_error or f"system is {system.state}"
            for sid, system in self.systems.items()
            if system.config.enabled and system.connector is None
        }

    async def stop(self) -> None:
        """Stop the services that use connections, disconnect every system (stopping the mocks the
        runtime started), then stop monitoring, event publishing and shared budgets."""
        # streams and schedules stop first, so no subscription reconnects to a system going away
        if self._fx_task is not None:
            self._fx_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._fx_task
            self._fx_task = None
        await self._stop_services("jobs", "market_data", "trading")
        for system_id in list(self.systems):
            with contextlib.suppress(Exception):
                await self.disconnect_external_system(system_id)
        await self._stop_services("monitor", "events", "limiters")
        if self._db is not None:
            self._db.dispose()
        self._started = False
        self._scheduling = False

    # -- external system management -------------------------------------------------------------

    async def register_external_system(
        self, system_config: SystemConfig | Mapping[str, Any], system_id: str | None = None
    ) -> str:
        """Add a system at run time (the plan's ``register_external_system``).

        Args:
            system_config: a system entry as in the config's ``systems`` section; ``system_id`` may be
                given inside it as ``id`` or ``system_id``.
            system_id: the new system's id.

        Returns:
            The system id.
        """
        if not isinstance(system_config, SystemConfig | Mapping):
            raise ConfigurationError(
                f"system_config must be a mapping like a 'systems' entry or a SystemConfig, "
                f"got {type(system_config).__name__}",
                path="system_config",
            )
        if isinstance(system_config, Mapping):
            data = dict(system_config)
            system_id = system_id or data.pop("system_id", None) or data.pop("id", None)
            if not system_id or not isinstance(system_id, str):
                raise ConfigurationError("register_external_system needs a system_id", path="system_id")
            try:
                loaded = load_config({"systems": {system_id: data}}, plugins=self.plugins)
            except ConfigurationError:
                raise
            system_config = loaded.systems[system_id]
        if not system_id or not isinstance(system_id, str):
            raise ConfigurationError(
                f"register_external_system needs a system_id string, got {system_id!r}", path="system_id"
            )
        try:
            # the same id rules as the configuration file (a SystemConfig given directly skipped them)
            IntegrationConfig(systems={system_id: system_config})
        except ValidationError as exc:
            raise ConfigurationError(
                f"systems.{system_id}: {exc.errors()[0]['msg']}", path=f"systems.{system_id}"
            ) from None
        if system_id in self.systems:
            raise ConfigurationError(
                f"system {system_id!r} is already registered", path=f"systems.{system_id}"
            )
        self._add_system(system_id, system_config)
        self.config.systems[system_id] = system_config
        return system_id

    async def connect_external_system(self, system_id: str) -> SystemStatus:
        """Build the system's connector (starting its mock when ``mock: true``) and open it."""
        system = self._system(system_id)
        # one connect at a time per system: two concurrent ones (start() and a caller) would each start a
        # mock and open a connector, and the first pair would be left running, unreachable
        async with system.connect_lock:
            if system.state == "connected":
                return await self.get_external_system_status(system_id)
            system.state = "connecting"
            with correlation_scope():
                try:
                    context = await self._context_for(system)
                    connector = system.connector_cls(context)
                    await connector.open()
                except Exception as exc:
                    system.state = "error"
                    system.last_error = str(exc)
                    # the mock started for this attempt would otherwise keep its thread and port, and a retry
                    # would start another one over it
                    if system.mock is not None:
                        mock, system.mock = system.mock, None
                        with contextlib.suppress(Exception):
                            await mock.stop()
                    self._emit("system.connect_failed", system=system_id, severity="critical", error=str(exc))
                    if isinstance(exc, PorticoError):
                        raise
                    raise ConfigurationError(
                        f"connecting {system_id!r} failed: {exc}", system=system_id
                    ) from exc
            system.connector = connector
            system.state = "connected"
            system.connected_at = self.clock.now()
            system.last_error = None
            self._emit("system.connected", system=system_id)
            if self._monitor is not None or self._started:
                with contextlib.suppress(Exception):
                    self.monitor.register_health_check(system_id, connector.check)
            return await self.get_external_system_status(system_id)

    async def disconnect_external_system(self, system_id: str) -> None:
        """Close the system's connector and stop its mock."""
        system = self._system(system_id)
        connector, system.connector = system.connector, None
        try:
            if connector is not None:
                # no health check may run on (and so reopen) the connector once it is closed
                if self._monitor is not None:
                    await self._monitor.unregister_health_check(system_id)
                await connector.close()
            for client in list(system.clients):
                with contextlib.suppress(Exception):
                    await client.aclose()
        finally:
            if system.mock is not None:
                mock, system.mock = system.mock, None
                with contextlib.suppress(Exception):
                    await mock.stop()
            if system.state != "registered":
                system.state = "disconnected"
        self._emit("system.disconnected", system=system_id)

    async def get_external_system_status(self, system_id: str) -> SystemStatus:
        """The system's connection state, environment, URLs, capabilities and breaker state."""
        system = self._system(system_id)
        env = system.config.environment or system.spec.environment().name
        disabled = sorted(flag for flag, on in system.config.features.items() if not on)
        breaker = getattr(system.breaker, "state", None)
        return SystemStatus(
            system_id=system_id,
            connector=system.spec.name,
            kinds=[k.value for k in system.spec.kinds],
            enabled=system.config.enabled,
            state=system.state,
            environment=env,
            mock=system.config.mock,
            urls=dict(system.urls) or dict(system.spec.environment(system.config.environment).urls),
            capabilities=[c.value for c in system.spec.capabilities.declared if c not in system.disabled],
            disabled_features=disabled,
            breaker_state=getattr(breaker, "value", breaker),
            connected_at=system.connected_at,
            last_error=system.last_error,
        )

    async def _context_for(self, system: SystemRuntime) -> ConnectorContext:
        spec = system.spec
        # before any mock starts or socket opens: a live system speaks TLS unless it opted out
        require_secure_transport(system.system_id, system.config, spec)
        env = spec.environment(system.config.environment)
        urls = dict(env.urls)
        if system.config.connection.get("base_url"):
            base = str(system.config.connection["base_url"])
            urls = {key: base for key in urls} if len(urls) == 1 else {**urls, "base": base}
        if system.config.mock:
            from portico.mocks import start_mock  # lazy: cold start (the mock kit, starlette, uvicorn)

            system.mock = await asyncio.to_thread(
                start_mock, spec.mock, seed=system.config.mock_seed, **system.config.mock_options
            )
            urls.update(system.mock.urls)
        system.urls = urls
        # a mock carries no money, whatever environment it stands in for: the live-money guard reads this
        env = env.model_copy(update={"urls": urls, **({"live_money": False} if system.config.mock else {})})
        credentials = dict(system.config.authentication.credentials)
        scheme = system.config.authentication.type or (spec.auth[0].scheme if spec.auth else None)
        auth = None
        if scheme is not None and scheme not in {"none", "tws"}:
            options = resolve_url_templates(
                {
                    **(scheme_spec.options if (scheme_spec := spec.auth_scheme(scheme)) else {}),
                    **system.config.authentication.options,
                },
                urls,
            )
            auth = self.auth.build(system.system_id, scheme, credentials, options)
        system.limiter = self.limiters.get(spec.name, system.policy, credentials=credentials)
        system.breaker = self._breaker_for(system)
        self._register_secrets(credentials)

        def client_factory(base_url: str, **overrides: Any) -> Any:
            from portico.http import ApiClient  # lazy: cold start (httpx)

            kwargs: dict[str, Any] = {
                "system": system.system_id,
                "auth": auth,
                "clock": self.clock,
                "retry": system.policy.retry,
                "rate_limiter": system.limiter,
                "breaker": system.breaker,
                "observers": self._observers(),
                "transport": self.transport,
            }
            client_kwargs = getattr(auth, "client_kwargs", None)
            if client_kwargs is not None:
                kwargs.update(client_kwargs())  # mTLS: the client certificate rides in the TLS context
            kwargs.update(overrides)
            client = ApiClient(base_url, **kwargs)
            system.clients.add(client)
            return client

        # imported on first connect, as ApiClient is, so importing the runtime stays light
        from portico.http import CallMeter  # lazy: cold start (httpx)

        return ConnectorContext(
            system_id=system.system_id,
            spec=spec,
            environment=env,
            connection=dict(system.config.connection),
            credentials=credentials,
            auth_scheme=scheme,
            auth=auth,
            client_factory=client_factory,
            clock=self.clock,
            emit=lambda event, **data: self._emit(event, **{"system": system.system_id, **data}),
            store=self.db,
            options={"api_version": system.config.api_version, "features": dict(system.config.features)},
            rate_limiter=system.limiter,
            call_meter=CallMeter(system.system_id, observers=self._observers(), clock=self.clock),
        )

    def _breaker_for(self, system: SystemRuntime) -> Any:
        if system.breaker is None:
            system.breaker = build_breaker(system.system_id, clock=self.clock, emit=self._emit)
        return system.breaker
