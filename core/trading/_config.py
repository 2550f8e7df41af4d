"""Settings of the trading service (the ``trading:`` section of the runtime configuration)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from portico._cron import cron_trigger
from portico.errors import ConfigurationError

__all__ = ["ReconciliationSchedule", "RiskConfig", "TradingConfig"]


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


class ReconciliationSchedule(BaseModel):
    """The scheduled daily reconciliation (``trading.reconciliation``).

    Attributes:
        id: the job id (``reconcile-daily`` unless given).
        schedule: a 5-field crontab read in ``timezone`` (``"0 19 * * 1-5"``: 19:00 Monday to Friday).
        timezone: the zone the cron fields are read in.
        systems: the systems reconciled (default: every connected trading system).
        book: a CSV or JSON book file (:class:`~portico.trading.FileBook`), re-read at every run; default:
            the ``portico_position_book`` hook's book, else the store's.
        instruments: an instrument cross-reference CSV (:meth:`~portico.trading.InstrumentXref.from_csv`),
            loaded when the trading service is built and used by every reconciliation.
        lookback_hours: the execution window reconciled, ending at the run.
        export_dir: where each run's breaks report is written as well (the store always keeps the breaks).
        format: the report file format, ``csv`` or ``json``.
        misfire_grace_time: seconds after a missed fire time in which the run still happens.
        enabled: schedule it (False keeps the settings without a job).
    """

    model_config = ConfigDict(extra="forbid")

    id: str = Field(default="reconcile-daily", pattern=r"^[A-Za-z0-9_.:-]{1,64}$")
    schedule: str = "0 19 * * 1-5"
    timezone: str = "UTC"
    systems: list[str] | None = None
    book: Path | None = None
    instruments: Path | None = None
    lookback_hours: float = Field(default=24.0, gt=0)
    export_dir: Path | None = None
    format: str = Field(default="csv", pattern=r"^(csv|json)$")
    misfire_grace_time: int = Field(default=3600, ge=1)
    enabled: bool = True

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        try:
            cron_trigger(value, "UTC")
        except ConfigurationError as exc:
            raise ValueError(exc.message) from None
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("book")
    @classmethod
    def _book_format(cls, value: Path | None) -> Path | None:
        if value is not None and value.suffix.lower() not in {".csv", ".json"}:
            raise ValueError(f"the book file must be .csv or .json, not {value.name!r}")
        return value

    @property
    def lookback(self) -> timedelta:
        """The execution window as a timedelta."""
        return timedelta(hours=self.lookback_hours)

    # the job store's trigger protocol (portico.jobs make_trigger): a cron schedule, never an interval
    @property
    def interval_seconds(self) -> None:
        return None

    @property
    def run_at(self) -> None:
        return None

    @property
    def coalesce(self) -> bool:
        return True

    def job_id(self, kind: str) -> str:
        """The job's id in the scheduler."""
        return self.id


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
        account_state_max_age: seconds the pre-trade checks may reuse an account read, a positions
            read (until a fill on the system is seen) and a quote while the system's order stream runs
            (buys the service cleared since are held back from the reused buying power); 0 reads the
            venue for every order, as systems without an order stream always do.
        resolve_interval: seconds between background rounds resolving unknown outcomes.
        poll_interval: seconds between polls of open orders for systems without an order stream.
        stream_backoff: first delay before reconnecting a broken order stream (doubles, capped at 30 s).
        book: the internal book name executions update (None: executions do not move a book).
        client_order_id_prefix: the prefix of derived client order ids.
        risk: per-account risk check settings.
        reconciliation: the scheduled daily reconciliation (None: not scheduled).
    """

    model_config = ConfigDict(extra="forbid")

    submit_timeout: float = Field(default=30.0, gt=0)
    lookup_attempts: int = Field(default=3, ge=1)
    lookup_backoff: float = Field(default=0.25, ge=0)
    resubmit_when_not_found: bool = True
    max_submit_attempts: int = Field(default=5, ge=1)
    validate_account: bool = True
    account_state_max_age: float = Field(default=2.0, ge=0)
    resolve_interval: float = Field(default=5.0, gt=0)
    poll_interval: float = Field(default=15.0, gt=0)
    stream_backoff: float = Field(default=0.5, ge=0)
    book: str | None = "internal"
    client_order_id_prefix: str = Field(default="pt", pattern=r"^[A-Za-z0-9]{1,8}$")
    risk: RiskConfig = Field(default_factory=RiskConfig)
    reconciliation: ReconciliationSchedule | None = None
