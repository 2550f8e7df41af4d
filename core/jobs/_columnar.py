"""The columnar fast path: map and validate a whole chunk with polars expressions.

It only ever *accepts* a row when the value is already in the canonical form the per-record path
would produce (``1.50`` not ``+1.5e0``, ``2026-01-05`` not ``5/1/26``), so both paths agree on what is
loaded; every row it doubts goes to the per-record path, which is the authority on rejection reasons.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from portico.jobs._mapping import CompiledMapping, FieldRule
from portico.jobs._records import MAX_TEXT, Kind, isin_is_valid
from portico.models._iso import COUNTRY_CODES, CURRENCY_CODES

if TYPE_CHECKING:
    import polars as pl

__all__ = ["ColumnarPlan", "columnar_plan"]

_CANON_DECIMAL = r"^-?(0|[1-9][0-9]{0,25})(\.[0-9]{1,12})?$"
_ISO_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_CONTROL = r"[\x00-\x1F\x7F-\x{9F}]"
_TRUE = ["true", "t", "yes", "y", "1"]
_FALSE = ["false", "f", "no", "n", "0"]


@dataclass
class ColumnarPlan:
    """Compiled expressions for one mapping and record type."""

    cm: CompiledMapping
    exprs: dict[str, Any]
    checks: list[Any]
    presence: dict[str, Any]
    isin_fields: list[str]
    sum_fields: tuple[str, ...]
    sources: list[str] = field(default_factory=list)
    _isin_checked: dict[str, bool] = field(default_factory=dict)

    def run(self, df: pl.DataFrame, *, control: bool = True) -> tuple[pl.DataFrame, pl.Series]:
        """Map ``df`` (string columns plus ``__line``): the mapped frame and a mask of rows it accepts.

        ``control=False`` says no value holds a control character (the reader saw none in the bytes).
        """
        import polars as pl

        # values first (from source columns), then checks on the mapped columns: no string op runs twice
        okay = pl.all_horizontal(*self.checks).fill_null(False) if self.checks else pl.lit(True)
        # a control character anywhere in a source value sends the row to the per-record path, which
        # decides (trimmed edge whitespace is fine, anything else is rejected naming the field)
        control_expr = (
            pl.any_horizontal(*[pl.col(c).str.contains(_CONTROL) for c in self.sources]).fill_null(False)
            if self.sources and control
            else pl.lit(False)
        )
        out = (
            df.lazy()
            .select(
                pl.col("__line"),
                *[e.alias(f) for f, e in self.exprs.items()],
                *[e.alias(f"__raw_{f}") for f, e in self.presence.items()],
                control_expr.alias("__control"),
            )
            .with_columns((okay & pl.col("__control").not_()).alias("__ok"))
            .collect()
        )
        ok = out["__ok"]
        mapped = out.select("__line", *self.exprs)
        for name in self.isin_fields:
            values = mapped[name]
            if len(self._isin_checked) > 200_000:
                self._isin_checked.clear()  # a file of mostly distinct ISINs: keep the cache bounded
            uniques = values.drop_nulls().unique().to_list()
            for value in uniques:
                if value not in self._isin_checked:
                    self._isin_checked[value] = isin_is_valid(value)
            good = [v for v in uniques if self._isin_checked[v]]
            ok = ok & (values.is_null() | values.is_in(good))
        return mapped, ok


def _rule_source(target: str, rule: FieldRule) -> Any | None:
    import polars as pl

    def col(name: str) -> Any:
        # an empty value is absent; replace() costs about half of when/then/otherwise here
        return pl.col(name).str.strip_chars().replace("", None)

    if rule.constant is not None:
        if not isinstance(rule.constant, str):
            return None
        return pl.lit(rule.constant.strip() or None, dtype=pl.String)
    if rule.combine is not None:
        return pl.concat_str([col(c) for c in rule.combine], separator=rule.separator)
    if rule.split is not None:
        if rule.index < 0:
            return None
        return col(rule.split).str.split(rule.separator, inclusive=False).list.get(rule.index, null_on_oob=True).str.strip_chars()
    return col(rule.source or target)


def columnar_plan(cm: CompiledMapping, header: list[str]) -> ColumnarPlan | None:
    """A columnar plan for ``cm``, or None when some rule or model check has no vectorised form."""
    import polars as pl

    rt = cm.rt
    row_checks = []
    for name in rt.model.__pydantic_decorators__.model_validators:
        row_check = _MODEL_CHECKS.get((rt.model.__name__, name))
        if row_check is None:
            return None  # a record-level rule with no vectorised form: every record goes through the model
        row_checks.append(row_check)
    exprs: dict[str, Any] = {}
    checks: list[Any] = []
    presence: dict[str, Any] = {}
    isin_fields: list[str] = []
    for target, rule in cm.rules.items():
        if any(c not in header for c in rule.columns(target)):
            plain = rule.constant is None and rule.combine is None and rule.split is None
            if not plain or target in rt.required or rt.model.model_fields[target].default is not None:
                return None
            # an optional field whose column the file lacks: absent in every record, as per record
            exprs[target] = pl.lit(None, dtype=pl.String)
            continue
        if rule.format or rule.true_values or rule.false_values:
            return None
        src = _rule_source(target, rule)
        if src is None:
            return None
        if rule.lookup is not None or rule.split is not None:
            # the only rules that can lose a value the source had (lookup miss, missing split part)
            if rule.lookup is not None:
                presence[target] = src.is_not_null()
            else:
                split_source = _rule_source(target, FieldRule(source=rule.split))
                assert split_source is not None
                presence[target] = split_source.is_not_null()
        if rule.lookup is not None:
            table = cm.mapping.lookups[rule.lookup]
            src = src.replace_strict(list(table), list(table.values()), default=None, return_dtype=pl.String)
        kind = cm.kind(target)
        value = src
        col = pl.col(target)
        valid: Any
        if kind is Kind.DECIMAL:
            if rule.thousands_separator:
                value = value.str.replace_all(rule.thousands_separator, "", literal=True)
            if rule.decimal_separator != ".":
                value = value.str.replace_all(rule.decimal_separator, ".", literal=True)
            valid = col.str.contains(_CANON_DECIMAL)
            constraint = _numeric_constraint(rt.model.model_fields[target].metadata, col)
            if constraint is not None:
                valid = valid & constraint
        elif kind is Kind.DATE:
            valid = col.str.contains(_ISO_DATE) & col.str.to_date("%Y-%m-%d", strict=False).is_not_null()
        elif kind in (Kind.CURRENCY, Kind.COUNTRY):
            if rule.translate:
                value = value.replace(list(rule.translate), list(rule.translate.values()))
            value = value.str.to_uppercase()
            codes = CURRENCY_CODES if kind is Kind.CURRENCY else COUNTRY_CODES
            valid = col.is_in(sorted(codes))
        elif kind is Kind.BOOL:
            lowered = value.str.to_lowercase()
            value = pl.when(lowered.is_in(_TRUE)).then(pl.lit(1)).when(lowered.is_in(_FALSE)).then(pl.lit(0)).otherwise(pl.lit(None))
            valid = col.is_not_null()
            presence.setdefault(target, src.is_not_null())
        elif kind is Kind.ISIN:
            value = value.str.to_uppercase()
            valid = pl.lit(True)
            isin_fields.append(target)
        else:
            valid = col.str.len_chars() <= MAX_TEXT
            pattern = _pattern(rt.model.model_fields[target].metadata)
            if pattern is not None:
                valid = valid & col.str.contains(pattern)
        required = target in rt.required
        if required:
            present_ok = col.is_not_null()
        elif target in presence:
            present_ok = col.is_not_null() | pl.col(f"__raw_{target}").not_()
        else:
            present_ok = pl.lit(True)
        checks.append(pl.when(col.is_null()).then(present_ok).otherwise(valid))
        exprs[target] = value
    for row_check in row_checks:
        checks.append(row_check(lambda name: pl.col(name) if name in exprs else pl.lit(None, dtype=pl.String)))
    sources = sorted({c for target, rule in cm.rules.items() for c in rule.columns(target) if c in header})
    return ColumnarPlan(cm, exprs, checks, presence, isin_fields, rt.sums, sources=sources)


def _not_before(later: str, earlier: str) -> Callable[[Callable[[str], Any]], Any]:
    # canonical ISO dates (the only ones accepted) order as text; a missing date passes (the model skips it)
    def check(col: Callable[[str], Any]) -> Any:
        return col(later).is_null() | col(earlier).is_null() | (col(later) >= col(earlier))

    return check


def _not_below(upper: str, lower: str) -> Callable[[Callable[[str], Any]], Any]:
    def check(col: Callable[[str], Any]) -> Any:
        hi, lo = col(upper).cast(_decimal_type(), strict=False), col(lower).cast(_decimal_type(), strict=False)
        return hi.is_null() | lo.is_null() | (hi >= lo)

    return check


# the record types' model validators, as expressions over the mapped columns: a row passes only when
# the validator would (a failing row goes to the model, which words the rejection). A validator not
# listed here (a new one) turns the columnar path off for its type, so it can never be skipped.
_MODEL_CHECKS: dict[tuple[str, str], Callable[[Callable[[str], Any]], Any]] = {
    ("TransactionRecord", "_settles_after_trade"): _not_before("settle_date", "trade_date"),
    ("PriceRecord", "_range"): _not_below("high", "low"),
    ("AttributionResultRecord", "_period"): _not_before("period_end", "period_start"),
}


def _numeric_constraint(metadata: list[Any], value: Any) -> Any | None:
    import annotated_types as at

    expr = None
    for item in metadata:
        for attr, op in (("ge", "__ge__"), ("gt", "__gt__"), ("le", "__le__"), ("lt", "__lt__")):
            bound = getattr(item, attr, None)
            if bound is None or not isinstance(item, at.Ge | at.Gt | at.Le | at.Lt | at.Interval):
                continue
            cond = getattr(value.cast(_decimal_type(), strict=False), op)(bound)
            expr = cond if expr is None else expr & cond
    return expr


def _decimal_type() -> Any:
    import polars as pl

    return pl.Decimal(38, 12)


def _pattern(metadata: list[Any]) -> str | None:
    for item in metadata:
        pattern = getattr(item, "pattern", None)
        if isinstance(pattern, str):
            return pattern
    return None
