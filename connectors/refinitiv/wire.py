"""LSEG Data Platform wire bodies, as pydantic models (lenient: unknown keys are kept, not refused).

* Historical pricing answers a list with one :class:`WireSummaries` per RIC: ``headers`` name the columns
  of ``data`` (rows newest first), or ``status`` carries an in-body error code.
* Pricing snapshots answer a list of :class:`WireSnapshotMessage`: ``Refresh`` with ``Fields``, or
  ``Status`` with a ``State`` code (``NotFound``, ``NotEntitled``) for a RIC that has no data.
* The datagrid answers :class:`WireDatagrid`: ``headers`` and ``data`` rows, or ``error``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "WireDatagrid",
    "WireHeader",
    "WireSnapshotKey",
    "WireSnapshotMessage",
    "WireSnapshotState",
    "WireStatus",
    "WireSummaries",
]


class _Wire(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class WireHeader(_Wire):
    """One column of a historical pricing or datagrid answer."""

    name: str
    title: str | None = None
    type: str | None = None


class WireStatus(_Wire):
    """An in-body error of a historical pricing answer (``TS.Interday.UserNotPermission.70112``)."""

    code: str = ""
    message: str = ""


class WireSummaries(_Wire):
    """One RIC's historical pricing answer (summaries or events)."""

    universe: dict[str, Any] = Field(default_factory=dict)
    interval: str | None = None
    summary_timestamp_label: str | None = Field(default=None, alias="summaryTimestampLabel")
    headers: list[WireHeader] = Field(default_factory=list)
    data: list[list[Any]] = Field(default_factory=list)
    status: WireStatus | None = None

    def rows(self) -> list[dict[str, Any]]:
        """The data rows as dicts keyed by header name, in the order received (newest first)."""
        names = [h.name for h in self.headers]
        return [dict(zip(names, row, strict=False)) for row in self.data]


class WireSnapshotKey(_Wire):
    """The instrument a snapshot message is about."""

    name: str = Field(default="", alias="Name")
    service: str | None = Field(default=None, alias="Service")


class WireSnapshotState(_Wire):
    """The stream state of a snapshot message."""

    stream: str | None = Field(default=None, alias="Stream")
    data: str | None = Field(default=None, alias="Data")
    code: str | None = Field(default=None, alias="Code")
    text: str | None = Field(default=None, alias="Text")


class WireSnapshotMessage(_Wire):
    """One RIC of a pricing snapshot: ``Refresh`` with fields, or ``Status`` without."""

    type: str = Field(alias="Type")
    key: WireSnapshotKey = Field(default_factory=WireSnapshotKey, alias="Key")
    state: WireSnapshotState = Field(default_factory=WireSnapshotState, alias="State")
    fields: dict[str, Any] = Field(default_factory=dict, alias="Fields")


class WireDatagrid(_Wire):
    """A datagrid (fundamental and reference data) answer."""

    headers: list[WireHeader] = Field(default_factory=list)
    data: list[list[Any]] = Field(default_factory=list)
    error: dict[str, Any] | None = None
    messages: dict[str, Any] = Field(default_factory=dict)

    def rows(self) -> list[dict[str, Any]]:
        """Rows as dicts keyed by the upper-case header name (``INSTRUMENT``, ``TR.COMMONNAME``)."""
        names = [h.name.upper() for h in self.headers]
        return [dict(zip(names, row, strict=False)) for row in self.data]
