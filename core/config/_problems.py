"""Problems as ``(key path, message)``: paths joined, pydantic errors described, "did you mean" found."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Set
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

__all__ = ["Problem", "did_you_mean", "join_path", "unwrap_annotation", "validation_problems"]

Problem = tuple[str, str]
"""A key path (``systems.alpaca.connection.port``) and what is wrong there."""


def join_path(path: tuple[Any, ...]) -> str:
    """``("systems", "a", "x", 0)`` as ``systems.a.x[0]``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def unwrap_annotation(annotation: Any) -> Any:
    """The model, dict or list type inside ``Annotated[...]`` and ``X | None``."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, UnionType):
            inner = [a for a in get_args(annotation) if a is not type(None)]
            structured = [a for a in inner if _is_model(a) or get_origin(a) in (dict, list, tuple, Mapping)]
            annotation = (structured or inner or [None])[0]
        else:
            return annotation


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _allowed_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The keys the model accepts at ``loc`` (the path of a mapping), for "did you mean"."""
    annotation: Any = model
    for part in loc:
        annotation = unwrap_annotation(annotation)
        if part == "[key]":
            continue
        if _is_model(annotation):
            fields = annotation.model_fields
            name = next((n for n, f in fields.items() if part in (n, f.alias)), None)
            if name is None:
                return []
            annotation = fields[name].annotation
        elif get_origin(annotation) in (dict, Mapping):
            annotation = get_args(annotation)[1]
        elif get_origin(annotation) in (list, tuple):
            annotation = get_args(annotation)[0]
        else:
            return []
    annotation = unwrap_annotation(annotation)
    if not _is_model(annotation):
        return []
    return [f.alias or n for n, f in annotation.model_fields.items()]


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``choices``, or an empty string."""
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _describe(error: Mapping[str, Any], *, hide_value: bool = False, model: type[BaseModel] | None = None) -> str:
    kind = error.get("type", "")
    value = error.get("input")
    loc = tuple(error.get("loc", ()))
    if kind == "extra_forbidden":
        hint = did_you_mean(loc[-1], _allowed_keys(model, loc[:-1])) if model is not None and loc else ""
        return f"unknown key{hint}"
    if kind == "missing":
        return "required key is missing"
    message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
    shown = "" if isinstance(value, Mapping | list) else f" (got {value!r})"
    if hide_value or "secret" in str(loc).lower() or "credentials" in str(loc) or repr(value) in message:
        shown = ""
    return f"{message}{shown}"


def validation_problems(
    exc: ValidationError,
    prefix: tuple[Any, ...],
    hidden: Set[tuple[Any, ...]] = frozenset(),
    model: type[BaseModel] | None = None,
) -> list[Problem]:
    """``(key path, message)`` of each error of ``exc``, found under ``prefix``; "did you mean" from ``model``."""
    problems: list[Problem] = []
    for err in exc.errors():
        loc = tuple(part for part in err["loc"] if part != "[key]")
        # a value that came from a reference is never echoed (``authentication: ${API_KEY}`` by mistake)
        problems.append((join_path((*prefix, *loc)), _describe(err, hide_value=(*prefix, *loc) in hidden, model=model)))
    return problems


