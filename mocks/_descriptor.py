"""The description of a mock a plugin provides outside any connector manifest: light to import, so listing
plugins (``portico plugins``) loads no mock server."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["MockServer"]


@dataclass(frozen=True)
class MockServer:
    """A mock a plugin provides outside any connector manifest (``portico_mock_apps`` hook).

    Attributes:
        name: the name ``portico mock NAME`` serves it under.
        app: ``module:callable`` factory (called with ``seed`` and ``faults``) or the factory itself.
        url_keys: names of the URLs it serves, mapped to their paths (see :class:`RunningMock`).
        description: one line for listings.
    """

    name: str
    app: str | Callable[..., Any]
    url_keys: Mapping[str, str] = field(default_factory=lambda: {"base": ""})
    description: str = ""
