"""The result manifest of an import run (:class:`ImportResult`, its :class:`Stage` s) and the value helpers the stages share."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from portico.jobs._formats import FileRejected

if TYPE_CHECKING:
    pass

STAGES = (
    "arrival",
    "file_validation",
    "parsing",
    "record_validation",
    "mapping",
    "loading",
    "control_totals",
)
_SAMPLE = 100
_RAW_LIMIT = 4096
_TEXT_FORMATS = {"csv", "psv", "jsonl", "fixed_width", "json"}
_HEADER_FORMATS = {"csv", "psv", "xlsx", "parquet"}


class ControlTotalsMismatch(FileRejected):
    """Source and loaded counts or sums differ: the load is rolled back."""


@dataclass
class _LostRace(FileRejected):
    """A concurrent import committed other bytes of this delivery while this one loaded: load again on top."""

    def __init__(self, winner: str) -> None:
        super().__init__(
            f"another import committed this delivery (load {winner}) while this one was loading, twice; nothing was loaded by this run: run it again"
        )
        self.winner = winner


@dataclass
class Stage:
    """One pipeline stage of a run: status, timing and what it found."""

    name: str
    status: str = "pending"
    seconds: float = 0.0
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class ImportResult:
    """The result manifest of one import run.

    ``status`` is ``loaded`` (every record loaded), ``partial`` (some rejected or quarantined),
    ``duplicate`` (this exact delivery was already loaded: nothing changed), ``failed`` (the file
    itself failed: nothing loaded) or ``dry_run``. ``manifest_error`` says why the manifest file could
    not be written (a full disk): the status still tells what the load did.
    """

    run_id: str
    data_type: str
    source: str
    source_key: str
    destination: str
    status: str = "pending"
    load_id: str | None = None
    checksum: str | None = None
    format: str | None = None
    mapping: str | None = None
    mapping_version: int | None = None
    supersedes: str | None = None
    feed: str | None = None
    records: int = 0
    loaded: int = 0
    rejected: int = 0
    quarantined: int = 0
    control_totals: dict[str, Any] = field(default_factory=dict)
    stages: list[Stage] = field(default_factory=list)
    rejects: list[dict[str, Any]] = field(default_factory=list)
    quarantine: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    manifest_path: str | None = None
    manifest_error: str | None = None
    fast_path: bool = False
    started_at: str | None = None
    finished_at: str | None = None

    @property
    def exit_code(self) -> int:
        """0 when every record loaded (or already had), 3 when some were rejected/quarantined, 1 when the file failed."""
        if self.status == "failed":
            return 1
        if self.rejected or self.quarantined:
            return 3
        return 0

    def stage(self, name: str) -> Stage:
        for s in self.stages:
            if s.name == name:
                return s
        s = Stage(name)
        self.stages.append(s)
        return s

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict of the manifest."""
        return json.loads(json.dumps(asdict(self), default=_json_default))


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal | datetime | date):
        return str(value) if isinstance(value, Decimal) else value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def storage_value(value: Any) -> Any:
    """A canonical value as the store keeps it: Decimal -> exact text, date -> ISO text, bool -> 0/1."""
    if isinstance(value, Decimal):
        # plain notation ("1000", not "1E+3"): the same text the columnar path keeps for canonical input
        return format(value, "f")
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _raw_json(raw: Any) -> str:
    text = json.dumps(raw, default=_json_default, ensure_ascii=False)
    return text if len(text) <= _RAW_LIMIT else text[: _RAW_LIMIT - 20] + '..."(truncated)"'


def feed_of(source_key: str) -> str:
    """The feed a delivery belongs to: its name with digits folded, so daily files compare with each other."""
    return re.sub(r"\d+", "#", source_key)


def _os_error(exc: OSError) -> str:
    """An OSError in one line: what failed and where (``No space left on device: /home/.../x.json``)."""
    where = f": {exc.filename}" if exc.filename else ""
    return f"{exc.strerror or type(exc).__name__}{where}"


def _reset_counts(result: ImportResult) -> None:
    """Forget what an abandoned attempt of this run counted (its transaction was rolled back)."""
    result.loaded = result.rejected = result.quarantined = result.records = 0
    result.rejects.clear()
    result.quarantine.clear()
    result.supersedes = None
    result.load_id = None


def _plain_decimal(value: Decimal) -> str:
    # normalize() rounds to its context's precision: strip trailing zeros without rounding instead
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _records_checksum(rows: list[dict[str, Any]]) -> str:
    import hashlib

    digest = hashlib.sha256()
    for row in rows:
        digest.update(json.dumps(row, sort_keys=True, default=_json_default).encode())
        digest.update(b"\n")
    return digest.hexdigest()
