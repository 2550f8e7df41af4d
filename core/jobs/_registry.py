"""Registries of formats and sinks, filled from the ``portico_formats`` and ``portico_sinks`` hooks."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from portico.errors import ConfigurationError
from portico.jobs._formats import Format
from portico.jobs._sinks import Sink

__all__ = ["FormatRegistry", "SinkRegistry", "collect"]


class FormatRegistry:
    """Formats by name; picks one by a file's extension (``.gz`` is looked through)."""

    def __init__(self, formats: Iterable[Format] = ()) -> None:
        self._formats: dict[str, Format] = {}
        for fmt in formats:
            self.add(fmt)

    def add(self, fmt: Format) -> None:
        """Register ``fmt``; a later format of the same name replaces an earlier one (a plugin may override)."""
        self._formats[fmt.name] = fmt

    @property
    def names(self) -> list[str]:
        return sorted(self._formats)

    def get(self, name: str) -> Format:
        """The format called ``name`` (aliases: ``pipe`` -> ``psv``, ``ndjson`` -> ``jsonl``, ``excel`` -> ``xlsx``, ``camt.053`` -> ``camt053``)."""
        aliases = {"pipe": "psv", "ndjson": "jsonl", "excel": "xlsx", "fixed": "fixed_width", "fwf": "fixed_width", "camt.053": "camt053", "camt.054": "camt054", "semt.002": "semt002"}
        name = aliases.get(name, name)
        try:
            return self._formats[name]
        except KeyError:
            raise ConfigurationError(f"unknown format {name!r}; formats: {', '.join(self.names)}", path="format") from None

    def for_path(self, path: Path, name: str | None = None) -> Format:
        """The format ``name``, or the one whose extension ``path`` has."""
        if name:
            return self.get(name)
        suffixes = [s.lower() for s in path.suffixes]
        if suffixes and suffixes[-1] == ".gz":
            suffixes = suffixes[:-1]
        ext = suffixes[-1] if suffixes else ""
        for fmt in self._formats.values():
            if ext in fmt.extensions:
                return fmt
        raise ConfigurationError(f"cannot tell the format of {path.name!r} from its extension; pass --format ({', '.join(self.names)})", path="format")


class SinkRegistry:
    """Sinks in registration order; the first whose ``matches`` accepts a destination wins."""

    def __init__(self, sinks: Iterable[Sink] = ()) -> None:
        self._sinks: list[Sink] = list(sinks)

    def add(self, sink: Sink) -> None:
        # plugin sinks go first so they can claim destinations before the built-ins
        self._sinks.insert(0, sink)

    def for_destination(self, destination: str) -> Sink:
        for sink in self._sinks:
            if sink.matches(destination):
                return sink
        names = ", ".join(s.name for s in self._sinks)
        if destination.startswith("sftp://"):
            raise ConfigurationError("sftp:// destinations need a sink plugin (none installed provides sftp): configure the server in data_import.sftp_servers", path="destination")
        raise ConfigurationError(f"no sink accepts destination {destination!r}; sinks: {names}", path="destination")


def collect(plugins: Any) -> tuple[FormatRegistry, SinkRegistry, list[Any]]:
    """Formats, sinks and record validators from the built-ins plus every plugin of ``plugins``.

    The record types plugins contribute (``portico_record_types``) are not among them: each jobs
    service builds its own registry of them (:func:`portico.jobs._plugin_records.record_types_for`).

    The built-in plugin is always consulted first (it is what the hooks of :mod:`portico.jobs.plugin`
    return), then each registered plugin's hooks, so a plugin can add or override formats.
    """
    from portico.jobs import plugin as builtin

    formats = FormatRegistry(builtin.portico_formats())
    sinks = SinkRegistry(builtin.portico_sinks())
    validators: list[Any] = []
    builtin_types = {type(x) for x in [*builtin.portico_formats(), *builtin.portico_sinks()]}
    hooks = getattr(getattr(plugins, "hooks", None), "hook", None)
    if hooks is not None:
        for name, add in (("portico_formats", formats.add), ("portico_sinks", sinks.add)):
            caller = getattr(hooks, name, None)
            if caller is None:
                continue
            for group in caller():
                for item in group or []:
                    # the built-in plugin may also be registered through its entry point: skip its repeats
                    if type(item) not in builtin_types:
                        add(item)
        caller = getattr(hooks, "portico_record_validators", None)
        if caller is not None:
            for group in caller():
                validators.extend(group or [])
    return formats, sinks, validators

