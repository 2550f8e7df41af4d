"""ISO 20022 schema knowledge shared by the reader and the writer: the message versions read and the
models each binds to, and the facet check (required elements, occurrence bounds, patterns, lengths,
digits, minimum values, one branch of a choice) of a schema-generated model tree, by XPath."""

from __future__ import annotations

import importlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from decimal import Decimal
from enum import Enum
from functools import cache
from typing import Any

__all__ = [
    "CAMT053_VERSIONS",
    "CAMT054_VERSIONS",
    "SEMT002_VERSIONS",
    "IsoDocument",
    "SchemaProblem",
    "schema_problems",
]

_NS = "urn:iso:std:iso:20022:tech:xsd:"

CAMT053_VERSIONS: dict[str, tuple[str, str]] = {
    f"{_NS}camt.053.001.{v:02d}": (f"pyiso20022.camt.camt_053_001_{v:02d}", "Document") for v in range(1, 13)
}
"""camt.053 namespaces read (001.01 through 001.12) and the model (module, class) each binds to."""

CAMT054_VERSIONS: dict[str, tuple[str, str]] = {
    f"{_NS}camt.054.001.{v:02d}": (f"pyiso20022.camt.camt_054_001_{v:02d}", "Document") for v in range(1, 13)
}
"""camt.054 namespaces read (001.01 through 001.12)."""

SEMT002_VERSIONS: dict[str, tuple[str, str]] = {
    f"{_NS}semt.002.001.02": ("python_iso20022.semt.semt_002_001_02", "Semt00200102"),
    f"{_NS}semt.002.001.11": ("python_iso20022.semt.semt_002_001_11", "Semt00200111"),
}
"""semt.002 namespaces read: the custody statement of holdings (001.02) and the securities balance
custody report (001.11). python-iso20022 0.3.0 ships no other semt.002.001 version (001.12 included)."""

_BOOKED = "BOOK"
"""The entry status of a booked entry."""


@dataclass(frozen=True)
class SchemaProblem:
    """A schema violation: the XPath of the element (or ``@attribute``) and what is wrong."""

    xpath: str
    message: str

    def __str__(self) -> str:
        return f"{self.xpath}: {self.message}"


_MISSING_RE = re.compile(r"^(\w+)\.__init__\(\) missing \d+ required keyword-only arguments?: (.+)$")


def _missing_required(exc: TypeError, document: type) -> str:
    """A model that will not build without an element (pyiso20022's keyword-only fields), in schema terms."""
    found = _MISSING_RE.match(str(exc))
    if found is None:
        return str(exc)
    owner = getattr(importlib.import_module(document.__module__), found.group(1), None)
    names = re.findall(r"'(\w+)'", found.group(2))
    if owner is None or not is_dataclass(owner):
        return f"required elements missing: {names}"
    by_attr = {f.name: _element_name(f) for f in fields(owner)}
    elements = ", ".join(f"<{by_attr.get(n, n)}>" for n in names)
    return f"required {elements} missing in an element of type {found.group(1)}"


@cache
def _model_class(module: str, name: str) -> type:
    return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]


def _element_name(f: Any) -> str:
    return str(f.metadata.get("name", f.name))


def _is_attribute(f: Any) -> bool:
    return f.metadata.get("type") == "Attribute"


def _is_text(f: Any) -> bool:
    return f.name == "value" and "name" not in f.metadata


def schema_problems(model: Any, root: str = "/Document") -> list[SchemaProblem]:
    """Every facet of the schema that ``model`` (an xsdata dataclass tree) breaks, by XPath."""
    found: list[SchemaProblem] = []
    _check(model, root, found)
    return found


def _check(obj: Any, path: str, found: list[SchemaProblem]) -> None:
    cls = type(obj)
    set_fields = 0
    for f in fields(obj):
        value = getattr(obj, f.name)
        name = _element_name(f)
        where = f"{path}@{name}" if _is_attribute(f) else (path if _is_text(f) else f"{path}/{name}")
        meta = f.metadata
        if isinstance(value, list):
            if value:
                set_fields += 1
            low, high = meta.get("min_occurs"), meta.get("max_occurs")
            if low is not None and len(value) < low:
                found.append(SchemaProblem(where, f"at least {low} <{name}> required, found {len(value)}"))
            if high is not None and len(value) > high:
                found.append(SchemaProblem(where, f"at most {high} <{name}> allowed, found {len(value)}"))
            for i, item in enumerate(value, start=1):
                _check_value(item, f"{where}[{i}]", meta, found)
            continue
        if value is None:
            if meta.get("required"):
                found.append(
                    SchemaProblem(
                        where, "text is required" if _is_text(f) else f"required <{name}> is missing"
                    )
                )
            continue
        set_fields += 1
        _check_value(value, where, meta, found)
    # the generator turns an xs:choice into a class of optional fields: exactly one must be given
    if "Choice" in cls.__name__ and fields(obj) and set_fields != 1:
        names = [_element_name(f) for f in fields(obj)]
        found.append(SchemaProblem(path, f"exactly one of {names} required, found {set_fields}"))


def _check_value(value: Any, where: str, meta: Mapping[str, Any], found: list[SchemaProblem]) -> None:
    if is_dataclass(value):
        _check(value, where, found)
        return
    if isinstance(value, Enum):
        return
    if isinstance(value, str):
        pattern = meta.get("pattern")
        if pattern is not None and not _pattern(pattern).fullmatch(value):
            found.append(SchemaProblem(where, f"{value[:40]!r} does not match the pattern {pattern}"))
        low, high = meta.get("min_length"), meta.get("max_length")
        if low is not None and len(value) < low:
            found.append(SchemaProblem(where, f"shorter than {low} characters"))
        if high is not None and len(value) > high:
            found.append(SchemaProblem(where, f"longer than {high} characters"))
        return
    if isinstance(value, Decimal):
        if not value.is_finite():
            found.append(SchemaProblem(where, f"{value} is not a finite number"))
            return
        _, digits, exponent = value.as_tuple()
        assert isinstance(exponent, int)
        fraction = max(0, -exponent)
        total = max(len(digits), fraction) + max(0, exponent)
        if meta.get("fraction_digits") is not None and fraction > meta["fraction_digits"]:
            found.append(SchemaProblem(where, f"{value} has more than {meta['fraction_digits']} decimals"))
        if meta.get("total_digits") is not None and total > meta["total_digits"]:
            found.append(SchemaProblem(where, f"{value} has more than {meta['total_digits']} digits"))
        if meta.get("min_inclusive") is not None and value < meta["min_inclusive"]:
            found.append(SchemaProblem(where, f"{value} is below the minimum {meta['min_inclusive']}"))
        if meta.get("max_inclusive") is not None and value > meta["max_inclusive"]:
            found.append(SchemaProblem(where, f"{value} is above the maximum {meta['max_inclusive']}"))


@cache
def _pattern(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


# -- reading values by element path ---------------------------------------------------------------


def _fields_by_element(obj: Any) -> dict[str, str]:
    kind: Any = type(obj)
    return _by_element(kind)


@cache
def _by_element(cls: Any) -> dict[str, str]:
    return {_element_name(f): f.name for f in fields(cls)}


@dataclass
class IsoDocument:
    """A parsed, validated ISO 20022 document.

    Attributes:
        namespace: the document's namespace (names message and version).
        model: the bound xsdata model (the ``Document``).
        problems: every schema violation found, in document order.
    """

    namespace: str
    model: Any
    problems: list[SchemaProblem] = field(default_factory=list)

    @property
    def message(self) -> str:
        """``camt.053.001.08`` and the like."""
        return self.namespace.removeprefix(_NS)

    def problems_under(self, xpath: str) -> list[SchemaProblem]:
        """Problems at ``xpath`` or inside it."""
        return [
            p
            for p in self.problems
            if p.xpath == xpath or p.xpath.startswith(xpath + "/") or p.xpath.startswith(xpath + "@")
        ]
