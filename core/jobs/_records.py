"""Canonical record types of batch files: what a mapped record must be before it is loaded.

Each record type is a pydantic model (the authority on validity, used per record) plus a
:class:`RecordType` describing its natural key (what makes two records "the same"), the fields whose
sums are control totals, and each field's :class:`Kind`, from which the columnar fast path derives
vectorised checks that agree with the model (rows the fast path doubts go through the model).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, get_args, get_origin

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from portico.errors import ConfigurationError
from portico.models._iso import COUNTRY_CODES, CURRENCY_CODES

__all__ = [
    "BUILTIN_RECORD_TYPES",
    "RECORD_TYPES",
    "AttributionResultRecord",
    "BenchmarkReturnRecord",
    "CalendarHolidayRecord",
    "CashBalanceRecord",
    "CashFlowRecord",
    "CashMovementRecord",
    "CorporateActionRecord",
    "CounterpartyRecord",
    "CountryRecord",
    "CovarianceRecord",
    "CurrencyRecord",
    "FactorExposureRecord",
    "FundamentalsRecord",
    "FxRateRecord",
    "Kind",
    "NewsRecord",
    "PositionRecord",
    "PriceRecord",
    "RecordType",
    "RecordTypes",
    "ScenarioShockRecord",
    "TimeSeriesRecord",
    "TransactionRecord",
    "isin_is_valid",
    "make_record_type",
    "record_type",
]

MAX_TEXT = 256
"""Longest text value a record field accepts; longer values are rejected as oversized."""


class Kind(StrEnum):
    """What a field holds, for the vectorised checks of the columnar path."""

    TEXT = "text"
    DECIMAL = "decimal"
    DATE = "date"
    CURRENCY = "currency"
    COUNTRY = "country"
    ISIN = "isin"
    BOOL = "bool"


_ISIN_RE = re.compile(r"^[A-Z]{2}[A-Z0-9]{9}[0-9]$")


def isin_is_valid(value: str) -> bool:
    """Whether ``value`` is a well-formed ISIN with a correct Luhn check digit."""
    if not _ISIN_RE.match(value):
        return False
    digits = "".join(str(int(c, 36)) for c in value[:-1])
    total = 0
    # Luhn over the expanded digits, doubling from the rightmost digit (the check digit is appended)
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2 == 0:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return (10 - total % 10) % 10 == int(value[-1])


def _isin(value: str) -> str:
    if not isin_is_valid(value):
        raise ValueError(f"{value!r} is not a valid ISIN (format or check digit)")
    return value


def _currency(value: str) -> str:
    if value not in CURRENCY_CODES:
        raise ValueError(f"{value!r} is not an ISO 4217 currency code")
    return value


def _country(value: str) -> str:
    if value not in COUNTRY_CODES:
        raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-2 country code")
    return value


def _finite(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise ValueError("must be a finite number")
    return value


_DIGITS = Field(max_digits=38, decimal_places=12)
"""Numbers must fit 38 digits with at most 12 decimals: what every store (and the control totals) keep exactly."""

Text = Annotated[str, Kind.TEXT, Field(min_length=1, max_length=MAX_TEXT)]
Num = Annotated[Decimal, Kind.DECIMAL, AfterValidator(_finite), _DIGITS]
Day = Annotated[date, Kind.DATE]
Currency = Annotated[str, Kind.CURRENCY, AfterValidator(_currency)]
Country = Annotated[str, Kind.COUNTRY, AfterValidator(_country)]
Isin = Annotated[str, Kind.ISIN, AfterValidator(_isin)]
Flag = Annotated[bool, Kind.BOOL]


class _Record(BaseModel):
    # strict=True: the mapping stage has already normalised text into Decimal/date/bool, so a str here
    # means an unmapped value, not something to coerce silently
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class PositionRecord(_Record):
    """A holding of one instrument in one account on one date, as a custodian reports it."""

    account: Text
    isin: Isin
    symbol: Text
    quantity: Num
    price: Annotated[Decimal, Kind.DECIMAL, AfterValidator(_finite), _DIGITS, Field(ge=0)]
    currency: Currency
    date: Day


class TransactionRecord(_Record):
    """A booked transaction (trade, transfer, income) in an account."""

    transaction_id: Text
    account: Text
    trade_date: Day
    settle_date: Day | None = None
    type: Text
    symbol: Text
    isin: Isin | None = None
    quantity: Num
    price: Num | None = None
    amount: Num
    currency: Currency

    @model_validator(mode="after")
    def _settles_after_trade(self) -> TransactionRecord:
        if self.settle_date is not None and self.settle_date < self.trade_date:
            raise ValueError("settle_date is before trade_date")
        return self


class PriceRecord(_Record):
    """A closing (or intraday) price of an instrument on a date."""

    symbol: Text
    date: Day
    close: Annotated[Decimal, Kind.DECIMAL, AfterValidator(_finite), _DIGITS, Field(gt=0)]
    currency: Currency
    open: Num | None = None
    high: Num | None = None
    low: Num | None = None
    volume: Num | None = None
    isin: Isin | None = None
    source: Text | None = None

    @model_validator(mode="after")
    def _range(self) -> PriceRecord:
        if self.high is not None and self.low is not None and self.high < self.low:
            raise ValueError("high is below low")
        return self


class FxRateRecord(_Record):
    """The price of one unit of ``base`` in ``quote`` on a date."""

    base: Currency
    quote: Currency
    date: Day
    rate: Annotated[Decimal, Kind.DECIMAL, AfterValidator(_finite), _DIGITS, Field(gt=0)]


class CurrencyRecord(_Record):
    """A currency of the reference-data feed."""

    code: Currency
    name: Text
    minor_units: Num | None = None


class CountryRecord(_Record):
    """A country of the reference-data feed."""

    code: Country
    name: Text
    currency: Currency | None = None


class CalendarHolidayRecord(_Record):
    """A holiday of a market or settlement calendar."""

    calendar: Text
    date: Day
    name: Text | None = None


class CounterpartyRecord(_Record):
    """A legal entity the firm trades with."""

    counterparty_id: Text
    name: Text
    country: Country
    lei: Annotated[str, Kind.TEXT, Field(pattern=r"^[A-Z0-9]{18}[0-9]{2}$")] | None = None
    active: Flag = True


class CashFlowRecord(_Record):
    """An external cash flow of an account (deposit: positive, withdrawal: negative): the flows that
    time-weighted returns take out of performance. Trades, dividends and fees are not external flows."""

    flow_id: Text
    account: Text
    date: Day
    amount: Num
    currency: Currency
    type: Text | None = None


class CashBalanceRecord(_Record):
    """A cash account's balance of one type on one date, as a bank statement reports it (credit:
    positive, debit: negative). ``type`` is the statement's balance code (``OPBD`` opening booked,
    ``CLBD`` closing booked, ``CLAV`` closing available...)."""

    account: Text
    date: Day
    type: Text
    amount: Num
    currency: Currency
    statement: Text | None = None


class BenchmarkReturnRecord(_Record):
    """A benchmark's (index's) simple return for the period ending on ``date``."""

    benchmark: Text
    date: Day
    simple_return: Annotated[Decimal, Kind.DECIMAL, AfterValidator(_finite), _DIGITS, Field(gt=-1)]
    currency: Currency | None = None


class FactorExposureRecord(_Record):
    """An instrument's exposure (loading, beta, duration) to a risk factor on a date."""

    date: Day
    symbol: Text
    factor: Text
    exposure: Num


class CovarianceRecord(_Record):
    """One entry of a factor covariance matrix on a date (either triangle may be given)."""

    model: Text
    date: Day
    factor_1: Text
    factor_2: Text
    covariance: Num


class ScenarioShockRecord(_Record):
    """The shock a stress scenario applies to one risk factor or instrument (a relative move: -0.2 is down 20%)."""

    scenario: Text
    factor: Text
    shock: Annotated[Decimal, Kind.DECIMAL, AfterValidator(_finite), _DIGITS, Field(ge=-1)]
    description: Text | None = None


class AttributionResultRecord(_Record):
    """A Brinson attribution result of one segment for one period, as an attribution system reports it."""

    portfolio: Text
    period_start: Day
    period_end: Day
    segment: Text
    allocation: Num
    selection: Num
    interaction: Num
    portfolio_weight: Num | None = None
    benchmark_weight: Num | None = None
    portfolio_return: Num | None = None
    benchmark_return: Num | None = None

    @model_validator(mode="after")
    def _period(self) -> AttributionResultRecord:
        if self.period_end < self.period_start:
            raise ValueError("period_end is before period_start")
        return self


_ACTION_TYPES = frozenset(
    {"cash_dividend", "stock_dividend", "split", "reverse_split", "merger", "spinoff", "symbol_change"}
)
_ACTION_STATUSES = frozenset({"active", "cancelled"})
_STATEMENTS = frozenset({"profile", "income", "balance", "cash_flow", "earnings"})
_MOVEMENT_TYPES = frozenset(
    {"deposit", "withdrawal", "dividend", "interest", "fee", "tax", "transfer", "other"}
)


@dataclass(frozen=True)
class FastPattern:
    """The regular expression the columnar path checks for a field whose model check is a Python
    function: a value that does not match goes to the per-record path, which words the rejection.
    (The columnar path reads any metadata item's ``pattern``; pydantic ignores this class.)"""

    pattern: str


def _alternation(allowed: frozenset[str]) -> FastPattern:
    return FastPattern("^(" + "|".join(sorted(re.escape(a) for a in allowed)) + ")$")


def _one_of(allowed: frozenset[str]) -> Any:
    def check(value: str) -> str:
        if value not in allowed:
            raise ValueError(f"{value!r} is not one of {', '.join(sorted(allowed))}")
        return value

    return AfterValidator(check)


def _timestamp(value: str) -> str:
    from datetime import datetime

    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{value!r} is not an ISO 8601 timestamp") from None
    if parsed.tzinfo is None:
        raise ValueError(f"{value!r} has no UTC offset (timestamps must be timezone-aware)")
    return value


Timestamp = Annotated[str, Kind.TEXT, Field(min_length=1, max_length=40), AfterValidator(_timestamp)]
LongText = Annotated[str, Kind.TEXT, Field(min_length=1, max_length=4000)]


class CorporateActionRecord(_Record):
    """A corporate action: a dividend (cash or stock), a split or reverse split (``ratio_from`` old
    shares become ``ratio_to`` new ones), a symbol change, merger or spin-off (``new_symbol``)."""

    symbol: Text
    action_type: Annotated[str, Kind.TEXT, _one_of(_ACTION_TYPES), _alternation(_ACTION_TYPES)]
    ex_date: Day
    record_date: Day | None = None
    pay_date: Day | None = None
    cash_amount: Annotated[Decimal, Kind.DECIMAL, AfterValidator(_finite), _DIGITS, Field(ge=0)] | None = None
    currency: Currency | None = None
    ratio_from: Annotated[Decimal, Kind.DECIMAL, AfterValidator(_finite), _DIGITS, Field(gt=0)] | None = None
    ratio_to: Annotated[Decimal, Kind.DECIMAL, AfterValidator(_finite), _DIGITS, Field(gt=0)] | None = None
    new_symbol: Text | None = None
    source: Text | None = None
    status: Annotated[str, Kind.TEXT, _one_of(_ACTION_STATUSES), _alternation(_ACTION_STATUSES)] | None = None
    """``cancelled``: the provider withdrew the action (applied to a book, its effects are reversed)."""

    @model_validator(mode="after")
    def _complete(self) -> CorporateActionRecord:
        if self.action_type == "cash_dividend" and self.cash_amount is None:
            raise ValueError("a cash_dividend needs cash_amount")
        if self.action_type in ("split", "reverse_split", "stock_dividend") and (
            self.ratio_from is None or self.ratio_to is None
        ):
            raise ValueError(f"a {self.action_type} needs ratio_from and ratio_to")
        return self


class NewsRecord(_Record):
    """A news article. ``news_id`` identifies it across providers (portico derives it from the
    article's canonical URL when it imports from a provider, so one story is kept once)."""

    news_id: Text
    published_at: Timestamp
    headline: LongText
    summary: LongText | None = None
    url: LongText | None = None
    source: Text | None = None
    provider: Text | None = None
    symbols: Text | None = None
    """Comma-separated tickers."""
    sentiment: (
        Annotated[Decimal, Kind.DECIMAL, AfterValidator(_finite), _DIGITS, Field(ge=-1, le=1)] | None
    ) = None

    @model_validator(mode="after")
    def _aware(self) -> NewsRecord:
        # a timestamp needs a real parse, which the columnar path has no vectorised form of: this check
        # keeps news on the per-record path (the field's own check words the rejection first)
        _timestamp(self.published_at)
        return self


class FundamentalsRecord(_Record):
    """One figure of a company's fundamentals: a profile field (``statement: profile``), a statement
    line item (``income``, ``balance``, ``cash_flow``) or an earnings figure (``earnings``) of a period."""

    symbol: Text
    statement: Annotated[str, Kind.TEXT, _one_of(_STATEMENTS), _alternation(_STATEMENTS)]
    period: Text
    """``annual``, ``quarterly`` or ``current`` (profile figures)."""
    period_end: Day | None = None
    item: Text
    value: Num | None = None
    text: Text | None = None
    currency: Currency | None = None
    source: Text | None = None


class CashMovementRecord(_Record):
    """Cash credited (positive) or debited (negative) to an account other than by a trade: deposits,
    withdrawals, dividends paid, interest, fees."""

    movement_id: Text
    account: Text
    date: Day
    type: Annotated[str, Kind.TEXT, _one_of(_MOVEMENT_TYPES), _alternation(_MOVEMENT_TYPES)]
    amount: Num
    currency: Currency
    symbol: Text | None = None
    quantity: Num | None = None
    description: Text | None = None
    source: Text | None = None


class TimeSeriesRecord(_Record):
    """One observation of a generic (alternative data) series: ``series_id`` names it (a vendor's
    sentiment index, web traffic, card spend), ``attributes`` carries other columns as ``k=v;k=v``."""

    series_id: Text
    timestamp: Timestamp
    value: Num
    attributes: LongText | None = None
    source: Text | None = None

    @model_validator(mode="after")
    def _aware(self) -> TimeSeriesRecord:
        # as for news: a real timestamp parse keeps series on the per-record path
        _timestamp(self.timestamp)
        return self


@dataclass(frozen=True)
class RecordType:
    """A canonical record type and what the pipeline needs to know about it.

    Attributes:
        name: the ``data_type`` name used in config and on the command line.
        model: the pydantic model every loaded record satisfies.
        key: the fields that identify a record; two records with the same key in one file are duplicates.
        sums: decimal fields summed as control totals.
        aliases: other names accepted for ``data_type`` (the plan's ``daily_prices``).
    """

    name: str
    model: type[BaseModel]
    key: tuple[str, ...]
    sums: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    kinds: dict[str, Kind] = field(default_factory=dict)
    required: frozenset[str] = frozenset()

    @property
    def fields(self) -> tuple[str, ...]:
        """Field names in declaration order."""
        return tuple(self.model.model_fields)

    @property
    def table(self) -> str:
        """The embedded-store table holding loaded records of this type."""
        return f"portico_import_{self.name}"


def _kind_of(annotation: Any, metadata: list[Any]) -> Kind:
    for item in metadata:
        if isinstance(item, Kind):
            return item
    # Optional[Annotated[...]] keeps the Kind inside the union member
    for arg in get_args(annotation):
        if get_origin(arg) is Annotated:
            for item in arg.__metadata__:
                if isinstance(item, Kind):
                    return item
    return Kind.TEXT


def make_record_type(
    name: str, model: type[BaseModel], key: tuple[str, ...], sums: tuple[str, ...] = (), aliases: tuple[str, ...] = ()
) -> RecordType:
    """A :class:`RecordType` of ``model``, each field's :class:`Kind` read from its annotation."""
    kinds = {fname: _kind_of(f.annotation, list(f.metadata)) for fname, f in model.model_fields.items()}
    required = frozenset(fname for fname, f in model.model_fields.items() if f.is_required())
    return RecordType(name, model, key, sums, aliases, kinds, required)


BUILTIN_RECORD_TYPES: dict[str, RecordType] = {
    rt.name: rt
    for rt in (
        make_record_type("positions", PositionRecord, ("account", "isin", "date"), ("quantity",)),
        make_record_type("transactions", TransactionRecord, ("transaction_id",), ("quantity", "amount")),
        make_record_type("prices", PriceRecord, ("symbol", "date"), ("close",), ("daily_prices", "market_data")),
        make_record_type("fx_rates", FxRateRecord, ("base", "quote", "date"), ("rate",)),
        make_record_type("currencies", CurrencyRecord, ("code",)),
        make_record_type("countries", CountryRecord, ("code",)),
        make_record_type("calendars", CalendarHolidayRecord, ("calendar", "date"), (), ("holidays",)),
        make_record_type("counterparties", CounterpartyRecord, ("counterparty_id",)),
        make_record_type("cash_flows", CashFlowRecord, ("flow_id",), ("amount",)),
        make_record_type("benchmark_returns", BenchmarkReturnRecord, ("benchmark", "date"), (), ("benchmarks",)),
        make_record_type("factor_exposures", FactorExposureRecord, ("date", "symbol", "factor"), ("exposure",)),
        make_record_type("covariances", CovarianceRecord, ("model", "date", "factor_1", "factor_2")),
        make_record_type("scenarios", ScenarioShockRecord, ("scenario", "factor"), ("shock",)),
        make_record_type("cash_balances", CashBalanceRecord, ("account", "currency", "date", "type"), ("amount",)),
        make_record_type(
            "corporate_actions", CorporateActionRecord, ("symbol", "action_type", "ex_date"), ("cash_amount",)
        ),
        make_record_type("news", NewsRecord, ("news_id",)),
        make_record_type("fundamentals", FundamentalsRecord, ("symbol", "statement", "period", "period_end", "item")),
        make_record_type("cash_movements", CashMovementRecord, ("movement_id",), ("amount",)),
        make_record_type("time_series", TimeSeriesRecord, ("series_id", "timestamp"), (), ("alternative_data",)),
        make_record_type("attribution_results", AttributionResultRecord, ("portfolio", "period_start", "period_end", "segment"), ("allocation", "selection", "interaction")),
    )
}


class RecordTypes(dict[str, RecordType]):
    """A registry of record types by name: the built-in ones, then those plugins contribute.

    Each jobs service owns one, built from the plugins loaded there
    (:func:`portico.jobs._plugin_records.record_types_for`), and its importer, exporter, dead-letter
    queue and distributed workers look every ``data_type`` up in it: two services (two runtimes) of one
    process with different plugins do not see each other's types.
    """

    def get_type(self, name: str) -> RecordType:
        """The record type called ``name`` (or one of its aliases); the error lists the known types."""
        return record_type(name, self)

    def names(self) -> list[str]:
        """Every name and alias, sorted (what a ``data_type`` may be)."""
        return sorted({*self, *(a for t in self.values() for a in t.aliases)})


RECORD_TYPES: RecordTypes = RecordTypes(BUILTIN_RECORD_TYPES)
"""The process's directory of record types: the built-in ones, and each type a jobs service of this
process registered (the first definition of each name), or one :func:`register_record_types` added.
A service looks its types up in its own registry (``JobService.record_types``), never here."""


def record_type(name: str, types: Mapping[str, RecordType] | None = None) -> RecordType:
    """The record type called ``name`` (or one of its aliases) in ``types`` (default :data:`RECORD_TYPES`).

    Raises:
        ConfigurationError: no such type; the error lists the known types.
    """
    registry = RECORD_TYPES if types is None else types
    if name in registry:
        return registry[name]
    for rt in registry.values():
        if name in rt.aliases:
            return rt
    known = ", ".join(sorted(registry))
    raise ConfigurationError(f"unknown data type {name!r}; known record types: {known}", path="data_type")
