"""Building canonical models from values a decoder has already checked, without validating them again.

A stream decodes each frame with a typed decoder (``msgspec``) that checks every field's type; running
pydantic over the same values again costs more than the decode itself. :func:`trusted_builder` makes
the model the way ``model_construct`` does (same ``__dict__``, fields set, extras and private state) at a
fraction of its cost. It is for decoders whose checks match the model's: each use has tests feeding bad
messages to both paths and expecting the same rejection, and :func:`trusted_builder` itself checks, once,
that what it builds equals what validation builds, falling back to ``model_construct`` otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel

__all__ = ["trusted_builder"]

M = TypeVar("M", bound=BaseModel)

_set = object.__setattr__


def trusted_builder(model: type[M], sample: Mapping[str, Any]) -> Callable[[dict[str, Any]], M]:
    """A function making ``model`` from a dict holding a value for every one of its fields.

    The dict becomes the instance's ``__dict__`` as is (the caller gives up the dict). Only for frozen
    models (every instance shares one ``__pydantic_fields_set__``). ``sample`` (every
    field, valid values) is built both ways once: the fast path is used only if it equals the validated
    model, so a pydantic release that changes its internals costs speed, never correctness.
    """
    names = frozenset(model.model_fields)
    missing = names - set(sample)
    if missing:
        raise ValueError(f"the sample for {model.__name__} lacks {sorted(missing)}")
    new = model.__new__
    if (
        model.__private_attributes__
        or model.model_config.get("extra") == "allow"
        or not model.model_config.get("frozen")
    ):
        return _constructing(model)

    # every field is given, so every instance's set of fields set holds every name: one set serves them
    # all (pydantic copies it before changing it, in model_copy; a frozen model is never assigned to),
    # sparing an object the garbage collector tracks per instance
    fields_set = set(names)
    set_dict, set_fields, set_extra, set_private = _slot_setters()

    def build(values: dict[str, Any]) -> M:
        instance = new(model)
        set_dict(instance, values)
        set_fields(instance, fields_set)
        set_extra(instance, None)
        set_private(instance, None)
        return instance

    try:
        fast = build(dict(sample))
        checked = model.model_validate(dict(sample))
        same = fast == checked and fast.model_dump() == checked.model_dump() and repr(fast) == repr(checked)
    except Exception:
        same = False
    return build if same else _constructing(model)


def _slot_setters() -> tuple[Callable[[Any, Any], None], ...]:
    """Setters of ``__dict__`` and pydantic's three slots: the descriptors' own ``__set__`` skip the attribute
    lookup ``object.__setattr__`` makes on every call (a fifth of a build); ``object.__setattr__`` itself
    when a pydantic release no longer declares them on :class:`BaseModel`."""
    names = ("__dict__", "__pydantic_fields_set__", "__pydantic_extra__", "__pydantic_private__")
    found = [BaseModel.__dict__.get(name) for name in names]
    if all(hasattr(descriptor, "__set__") for descriptor in found):
        return tuple(descriptor.__set__ for descriptor in found)  # type: ignore[union-attr]

    def setter(name: str) -> Callable[[Any, Any], None]:
        return lambda instance, value: _set(instance, name, value)

    return tuple(setter(name) for name in names)


def _constructing(model: type[M]) -> Callable[[dict[str, Any]], M]:
    def build(values: dict[str, Any]) -> M:
        return model.model_construct(**values)

    return build
