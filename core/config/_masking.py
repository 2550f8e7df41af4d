"""Secrets of the service-owned sections, masked by their schema wherever the configuration is shown.

``IntegrationConfig`` keeps ``monitoring``, ``data_export``... as the plain dicts their services read, so
pydantic's ``SecretStr`` does not guard them there. The section models say which fields are secret; a
shown copy (``repr``, ``str``, ``model_dump``) replaces those values. Where a model leaves a mapping open
(``monitoring.channels``: each channel type is a plugin's), keys named like secrets are masked.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, get_args, get_origin

from pydantic import BaseModel, SecretStr

from portico.config._problems import unwrap_annotation
from portico.config._sections import section_model

__all__ = ["MASK", "mask_section"]

MASK = "**********"
"""What a secret value shows as (pydantic's own ``SecretStr`` text)."""

_SECRET_KEY = re.compile(r"password|passphrase|secret|token|api_?key|webhook_url|private_key|credential", re.I)
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^/?#@:]*:)[^/?#@]*@")

Replace = Callable[[Any], Any]


def _by_name(value: Any, replace: Replace) -> Any:
    if isinstance(value, Mapping):
        return {k: (replace(v) if _SECRET_KEY.search(str(k)) and v is not None else _by_name(v, replace)) for k, v in value.items()}
    if isinstance(value, list):
        return [_by_name(v, replace) for v in value]
    if isinstance(value, str):
        return _URL_PASSWORD.sub(r"\g<head>***@", value)
    return value


def _by_schema(value: Any, annotation: Any, replace: Replace) -> Any:
    annotation = unwrap_annotation(annotation)
    if value is None:
        return None
    if annotation is SecretStr:
        return replace(value)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel) and isinstance(value, Mapping):
        fields = {(f.alias or n): f for n, f in annotation.model_fields.items()} | dict(annotation.model_fields)
        return {
            k: (_by_schema(v, fields[k].annotation, replace) if k in fields else _by_name(v, replace))
            for k, v in value.items()
        }
    origin = get_origin(annotation)
    if origin in (dict, Mapping) and isinstance(value, Mapping):
        inner = get_args(annotation)[1] if get_args(annotation) else Any
        if inner is Any:
            return _by_name(value, replace)  # an open mapping (a plugin's options): mask by key name
        return {k: _by_schema(v, inner, replace) for k, v in value.items()}
    if origin in (list, tuple) and isinstance(value, list):
        inner = get_args(annotation)[0] if get_args(annotation) else Any
        return [_by_schema(v, inner, replace) for v in value]
    if annotation is Any or (origin is None and not isinstance(annotation, type)):
        return _by_name(value, replace)
    return _by_name(value, replace) if isinstance(value, Mapping | list) else value


def mask_section(section: str, value: Any, replace: Replace | None = None) -> Any:
    """A copy of a section's raw value with every secret replaced (by :data:`MASK` unless ``replace``)."""
    model = section_model(section)
    swap: Replace = replace or (lambda _v: MASK)
    return _by_schema(value, model, swap) if model is not None else _by_name(value, swap)
