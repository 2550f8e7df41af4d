"""The ``data_import`` and ``data_export`` config sections, accepting the plan's shape verbatim.

The plan's example validates as is::

    data_import:
      scheduled_imports:
        - {source: alpha_vantage, data_type: daily_prices, symbols: [AAPL, MSFT, GOOGL],
           schedule: "0 18 * * 1-5", destination: market_data_service}
      formats:
        csv: {delimiter: ",", quotechar: "\\"", encoding: utf-8}
        json: {indent: null, encoding: utf-8}
    data_export:
      scheduled_exports:
        - {data_type: portfolio_summary, format: json, schedule: "0 20 * * *",
           destination: "file://reports/portfolio_summary.json"}

Extensions (all optional): ``mappings`` (named, versioned field mappings), ``watches`` (expected files
with deadlines), per-job ``misfire_grace_time``/``coalesce``/``timezone``/``interval_seconds``/``run_at``,
export ``columns``/``filters``/``format_options``, ``smtp`` for ``mailto:`` destinations, and
``allowed_roots``: the folders ``file://`` exports may write in (default ``PORTICO_HOME/exports`` and
the working directory; every other destination is refused).

A scheduled import of a provider's corporate actions into ``destination: trading_book`` stores them and
applies them to the trading book and the stored price history (each action once)::

    data_import:
      scheduled_imports:
        - {source: alpha_vantage, data_type: corporate_actions, symbols: [AAPL, MSFT],
           schedule: "0 6 * * 1-5", destination: trading_book}
"""

from __future__ import annotations

import codecs
import hashlib
import json
from datetime import datetime, time
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from portico.errors import ConfigurationError
from portico.jobs._mapping import FieldMapping
from portico.jobs._pgp import PgpSettings
from portico.jobs._sftp import SftpServer
from portico.models._iso import CURRENCY_CODES

__all__ = [
    "DataExportConfig",
    "DataImportConfig",
    "FileWatch",
    "FormatOptions",
    "JobsConfig",
    "ScheduledExport",
    "ScheduledImport",
    "SmtpSettings",
    "Trigger",
]


class Trigger(BaseModel):
    """When a job runs: a cron expression, an interval, or once; plus misfire and coalescing policy.

    Attributes:
        schedule: a 5-field crontab (``"0 18 * * 1-5"``: 18:00 Monday to Friday; day 0 and 7 are Sunday).
        interval_seconds: run every N seconds instead.
        run_at: run once at this time instead.
        timezone: the zone the cron fields are read in.
        misfire_grace_time: seconds after a missed fire time in which the run still happens (else skipped).
        coalesce: when several fire times were missed (the process was down), run once, not once per miss.
    """

    model_config = ConfigDict(extra="forbid")

    id: str | None = None
    schedule: str | None = None
    interval_seconds: float | None = Field(default=None, gt=0)
    run_at: datetime | None = None
    timezone: str = "UTC"
    misfire_grace_time: int = Field(default=3600, ge=1)
    coalesce: bool = True
    enabled: bool = True

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is not None:
            from portico.jobs._scheduler import cron_trigger

            try:
                cron_trigger(value, "UTC")
            except ConfigurationError as exc:
                raise ValueError(exc.message) from None
        return value

    @model_validator(mode="after")
    def _one_trigger(self) -> Trigger:
        given = [n for n in ("schedule", "interval_seconds", "run_at") if getattr(self, n) is not None]
        if len(given) > 1:
            raise ValueError(f"give one of schedule, interval_seconds, run_at (got {given})")
        return self

    def job_id(self, kind: str) -> str:
        """The id given in config, else a stable one derived from the job's content."""
        if self.id:
            return self.id
        body = self.model_dump(mode="json", exclude={"id"})
        digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:10]
        return f"{kind}-{digest}"


class ScheduledImport(Trigger):
    """One scheduled import: from a connector (``source`` is a system id) or a file path/glob."""

    source: str
    data_type: str
    symbols: list[str] = Field(default_factory=list)
    destination: str = "store"
    format: str | None = None
    mapping: str | None = None
    parameters: dict[str, Any] = Field(default_factory=dict)


class ScheduledExport(Trigger):
    """One scheduled export or report."""

    data_type: str
    format: str
    destination: str
    columns: list[str] | dict[str, str] | None = None
    filters: dict[str, Any] = Field(default_factory=dict)
    format_options: dict[str, Any] = Field(default_factory=dict)


class FileWatch(BaseModel):
    """An expected delivery: files matching ``path`` should arrive by ``deadline`` each day.

    Late (past the deadline) raises ``jobs.file_late``; missing ``missing_after_minutes`` past the deadline
    raises ``jobs.file_missing``; an empty file ``jobs.file_empty``; a row count beyond
    ``row_change_tolerance`` of the previous delivery ``jobs.row_count_changed``.
    """

    model_config = ConfigDict(extra="forbid")

    id: str
    path: str = Field(description="a glob; {date} is replaced by the day as YYYYMMDD")
    data_type: str
    deadline: time
    timezone: str = "UTC"
    weekdays_only: bool = True
    missing_after_minutes: int = 60
    row_change_tolerance: float = 0.10
    format: str | None = None
    mapping: str | None = None
    destination: str = "store"
    check_interval_seconds: float = 300


class SmtpSettings(BaseModel):
    """SMTP for ``mailto:`` destinations (the monitor's settings, when it has them, are used instead)."""

    model_config = ConfigDict(extra="forbid")

    host: str
    port: int = 587
    username: str | None = None
    password: SecretStr | None = None
    starttls: bool = True
    use_tls: bool = False
    sender: str = "portico@localhost"
    timeout: float = 30.0


class FormatOptions(BaseModel):
    """``data_import.formats.<format>``: the options a built-in format reads, typed.

    Only the keys given are passed on (a format's own default stands for the others); an unknown key,
    a two-character delimiter or an encoding Python does not know is a configuration error, not a
    ``TypeError`` in every later import.
    """

    model_config = ConfigDict(extra="forbid")

    encoding: str | None = None
    delimiter: str | None = None
    quotechar: str | None = None
    escape_formulas: bool | None = None
    chunk_rows: int | None = Field(default=None, ge=1)
    max_bytes: int | None = Field(default=None, ge=1)
    records_path: str | None = None
    indent: int | None = Field(default=None, ge=0)
    max_depth: int | None = Field(default=None, ge=1)
    max_text: int | None = Field(default=None, ge=1)
    record_tag: str | None = None
    root_tag: str | None = None
    layout: list[dict[str, Any]] | None = None
    columns: list[dict[str, Any]] | None = None
    skip_lines: int | None = Field(default=None, ge=0)
    sheet: str | int | None = None
    report: bool | None = None
    number_format: str | None = None
    # size limits of hostile input (portico.jobs._limits.ReadLimits)
    max_decompressed_bytes: int | None = Field(default=None, ge=1)
    max_compression_ratio: int | None = Field(default=None, ge=1)
    max_record_chars: int | None = Field(default=None, ge=1)
    max_xml_token_bytes: int | None = Field(default=None, ge=1)
    max_part_bytes: int | None = Field(default=None, ge=1)
    max_shared_strings: int | None = Field(default=None, ge=1)
    max_shared_strings_bytes: int | None = Field(default=None, ge=1)
    # ISO 20022 documents (portico.jobs._iso20022): bytes of one document, elements in it
    max_document_bytes: int | None = Field(default=None, ge=1)
    max_elements: int | None = Field(default=None, ge=1)

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                codecs.lookup(value)
            except LookupError:
                raise ValueError(f"unknown text encoding {value!r}") from None
        return value

    @field_validator("delimiter", "quotechar")
    @classmethod
    def _one_character(cls, value: str | None) -> str | None:
        if value is not None and len(value) != 1:
            raise ValueError("must be one character")
        return value


def _given_options(options: FormatOptions) -> dict[str, Any]:
    return options.model_dump(exclude_unset=True)


if TYPE_CHECKING:
    _FormatOptionsDict = dict[str, Any]
else:
    # validated as FormatOptions (errors keep their key paths), kept as the dict the formats read
    _FormatOptionsDict = Annotated[FormatOptions, AfterValidator(_given_options)]


class DataImportConfig(BaseModel):
    """The ``data_import`` section."""

    model_config = ConfigDict(extra="forbid")

    scheduled_imports: list[ScheduledImport] = Field(default_factory=list)
    formats: dict[str, _FormatOptionsDict] = Field(default_factory=dict)
    """Options per format name (``csv: {delimiter: ";", encoding: latin-1}``), see :class:`FormatOptions`."""
    mappings: dict[str, FieldMapping] = Field(default_factory=dict)
    watches: list[FileWatch] = Field(default_factory=list)
    chunk_rows: int = Field(default=100_000, ge=1)
    sftp_servers: list[SftpServer] = Field(default_factory=list, description="SFTP servers sftp:// sources and watches reach (host key, credentials)")
    pgp: PgpSettings | None = Field(default=None, description="OpenPGP keys and trust for encrypted feeds")

    @model_validator(mode="after")
    def _name_mappings(self) -> DataImportConfig:
        self.mappings = {k: (m if m.name != "default" else m.model_copy(update={"name": k})) for k, m in self.mappings.items()}
        return self


class DataExportConfig(BaseModel):
    """The ``data_export`` section."""

    model_config = ConfigDict(extra="forbid")

    scheduled_exports: list[ScheduledExport] = Field(default_factory=list)
    formats: dict[str, dict[str, Any]] = Field(default_factory=dict)
    smtp: SmtpSettings | None = None
    allowed_roots: list[str] = Field(
        default_factory=list,
        description="folders file:// exports may write in (links resolved); empty: PORTICO_HOME/exports and the working directory",
    )
    base_currency: str | None = Field(
        default=None,
        description="ISO 4217 code: the portfolio summary also gives each row's market value in it, converted "
        "with the FX feed's latest rate (market_data.fx_feed)",
    )

    @field_validator("base_currency")
    @classmethod
    def _iso(cls, value: str | None) -> str | None:
        if value is not None and value.upper() not in CURRENCY_CODES:
            raise ValueError(f"{value!r} is not an ISO 4217 currency code")
        return None if value is None else value.upper()


class JobsConfig(BaseModel):
    """Both sections together, as the runtime config embeds them."""

    model_config = ConfigDict(extra="ignore")

    data_import: DataImportConfig = Field(default_factory=DataImportConfig)
    data_export: DataExportConfig = Field(default_factory=DataExportConfig)
