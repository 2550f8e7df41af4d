"""Settings of the trading service (the ``trading:`` section of the runtime configuration)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["RiskConfig", "TradingConfig"]


class RiskConfig(BaseModel):
    """Risk check settings: ``default`` applies to every account, ``accounts`` overrides per account id.

    Each maps a check name to that check's settings; ``{check: null}`` under an account switches a
    default check off for it.
    """

    model_config = ConfigDict(extra="forbid")

    default: dict[str, dict[str, Any] | None] = Field(default_factory=dict)
    accounts: dict[str, dict[str, dict[str, Any] | None]] = Field(default_factory=dict)

    def settings_for(self, account_id: str | None) -> dict[str, dict[str, Any]]:
        """Check name -> merged settings for one account (checks switched off are left out)."""
        merged: dict[str, dict[str, Any] | None] = {
            k: (dict(v) if v is not None else None) for k, v in self.default.items()
        }
        for name, value in self.accounts.get(account_id or "", {}).items():
            if value is None:
                merged[name] = None
            else:
                merged[name] = {**(merged.get(name) or {}), **value}
        return {k: v for k, v in merged.items() if v is not None}


class TradingConfig(BaseModel):
    """How the trading service routes, resolves and tracks orders.

    Attributes:
        submit_timeout: seconds to wait for a submit answer before treating the outcome as unknown.
        lookup_attempts: lookups tried (with backoff) to resolve an unknown outcome, per round.
        lookup_backoff: first backoff between lookups (doubles, capped at 5 s).
        resubmit_when_not_found: after an ambiguous failure, resend with the same client order id when
            the venue's lookup says it never received the order. Safe for venues that enforce unique
            client order ids and answer lookups consistently; switch off for others (the intent then
            stays ``UNKNOWN`` for reconciliation).
        max_submit_attempts: sends per intent, counting resends.
        validate_account: check buying power (buys) and held position (sells) before sending.
        resolve_interval: seconds between background rounds resolving unknown outcomes.
        poll_interval: seconds between polls of open orders for systems without an order stream.
        stream_backoff: first delay before reconnecting a broken order stream (doubles, capped at 30 s).
        book: the internal book name executions update (None: executions do not move a book).
        client_order_id_prefix: the prefix of derived client order ids.
        risk: per-account risk check settings.
    """

    model_config = ConfigDict(extra="forbid")

    submit_timeout: float = Field(default=30.0, gt=0)
    lookup_attempts: int = Field(default=3, ge=1)
    lookup_backoff: float = Field(default=0.25, ge=0)
    resubmit_when_not_found: bool = True
    max_submit_attempts: int = Field(default=5, ge=1)
    validate_account: bool = True
    resolve_interval: float = Field(default=5.0, gt=0)
    poll_interval: float = Field(default=15.0, gt=0)
    stream_backoff: float = Field(default=0.5, ge=0)
    book: str | None = "internal"
    client_order_id_prefix: str = Field(default="pt", pattern=r"^[A-Za-z0-9]{1,8}$")
    risk: RiskConfig = Field(default_factory=RiskConfig)
