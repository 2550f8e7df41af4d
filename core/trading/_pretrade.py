"""Pre-trade checks: an order against its connector's capabilities, the account's buying power and
held positions, and the configured risk checks, before anything is stored or sent.

While a system's order stream runs, account state and quotes within their age limit stand in for
reads (see :class:`~portico.trading._snapshots.AccountSnapshots`); state reused that way never
refuses an order by itself: a refusal is checked again on fresh reads.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from portico.errors import ConfigurationError, PorticoError
from portico.models import Account, OrderRequest, OrderSide, Position, Quote
from portico.sdk import Capability, Connector
from portico.trading._core import ServiceCore
from portico.trading._errors import OrderValidationError, RiskCheckFailed
from portico.trading._risk import RiskContext, order_value

__all__ = ["PreTradeChecks"]


class PreTradeChecks(ServiceCore):
    """The checks before an order is stored (part of :class:`~portico.trading.TradingService`)."""

    async def _validate(self, system_id: str, connector: Connector, request: OrderRequest) -> int | None:
        """Check the order against the connector's capabilities, the account and the risk checks.

        Returns:
            The token of the buying power held back for a buy (settle it once the placement answers),
            or None when none was held.
        """
        caps = connector.spec.capabilities
        where = f"{system_id} ({connector.spec.name})"
        if caps.order_types and request.order_type not in caps.order_types:
            raise OrderValidationError(
                f"{where} does not take {request.order_type.value} orders "
                f"(it takes {', '.join(t.value for t in caps.order_types)})",
                field="order_type",
            )
        if caps.time_in_force and request.time_in_force not in caps.time_in_force:
            raise OrderValidationError(
                f"{where} does not take time in force {request.time_in_force.value} "
                f"(it takes {', '.join(t.value for t in caps.time_in_force)})",
                field="time_in_force",
            )
        if caps.asset_classes and request.asset_class not in caps.asset_classes:
            raise OrderValidationError(
                f"{where} does not trade {request.asset_class.value} "
                f"(it trades {', '.join(a.value for a in caps.asset_classes)})",
                field="asset_class",
            )
        if request.notional is not None and not caps.notional_orders:
            raise OrderValidationError(f"{where} does not take notional orders", field="notional")
        if (
            request.quantity is not None
            and request.quantity != request.quantity.to_integral_value()
            and not caps.fractional
        ):
            raise OrderValidationError(f"{where} does not take fractional quantities", field="quantity")
        if request.extended_hours and not caps.extended_hours:
            raise OrderValidationError(f"{where} does not trade extended hours", field="extended_hours")

        if system_id in self._streams_up:
            try:
                return await self._check_account(system_id, connector, request, reuse=True)
            except (OrderValidationError, RiskCheckFailed):
                # state reused within its age limit never refuses an order by itself: read it afresh
                pass
        return await self._check_account(system_id, connector, request, reuse=False)

    async def _check_account(
        self, system_id: str, connector: Connector, request: OrderRequest, *, reuse: bool
    ) -> int | None:
        """Buying power, held position and the risk checks; ``reuse``: account state and quotes
        within their age limit may stand in for reads (see :class:`AccountSnapshots`)."""
        caps = connector.spec.capabilities
        risk_settings = self.risk_settings(system_id, request.account_id)
        # account-specific limits apply to orders without an account id too (the default account)
        needs_account = (
            self.config.validate_account
            or bool(risk_settings)
            or bool(self.config.risk.accounts)
            or self._external_limits
        )
        account: Account | None = None
        positions: list[Position] = []
        if needs_account and caps.has(Capability.GET_ACCOUNT):
            account = await self.snapshots.account(
                system_id, request.account_id, lambda: connector.get_account(request.account_id), reuse=reuse
            )
        account_id = request.account_id or (account.account_id if account else None)
        if (
            account_id != request.account_id
            and request.account_id is None
            and (self.config.risk.accounts or self._external_limits)
        ):
            risk_settings = self.risk_settings(system_id, account_id)
        wants_positions = request.side is not OrderSide.BUY or any(
            getattr(self.risk_checks.get(name), "needs_positions", False) for name in risk_settings
        )
        if needs_account and wants_positions and caps.has(Capability.GET_POSITIONS):
            positions = await self.snapshots.positions(
                system_id,
                request.account_id,
                lambda: connector.get_positions(request.account_id),
                reuse=reuse,
            )
        price = (
            await self._estimate_price(system_id, connector, request, positions, reuse=reuse)
            if needs_account
            else None
        )

        if self.config.validate_account:
            value = order_value(request, price)
            if (
                request.side is OrderSide.BUY
                and account is not None
                and account.buying_power is not None
                and value is not None
                and value > account.buying_power
            ):
                raise OrderValidationError(
                    f"order value {value} exceeds buying power {account.buying_power} of account {account.account_id}",
                    field="quantity",
                )
            if (
                request.side is OrderSide.SELL
                and request.quantity is not None
                and caps.has(Capability.GET_POSITIONS)
            ):
                held = sum(
                    (p.quantity for p in positions if p.symbol.upper() == request.symbol.upper()), Decimal(0)
                )
                reserved = self._open_sell_quantity(system_id, request)
                if request.quantity > held - reserved:
                    raise OrderValidationError(
                        f"selling {request.quantity} {request.symbol} but only {held - reserved} is available "
                        f"(held {held}, {reserved} in open sell orders)",
                        field="quantity",
                    )

        if risk_settings:
            instrument_id = self.xref.resolve(system_id, symbol=request.symbol)
            for name, settings in risk_settings.items():
                check = self.risk_checks.get(name)
                if check is None:
                    raise ConfigurationError(
                        f"risk check {name!r} is configured but not installed (installed: {sorted(self.risk_checks)})",
                        path=f"trading.risk.{name}",
                    )
                context = RiskContext(
                    system=system_id,
                    account_id=account_id,
                    settings=settings,
                    price=price,
                    account=account,
                    positions=positions,
                    instrument_id=instrument_id,
                )
                reason = check.check(request, context)
                if reason is not None and reuse:
                    raise RiskCheckFailed("refused on reused account state", check=name)
                if reason is not None:
                    self._emit(
                        "trading.risk.refused",
                        system=system_id,
                        severity="warning",
                        check=name,
                        symbol=request.symbol,
                        reason=reason,
                        account_id=account_id,
                    )
                    raise RiskCheckFailed(f"risk check {name} refused the order: {reason}", check=name)

        value = order_value(request, price) if request.side is OrderSide.BUY else None
        if account is not None and value is not None:
            return self.snapshots.reserve(system_id, request.account_id, value)
        return None

    def risk_settings(self, system_id: str, account_id: str | None) -> dict[str, dict[str, Any]]:
        """Check name -> settings for an account: the configuration's, with the limits an external
        limits system gives through ``portico_risk_limits`` laid over them."""
        settings = self.config.risk.settings_for(account_id)
        if self._external_limits:
            for given in self.plugins.hooks.hook.portico_risk_limits(system=system_id, account_id=account_id):
                for name, value in (given or {}).items():
                    if value is None:
                        settings.pop(name, None)
                    else:
                        settings[name] = {**settings.get(name, {}), **dict(value)}
        return settings

    def _open_sell_quantity(self, system_id: str, request: OrderRequest) -> Decimal:
        total = Decimal(0)
        for record in self.repo.open_orders(system_id):
            if (
                record.request.side is OrderSide.SELL
                and record.request.symbol.upper() == request.symbol.upper()
                and record.request.account_id == request.account_id
                and record.request.quantity is not None
            ):
                total += record.request.quantity - record.filled_quantity
        return total

    async def _estimate_price(
        self,
        system_id: str,
        connector: Connector,
        request: OrderRequest,
        positions: list[Position],
        *,
        reuse: bool,
    ) -> Decimal | None:
        if request.limit_price is not None:
            return request.limit_price
        if request.stop_price is not None:
            return request.stop_price
        if connector.spec.capabilities.has(Capability.GET_LATEST_QUOTES):

            async def read() -> Quote | None:
                try:
                    quotes = await connector.get_latest_quotes([request.symbol])
                except PorticoError:
                    return None
                return quotes.get(request.symbol)

            quote = await self.snapshots.quote(system_id, request.symbol, read, reuse=reuse)
            if quote is not None:
                side_price = quote.ask_price if request.side is OrderSide.BUY else quote.bid_price
                for candidate in (side_price, quote.last_price, quote.mid):
                    if candidate:
                        return candidate
        for pos in positions:
            if pos.symbol.upper() == request.symbol.upper() and pos.market_price:
                return pos.market_price
        return None
