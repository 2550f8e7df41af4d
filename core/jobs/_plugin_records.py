"""Record types contributed by plugins (``portico_record_types``), joined to the built-in ones.

Each jobs service owns its registry (:class:`~portico.jobs._records.RecordTypes`), built by
:func:`record_types_for` from the plugins loaded there: the importer, the exporter, the dead-letter
queue and the distributed workers of that service look a ``data_type`` up in it, so two runtimes of one
process with different plugins do not see each other's types. A plugin's
:class:`portico.contributions.RecordTypeDef` is checked when it joins a registry; it never replaces a
built-in type, and one name contributed twice with different definitions is refused.

The process's directory :data:`portico.jobs.RECORD_TYPES` (what :func:`portico.jobs.record_type` reads
without a registry) also learns each type a service registered, the first definition of each name,
for code that looks a type up outside any service.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, MutableMapping
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any, get_args

from pydantic import BaseModel

from portico.contributions import RecordTypeDef, resolve_ref
from portico.errors import ConfigurationError
from portico.jobs._records import (
    BUILTIN_RECORD_TYPES,
    RECORD_TYPES,
    Kind,
    RecordType,
    RecordTypes,
    make_record_type,
)

__all__ = ["plugin_record_types", "record_types_for", "register_record_types"]

_HOOK = "portico_record_types"
_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,47}$")
"""A record type names its store table (``portico_import_<name>``): lower-case letters, digits, ``_``."""


def _built(item: Any) -> RecordType:
    if not isinstance(item, RecordTypeDef):
        raise ConfigurationError(
            f"a record type must be a portico.contributions.RecordTypeDef, got {item!r}", path=_HOOK
        )
    where = f"{_HOOK}.{item.name}"
    for name in (item.name, *item.aliases):
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise ConfigurationError(
                f"record type name {name!r} must be lower-case letters, digits and '_' (at most 48, starting with a letter)",
                path=where,
            )
    try:
        model = resolve_ref(item.model)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ConfigurationError(
            f"record type {item.name!r}: cannot import its model {item.model!r}: {exc}", path=f"{where}.model"
        ) from None
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise ConfigurationError(
            f"record type {item.name!r}: its model must be a pydantic model class, got {model!r}",
            path=f"{where}.model",
        )
    key, sums = tuple(item.key), tuple(item.sums)
    if not key:
        raise ConfigurationError(f"record type {item.name!r}: its key names no field", path=f"{where}.key")
    for attr, names in (("key", key), ("sums", sums)):
        unknown = [n for n in names if n not in model.model_fields]
        if unknown:
            raise ConfigurationError(
                f"record type {item.name!r}: {attr} names {', '.join(map(repr, unknown))}, not fields of {model.__name__} "
                f"(fields: {', '.join(model.model_fields)})",
                path=f"{where}.{attr}",
            )
    rt = _with_plain_kinds(make_record_type(item.name, model, key, sums, tuple(item.aliases)))
    not_decimal = [n for n in sums if rt.kinds[n] is not Kind.DECIMAL]
    if not_decimal:
        raise ConfigurationError(
            f"record type {item.name!r}: control totals sum decimal fields (Kind.DECIMAL), not {', '.join(map(repr, not_decimal))}",
            path=f"{where}.sums",
        )
    return rt


_PLAIN_KINDS: tuple[tuple[type, Kind], ...] = ((bool, Kind.BOOL), (Decimal, Kind.DECIMAL), (date, Kind.DATE))


def _plain_kind(annotation: Any) -> Kind | None:
    """The kind of a plain ``Decimal`` / ``date`` / ``bool`` annotation (or ``X | None``), else None."""
    for candidate in (annotation, *get_args(annotation)):
        for typ, kind in _PLAIN_KINDS:
            if candidate is typ:
                return kind
    return None


def _with_plain_kinds(rt: RecordType) -> RecordType:
    """``rt`` with a kind for each field a plugin annotated as plain ``Decimal``, ``date`` or ``bool``.

    A built-in model marks each field's :class:`Kind`; a plugin need not import it, so an unmarked
    field's kind comes from its type (a field marked with a Kind keeps it).
    """
    kinds = dict(rt.kinds)
    for name, f in rt.model.model_fields.items():
        marked = any(isinstance(m, Kind) for m in f.metadata) or any(
            isinstance(m, Kind) for a in get_args(f.annotation) for m in getattr(a, "__metadata__", ())
        )
        plain = None if marked else _plain_kind(f.annotation)
        if plain is not None:
            kinds[name] = plain
    return replace(rt, kinds=kinds)


def _taken(names: Iterable[str], types: Iterable[RecordType]) -> dict[str, str]:
    """Each name or alias of ``types`` -> the type it belongs to."""
    wanted = set(names)
    return {n: t.name for t in types for n in (t.name, *t.aliases) if n in wanted}


def register_record_types(
    contributions: Iterable[Any], into: MutableMapping[str, RecordType] | None = None
) -> list[RecordType]:
    """Check ``contributions`` and add them to ``into`` (default :data:`RECORD_TYPES`); the types, as registered.

    Registering a definition equal to one already registered (a plugin registered twice) is a no-op.
    Nothing is added when any contribution is refused.

    Raises:
        ConfigurationError: a contribution is malformed, is named like (or aliases) a built-in type, or
            takes a name another contribution defines differently.
    """
    registry = RECORD_TYPES if into is None else into
    built = [_built(item) for item in contributions]
    pending: dict[str, RecordType] = {}
    for rt in built:
        names = (rt.name, *rt.aliases)
        builtin = _taken(names, BUILTIN_RECORD_TYPES.values())
        if builtin:
            name, owner = next(iter(builtin.items()))
            raise ConfigurationError(
                f"record type {name!r} contributed by a plugin clashes with the built-in record type {owner!r}; "
                "a plugin may add record types, not replace one (rename it)",
                path=f"{_HOOK}.{rt.name}",
            )
        others = [
            t
            for t in (*registry.values(), *pending.values())
            if t.name not in BUILTIN_RECORD_TYPES and t != rt
        ]
        twice = _taken(names, others)
        if twice:
            name, owner = next(iter(twice.items()))
            raise ConfigurationError(
                f"record type {name!r} is contributed twice with different definitions (again by record type {rt.name!r}, "
                f"already by {owner!r}); uninstall one of the plugins",
                path=f"{_HOOK}.{rt.name}",
            )
        pending[rt.name] = rt
    registry.update(pending)
    return list(pending.values())


def plugin_record_types(plugins: Any, into: MutableMapping[str, RecordType] | None = None) -> list[RecordType]:
    """Register the record types ``plugins`` contribute into ``into`` (default :data:`RECORD_TYPES`).

    None without a plugin manager.
    """
    contributions = getattr(plugins, "contributions", None)
    if not callable(contributions):
        return []
    return register_record_types(contributions(_HOOK), into)


def record_types_for(plugins: Any) -> RecordTypes:
    """A registry of its own for what ``plugins`` load: the built-in types and the plugins' types.

    The plugins' types are also made known to the process's directory :data:`RECORD_TYPES` (a name
    it already holds keeps its first definition there); nothing the registry returned holds comes
    from another registry.

    Raises:
        ConfigurationError: a contribution is malformed, is named like a built-in type, or two of
            ``plugins`` define one name differently.
    """
    registry = RecordTypes(BUILTIN_RECORD_TYPES)
    for rt in plugin_record_types(plugins, registry):
        taken = _taken((rt.name, *rt.aliases), RECORD_TYPES.values())
        if not taken:
            RECORD_TYPES[rt.name] = rt
    return registry
