"""Names of a package that load on first use: the ``__getattr__``/``__dir__`` pair every connector package uses.

A connector package re-exports its connector class and manifest, but ``portico plugins`` imports the
package (its ``plugin`` module) only to list what is installed; loading the connector's client, streams and
their dependencies there would cost most of the command's time. ``lazy_exports`` gives the module hooks
(PEP 562) that import a name's module the first time the name is read, then keep it in the module.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    module_name: str, targets: Mapping[str, str], public: list[str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The module's ``__getattr__`` and ``__dir__``.

    Args:
        module_name: the package's ``__name__``.
        targets: each lazily loaded name and where it comes from: ``"package.module"`` (defined there under
            the same name) or ``"package.module:other_name"``.
        public: the package's ``__all__`` (what ``dir()`` lists).
    """

    def __getattr__(name: str) -> Any:
        source = targets.get(name)
        if source is None:
            raise AttributeError(f"module {module_name!r} has no attribute {name!r}")
        module, _, attribute = source.partition(":")
        value = getattr(importlib.import_module(module), attribute or name)
        sys.modules[module_name].__dict__[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(public)

    return __getattr__, __dir__
