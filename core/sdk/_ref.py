"""A connector a plugin lists by its manifest and an import path, loaded on first use.

Listing what is installed (``portico plugins``, checking a configuration, starting a runtime that uses two
of twelve connectors) needs each connector's manifest, not its client, streams and their dependencies. A
plugin's ``portico_connectors`` hook may therefore return a :class:`ConnectorRef` instead of the class: the
manifest (a cheap ``spec`` module) and where the class lives. The plugin manager imports the class the
first time it is asked for it, and checks then that it is a :class:`~portico.sdk.Connector` whose ``spec``
is that manifest and that implements what the manifest declares.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from portico.sdk._connector import Connector
    from portico.sdk._spec import ConnectorSpec

__all__ = ["ConnectorRef"]


@dataclass(frozen=True)
class ConnectorRef:
    """A connector listed by its manifest, with the class imported on first use.

    Attributes:
        spec: the connector's manifest; the class's ``spec`` must be this same manifest.
        target: where the class lives, ``"package.module:ClassName"``.

    Example::

        @hookimpl
        def portico_connectors() -> list[ConnectorRef]:
            return [ConnectorRef(SPEC, "acme_portico.connector:AcmeConnector")]
    """

    spec: ConnectorSpec
    target: str

    def __post_init__(self) -> None:
        module, sep, attr = self.target.partition(":")
        if not sep or not module or not attr or not all(part.isidentifier() for part in module.split(".")):
            raise ValueError(f"ConnectorRef target {self.target!r} is not 'package.module:ClassName'")

    def load(self) -> type[Connector]:
        """Import the class (not checked here: the plugin manager checks it).

        Raises:
            ImportError: the module does not import.
            AttributeError: the module has no such attribute.
        """
        module, _, attr = self.target.partition(":")
        value: Any = importlib.import_module(module)
        for part in attr.split("."):
            value = getattr(value, part)
        loaded: type[Connector] = value
        return loaded
