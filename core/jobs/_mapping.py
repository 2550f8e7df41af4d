"""Declarative, versioned field mappings from a file's columns to a canonical record type.

A mapping is config, not code::

    mappings:
      custodian_positions:
        version: 3
        data_type: positions
        lookups:
          desks: {EQ: equities, FI: fixed_income}
        fields:
          account: {combine: [BRANCH, ACCT], separator: "-"}
          isin: ISIN                       # a plain string is a rename
          symbol: {split: TICKER_EXCH, separator: " ", index: 0}
          quantity: {source: QTY, type: decimal, decimal_separator: ",", thousands_separator: "."}
          price: {source: PX, type: decimal}
          currency: {source: CCY, type: currency, translate: {"US$": USD}}
          date: {source: ASOF, type: date, format: "%d/%m/%Y"}

Fields the mapping does not name map from the column of the same name. Each value is normalised by the
target field's kind (decimal, date, boolean, ISO 4217/3166 codes). A code that is neither a valid ISO
code nor in the mapping's translation table, and a value missing from a lookup table, is never
defaulted: the record is quarantined with the value named (:class:`UnmappedCode`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from portico.errors import ConfigurationError
from portico.jobs._records import MAX_TEXT, Kind, RecordType
from portico.models._iso import COUNTRY_CODES, CURRENCY_CODES

__all__ = ["CONTROL_CHARS", "CompiledMapping", "FieldMapping", "FieldRule", "MappingError", "UnmappedCode", "default_mapping"]

FieldType = Literal["text", "decimal", "date", "bool", "currency", "country", "isin"]

# C0 and C1 controls and DEL; tab, CR and LF only at a value's edges, where they are trimmed like spaces
CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}


class MappingError(ValueError):
    """A value could not be normalised: the record is rejected (bad data)."""

    def __init__(self, field: str, value: Any, reason: str) -> None:
        super().__init__(f"{field}: {reason} (value {_show(value)})")
        self.field = field
        self.value = value
        self.reason = reason


class UnmappedCode(ValueError):
    """A code has no mapping: the record is quarantined for replay once the mapping is fixed."""

    def __init__(self, field: str, value: Any, table: str) -> None:
        super().__init__(f"{field}: unmapped code {_show(value)} (not in {table})")
        self.field = field
        self.value = value
        self.table = table


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class FieldRule(BaseModel):
    """How one target field gets its value. Exactly one of source/combine/split/constant is set."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str | None = None
    combine: list[str] | None = None
    split: str | None = None
    constant: Any = None
    separator: str = " "
    index: int = 0
    type: FieldType | None = None
    format: str | None = Field(default=None, description="strptime format for dates; ISO 8601 when unset")
    decimal_separator: str = "."
    thousands_separator: str | None = None
    translate: dict[str, str] | None = Field(default=None, description="code translation table, source -> ISO")
    lookup: str | None = Field(default=None, description="name of a lookup table of the mapping")
    true_values: list[str] | None = None
    false_values: list[str] | None = None

    @model_validator(mode="after")
    def _one_source(self) -> FieldRule:
        given = [n for n in ("source", "combine", "split") if getattr(self, n) is not None]
        if self.constant is not None:
            given.append("constant")
        if len(given) > 1:
            raise ValueError(f"set only one of source/combine/split/constant, not {given}")
        return self

    def columns(self, target: str) -> list[str]:
        """The source columns this rule reads."""
        if self.combine is not None:
            return list(self.combine)
        if self.split is not None:
            return [self.split]
        if self.constant is not None:
            return []
        return [self.source or target]


class FieldMapping(BaseModel):
    """A versioned mapping from source columns to one record type.

    Attributes:
        name: the mapping's name in config (``custodian_positions``).
        version: bumped on every change; recorded with each load and each quarantined record.
        data_type: the record type it produces.
        fields: target field -> rule (a bare string means "rename from this column").
        lookups: named lookup tables used by ``lookup`` rules.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = "default"
    version: int = 1
    data_type: str | None = None
    fields: dict[str, FieldRule] = Field(default_factory=dict)
    lookups: dict[str, dict[str, str]] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _bare_renames(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("fields"), dict):
            data = dict(data)
            data["fields"] = {k: ({"source": v} if isinstance(v, str) else v) for k, v in data["fields"].items()}
        return data

    @model_validator(mode="after")
    def _lookups_exist(self) -> FieldMapping:
        for target, rule in self.fields.items():
            if rule.lookup is not None and rule.lookup not in self.lookups:
                raise ValueError(f"fields.{target}.lookup: no lookup table {rule.lookup!r}")
        return self

    def rules_for(self, rt: RecordType) -> dict[str, FieldRule]:
        """Every field of ``rt`` with its rule (defaulting to the same-named column)."""
        unknown = sorted(set(self.fields) - set(rt.fields))
        if unknown:
            raise ConfigurationError(
                f"mapping {self.name!r} v{self.version} maps fields {unknown} that {rt.name} records do not have "
                f"(fields: {', '.join(rt.fields)})",
                path=f"mappings.{self.name}.fields",
            )
        return {f: self.fields.get(f) or FieldRule(source=f) for f in rt.fields}

    def source_columns(self, rt: RecordType) -> dict[str, list[str]]:
        """Target field -> the source columns it reads."""
        return {f: rule.columns(f) for f, rule in self.rules_for(rt).items()}

    def compile(self, rt: RecordType) -> CompiledMapping:
        """A mapper bound to ``rt``."""
        return CompiledMapping(self, rt, self.rules_for(rt))


def default_mapping(rt: RecordType) -> FieldMapping:
    """The identity mapping: every field from the column of the same name."""
    return FieldMapping(name="identity", version=1, data_type=rt.name)


@dataclass
class CompiledMapping:
    """A mapping bound to a record type: turns one raw record into normalised field values."""

    mapping: FieldMapping
    rt: RecordType
    rules: dict[str, FieldRule]

    def kind(self, target: str) -> Kind:
        rule = self.rules[target]
        return Kind(rule.type) if rule.type else self.rt.kinds[target]

    def map_row(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        """Map one raw record; raises :class:`MappingError` (reject) or :class:`UnmappedCode` (quarantine)."""
        out: dict[str, Any] = {}
        quarantine: UnmappedCode | None = None
        for target, rule in self.rules.items():
            try:
                value = self._extract(target, rule, raw)
                out[target] = None if value is None else self._normalise(target, rule, value)
            except UnmappedCode as exc:
                # keep going: a reject found later in the record outranks a quarantine (bad data is not replayable)
                quarantine = quarantine or exc
                out[target] = None
        if quarantine is not None:
            raise quarantine
        return out

    def _extract(self, target: str, rule: FieldRule, raw: Mapping[str, Any]) -> Any:
        if rule.constant is not None:
            return rule.constant
        if rule.combine is not None:
            parts = [_blank_to_none(raw.get(c)) for c in rule.combine]
            if any(p is None for p in parts):
                return None
            return rule.separator.join(str(p).strip() for p in parts)
        if rule.split is not None:
            value = _blank_to_none(raw.get(rule.split))
            if value is None:
                return None
            pieces = str(value).split(rule.separator)
            if not -len(pieces) <= rule.index < len(pieces):
                raise MappingError(target, value, f"has no part {rule.index} when split on {rule.separator!r}")
            return _blank_to_none(pieces[rule.index])
        return _blank_to_none(raw.get(rule.source or target))

    def _normalise(self, target: str, rule: FieldRule, value: Any) -> Any:
        if isinstance(value, str):
            control = CONTROL_CHARS.search(value.strip(" \t\r\n"))
            if control is not None:
                # no canonical field holds multi-line or control text; a NUL or ESC would reach the store and every export
                raise MappingError(target, value, f"control character U+{ord(control.group()):04X} in the value")
        if rule.lookup is not None:
            table = self.mapping.lookups[rule.lookup]
            key = str(value).strip()
            if key not in table:
                raise UnmappedCode(target, key, f"lookup table {rule.lookup!r} of mapping {self.mapping.name!r}")
            value = table[key]
        kind = self.kind(target)
        if kind is Kind.DECIMAL:
            return _to_decimal(target, value, rule)
        if kind is Kind.DATE:
            return _to_date(target, value, rule)
        if kind is Kind.BOOL:
            return _to_bool(target, value, rule)
        if kind in (Kind.CURRENCY, Kind.COUNTRY):
            code = str(value).strip()
            if rule.translate is not None and code in rule.translate:
                code = rule.translate[code]
            code = code.upper()
            codes = CURRENCY_CODES if kind is Kind.CURRENCY else COUNTRY_CODES
            if code not in codes:
                standard = "ISO 4217" if kind is Kind.CURRENCY else "ISO 3166-1"
                where = f"{standard} or the translation table of mapping {self.mapping.name!r} v{self.mapping.version}"
                raise UnmappedCode(target, str(value).strip(), where)
            return code
        text = value if isinstance(value, str) else _plain(value)
        text = text.strip()
        if len(text) > MAX_TEXT:
            raise MappingError(target, text, f"oversized: {len(text)} characters, at most {MAX_TEXT}")
        return text.upper() if kind is Kind.ISIN else text


def _plain(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _blank_to_none(value: Any) -> Any:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return value


def _to_decimal(target: str, value: Any, rule: FieldRule) -> Decimal:
    if isinstance(value, bool):
        raise MappingError(target, value, "is a boolean, not a number")
    if isinstance(value, int | Decimal):
        result = Decimal(value)
    elif isinstance(value, float):
        result = Decimal(repr(value))
    else:
        text = str(value).strip()
        if len(text) > 64:
            raise MappingError(target, text, "oversized number")
        if rule.thousands_separator:
            text = text.replace(rule.thousands_separator, "")
        if rule.decimal_separator != ".":
            text = text.replace(rule.decimal_separator, ".")
        if not _NUMBER.match(text):
            raise MappingError(target, value, "is not a number")
        try:
            result = Decimal(text)
        except InvalidOperation:
            raise MappingError(target, value, "is not a number") from None
    if not result.is_finite():
        raise MappingError(target, value, "is not a finite number")
    return result


def _to_date(target: str, value: Any, rule: FieldRule) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    try:
        if rule.format:
            return datetime.strptime(text, rule.format).date()
        if len(text) != 10:
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise MappingError(target, value, f"is not a date in format {rule.format or 'YYYY-MM-DD'}") from None


def _to_bool(target: str, value: Any, rule: FieldRule) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    trues = {v.lower() for v in rule.true_values} if rule.true_values else _TRUE
    falses = {v.lower() for v in rule.false_values} if rule.false_values else _FALSE
    if text in trues:
        return True
    if text in falses:
        return False
    raise MappingError(target, value, "is not a boolean")
