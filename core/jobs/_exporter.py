"""DataExporter: positions, transactions, orders, summaries, breaks and market data out to any format.

Rows come from an export source (the store's imported records, an export type a plugin contributes
through ``portico_export_types`` — the trading service's tables are one —, or a source the runtime
registers), pass column selection, renaming, filters and formatting, and are written through a
format to a destination: ``file://`` (atomic: temporary file then rename; only inside the allowed
export roots, see :mod:`portico.jobs._export_paths`), ``http(s)://`` (POST), or
``mailto:`` (an attachment sent through SMTP). ``xlsx`` with ``report: true`` is a formatted workbook;
``pdf`` renders an HTML template (Jinja2) with xhtml2pdf, pure Python.
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlparse

from portico.contributions import ExportType, resolve_ref
from portico.errors import ConfigurationError, PayloadRejected, PorticoError
from portico.jobs._export_paths import confined_export_path, export_roots
from portico.jobs._records import BUILTIN_RECORD_TYPES, RECORD_TYPES, Kind, RecordType, record_type
from portico.jobs._sinks import atomic_write
from portico.jobs._tables import data_table
from portico.plugins import PluginManager

if TYPE_CHECKING:
    from portico.clock import Clock
    from portico.jobs._config import SmtpSettings
    from portico.jobs._registry import FormatRegistry
    from portico.store import Database

__all__ = ["DEFAULT_REPORT_TEMPLATE", "DataExporter", "ExportResult", "ExportSource", "PositionSource"]

ExportSource = Callable[[], Iterable[Mapping[str, Any]]]
"""A callable returning the rows of one exportable data type."""

PositionSource = Callable[[], Iterable[Mapping[str, Any]]]
"""A callable returning the positions held at the brokers, one mapping per position: ``source`` (the
system id), ``account``, ``currency``, ``quantity``, ``market_value`` (None when the venue gives none)
and ``as_of`` (a date)."""

_AMBIGUOUS_EXTENSIONS = frozenset({".dat", ".txt"})
"""Suffixes that name no layout: an export to one must say its format rather than be guessed pipe-separated."""

DEFAULT_REPORT_TEMPLATE = """<html><head><style>
@page { size: a4 {{ "landscape" if columns|length > 7 else "portrait" }}; margin: 1.5cm; }
body { font-family: Helvetica; font-size: {{ "7pt" if columns|length > 9 else "9pt" }}; }
h1 { font-size: 14pt; color: #305496; }
table { width: 100%; }
th { background-color: #305496; color: white; padding: 3px; text-align: left; vertical-align: bottom; }
td { border-bottom: 1px solid #ddd; padding: 3px; vertical-align: top; -pdf-word-wrap: CJK; }
td.num { text-align: right; }
</style></head><body>
<h1>{{ title }}</h1>
<p>Generated {{ generated }} &middot; {{ rows|length }} rows</p>
<table repeat="1"><tr>{% for c in columns %}<th>{{ c|replace("_", " ") }}</th>{% endfor %}</tr>
{% for row in rows %}<tr>{% for c in columns %}<td{% if row[c] is number %} class="num"{% endif %}>{{ row[c] if row[c] is not none else "" }}</td>{% endfor %}</tr>
{% endfor %}</table></body></html>"""



@dataclass
class ExportResult:
    """What an export wrote and where."""

    data_type: str
    format: str
    destination: str
    rows: int
    bytes: int
    sha256: str
    path: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict."""
        return dict(self.__dict__)


class DataExporter:
    """Exports data types to destinations.

    Args:
        db: the store holding imported records and the trading tables.
        clock: time source (report timestamps).
        formats: the format registry (every format with ``write``, plus ``pdf``).
        sources: extra or overriding export sources by data type.
        smtp: SMTP settings for ``mailto:`` destinations.
        format_options: options per format name (``data_export.formats``).
        http_transport: an httpx transport for ``http(s)://`` destinations (tests inject one).
        allowed_roots: folders ``file://`` exports may write in (``data_export.allowed_roots``);
            default ``PORTICO_HOME/exports`` and the working directory at the time of the export.
        broker_positions: the brokers' positions for ``portfolio_summary`` (the runtime gives the
            positions of every configured brokerage system); without it the summary holds imported
            positions only.
        base_currency: with it, ``portfolio_summary`` rows also carry ``market_value_base`` in that
            currency, converted by ``fx_rate(currency, base)`` (the FX feed's latest rate; empty when it
            has none, never a guess).
        export_types: the export types plugins contribute (``portico_export_types``); default those
            of the built-in plugins (the trading tables). A name that clashes with a built-in type
            (an imported record type, ``market_data``, ``portfolio_summary``) or with another
            contribution is a configuration error naming both.
        record_types: the record types it exports from the store (its jobs service's registry);
            default the process's :data:`~portico.jobs.RECORD_TYPES`.
    """

    def __init__(
        self,
        *,
        db: Database,
        clock: Clock,
        formats: FormatRegistry,
        sources: Mapping[str, ExportSource] | None = None,
        smtp: SmtpSettings | None = None,
        format_options: Mapping[str, Mapping[str, Any]] | None = None,
        http_transport: Any = None,
        allowed_roots: Sequence[str | os.PathLike[str]] | None = None,
        broker_positions: PositionSource | None = None,
        base_currency: str | None = None,
        fx_rate: Callable[[str, str], Decimal] | None = None,
        export_types: Iterable[ExportType] | None = None,
        record_types: Mapping[str, RecordType] | None = None,
    ) -> None:
        if export_types is None:
            export_types = PluginManager(autoload=False).contributions("portico_export_types")
        self.record_types: Mapping[str, RecordType] = RECORD_TYPES if record_types is None else record_types
        self.export_types = _checked_export_types(export_types, self.record_types)
        self.db = db
        self.clock = clock
        self.formats = formats
        self.sources: dict[str, ExportSource] = dict(sources or {})
        self.smtp = smtp
        self.format_options = dict(format_options or {})
        self.http_transport = http_transport
        self.allowed_roots = list(allowed_roots) if allowed_roots else None
        self.broker_positions = broker_positions
        self.base_currency = base_currency
        self.fx_rate = fx_rate
        self._format_problems: dict[str, str | None] = {}

    @property
    def data_types(self) -> list[str]:
        """Every exportable data type."""
        return sorted({*_BUILTIN_TYPES, *self.record_types, *self.export_types, *self.sources})

    @property
    def export_formats(self) -> list[str]:
        """The formats an export can be written in with the configured format options (and ``pdf``)."""
        return sorted(["pdf", *(name for name in self.formats.names if self._format_problem(name) is None)])

    def _format_problem(self, name: str, options: Mapping[str, Any] | None = None) -> str | None:
        """Why format ``name`` cannot write with the configured options (plus ``options``), or None."""
        if options:
            return self._probe(name, {**self.format_options.get(name, {}), **options})
        if name not in self._format_problems:
            self._format_problems[name] = self._probe(name, self.format_options.get(name, {}))
        return self._format_problems[name]

    def _probe(self, name: str, options: Mapping[str, Any]) -> str | None:
        # a format plugin declares no write requirements: writing nothing is the one honest probe
        # (fixed_width, for one, needs a layout that only its options can give)
        try:
            self.formats.get(name).write(iter(()), [], io.BytesIO(), options)
        except ConfigurationError as exc:
            return f"the {name} format needs its settings in data_export.formats.{name} to export ({exc.message})"
        except ImportError as exc:
            return f"the {name} format needs a package that is not installed ({exc.name or exc})"
        except Exception:  # a failure that is not about setup shows in the real write, and is reported there
            return None
        return None

    def _check_type(self, data_type: str) -> None:
        if data_type in self.data_types:
            return
        try:
            record_type(data_type, self.record_types)  # an alias of a record type (daily_prices) exports that type
        except ConfigurationError:
            raise ConfigurationError(f"unknown export type {data_type!r}; export types: {', '.join(self.data_types)}", path="type") from None

    def rows(self, data_type: str) -> Iterator[dict[str, Any]]:
        """The rows of ``data_type`` with typed values (Decimal, date, bool)."""
        self._check_type(data_type)
        if data_type in self.sources:
            yield from (dict(r) for r in self.sources[data_type]())
            return
        if data_type == "portfolio_summary":
            yield from self._portfolio_summary()
            return
        contributed = self.export_types.get(data_type)
        if contributed is not None:
            yield from (dict(r) for r in resolve_ref(contributed.rows)(self.db))
            return
        rt = record_type("prices" if data_type == "market_data" else data_type, self.record_types)
        yield from self._records(rt)

    def _records(self, rt: Any) -> Iterator[dict[str, Any]]:
        import sqlalchemy as sa

        table = data_table(rt)
        self.db.ensure_tables(table)
        with self.db.begin() as conn:
            result = conn.execution_options(yield_per=10_000).execute(sa.select(*[table.c[f] for f in rt.fields]).order_by(table.c.load_no, table.c.line))
            for row in result:
                yield {f: _typed(rt.kinds[f], v) for f, v in zip(rt.fields, row, strict=True)}

    def _portfolio_summary(self) -> Iterator[dict[str, Any]]:
        """One row per (source, account, currency): the brokers' positions now, and the latest imported
        position file of each account (source ``import``)."""
        groups: dict[tuple[str, str, str], dict[str, Any]] = {}

        def add(source: str, account: str | None, currency: str, as_of: date, value: Decimal | None) -> None:
            g = groups.setdefault(
                (source, account or "", currency),
                {"source": source, "account": account, "currency": currency, "as_of": as_of, "positions": 0, "market_value": Decimal(0)},
            )
            g["positions"] += 1
            # a position the venue gives no value for makes the total unknown, never silently smaller
            g["market_value"] = None if value is None or g["market_value"] is None else g["market_value"] + value

        for p in self.broker_positions() if self.broker_positions is not None else ():
            add(str(p["source"]), p.get("account"), str(p["currency"]), p["as_of"], p.get("market_value"))
        latest: dict[str, date] = {}
        rows = list(self._records(self.record_types["positions"]))
        for r in rows:
            latest[r["account"]] = max(latest.get(r["account"], r["date"]), r["date"])
        for r in rows:
            if r["date"] == latest[r["account"]]:
                add("import", r["account"], r["currency"], r["date"], r["quantity"] * r["price"])
        for key in sorted(groups):
            row = groups[key]
            if self.base_currency is not None:
                row["base_currency"] = self.base_currency
                row["market_value_base"] = self._in_base(row["currency"], row["market_value"])
            yield row

    def _in_base(self, currency: str, value: Decimal | None) -> Decimal | None:
        if value is None or self.base_currency is None:
            return None
        if currency == self.base_currency:
            return value
        if self.fx_rate is None:
            return None
        try:
            return value * self.fx_rate(currency, self.base_currency)
        except PorticoError:
            return None

    def export(self, data_type: str, destination: str, options: Mapping[str, Any] | None = None) -> ExportResult:
        """Export ``data_type`` to ``destination`` with format options.

        Options: ``format`` (else from the destination's extension), ``columns`` (a list, or a dict
        source -> output name), ``filters`` (field -> value, or ``{op: value}`` with op in eq, ne, gt,
        ge, lt, le, in), ``decimals`` (round numbers), ``date_format``, ``report`` (formatted XLSX),
        ``title``/``template`` (PDF), ``subject``/``body`` (mailto), plus the format's own options.
        """
        opts = dict(options or {})
        given_format = opts.pop("format", None)
        columns_opt = opts.pop("columns", None)
        filters = opts.pop("filters", None) or {}
        decimals = opts.pop("decimals", None)
        date_format = opts.pop("date_format", None)
        # every check before the first row is read: a refused export writes nothing
        self._check_type(data_type)
        fmt_name = self._format_name(given_format, destination, opts)
        path = confined_export_path(destination, export_roots(self.allowed_roots)) if destination.startswith("file://") else None
        rows = self._shape(self.rows(data_type), columns_opt, filters, decimals, date_format)
        first = next(rows, None)
        columns = self._columns(data_type, columns_opt, first)
        all_rows = _chain(first, rows)
        fmt_opts = {**self.format_options.get(fmt_name, {}), **opts}
        payload_name = _destination_name(destination) or f"{data_type}.{fmt_name}"
        count = 0

        def produce(handle: Any) -> None:
            nonlocal count
            if fmt_name == "pdf":
                count = self._pdf(all_rows, columns, handle, fmt_opts, data_type)
            else:
                fmt = self.formats.get(fmt_name)
                target = handle
                if destination.endswith(".gz"):
                    import gzip

                    target = gzip.GzipFile(fileobj=handle, mode="wb", mtime=0)
                count = fmt.write(all_rows, columns, target, fmt_opts)
                if target is not handle:
                    target.close()

        if path is not None:
            try:
                atomic_write(path, produce)
                data = path.read_bytes()
            except OSError as exc:
                # atomic_write has removed its temporary file: the previous export, if any, is intact
                raise PorticoError(f"cannot write the export to {path}: {_os_reason(exc, path)}") from None
            return ExportResult(data_type, fmt_name, destination, count, len(data), hashlib.sha256(data).hexdigest(), str(path))
        buffer = io.BytesIO()
        produce(buffer)
        data = buffer.getvalue()
        if destination.startswith("mailto:"):
            self._mail(destination, data, payload_name if "." in payload_name else f"{data_type}.{fmt_name}", fmt_name, fmt_opts, data_type)
        elif destination.startswith(("http://", "https://")):
            self._post(destination, data, fmt_name)
        else:
            raise ConfigurationError(f"unsupported export destination {destination!r} (file://, http(s)://, mailto:)", path="destination")
        return ExportResult(data_type, fmt_name, destination, count, len(data), hashlib.sha256(data).hexdigest())

    # -- shaping ---------------------------------------------------------------------------------

    def _format_name(self, given: str | None, destination: str, options: Mapping[str, Any]) -> str:
        """The export format: ``given``, else the one the destination's extension names; one that works."""
        if given:
            try:
                name = "pdf" if given == "pdf" else self.formats.get(given).name
            except ConfigurationError:
                raise ConfigurationError(f"unknown export format {given!r}; export formats: {', '.join(self.export_formats)}", path="format") from None
        else:
            name = self._format_from_destination(destination)
        problem = None if name == "pdf" else self._format_problem(name, options)
        if problem is not None:
            raise ConfigurationError(problem, path="format")
        return name

    def _format_from_destination(self, destination: str) -> str:
        name = _destination_name(destination)
        suffixes = [s.lower() for s in Path(name).suffixes]
        if suffixes[-1:] == [".gz"]:
            suffixes = suffixes[:-1]
        ext = suffixes[-1] if suffixes else ""
        if ext == ".pdf":
            return "pdf"
        if ext not in _AMBIGUOUS_EXTENSIONS:
            try:
                return self.formats.for_path(Path(name)).name
            except ConfigurationError:
                pass
        raise ConfigurationError(
            f"cannot tell the export format of {name or destination!r} from its extension; give --format (format: {', '.join(self.export_formats)})",
            path="format",
        )

    def _columns(self, data_type: str, columns_opt: Any, first: Mapping[str, Any] | None) -> list[str]:
        if isinstance(columns_opt, dict):
            return list(columns_opt.values())
        if isinstance(columns_opt, list):
            return list(columns_opt)
        if first is not None:
            return list(first)
        contributed = self.export_types.get(data_type)
        if contributed is not None:
            return list(resolve_ref(contributed.columns))
        try:
            return list(record_type("prices" if data_type == "market_data" else data_type, self.record_types).fields)
        except ConfigurationError:
            return []

    @staticmethod
    def _shape(rows: Iterator[dict[str, Any]], columns_opt: Any, filters: Mapping[str, Any], decimals: int | None, date_format: str | None) -> Iterator[dict[str, Any]]:
        checks = [_filter(k, v) for k, v in filters.items()]
        for row in rows:
            if not all(check(row) for check in checks):
                continue
            if columns_opt is not None:
                names = columns_opt if isinstance(columns_opt, dict) else {c: c for c in columns_opt}
                missing = [c for c in names if c not in row]
                if missing:
                    raise ConfigurationError(f"unknown columns {missing}; available: {sorted(row)}", path="columns")
                row = {out: row[src] for src, out in names.items()}
            if decimals is not None or date_format:
                row = {k: _format(v, decimals, date_format) for k, v in row.items()}
            yield row

    # -- outputs ---------------------------------------------------------------------------------

    def _pdf(self, rows: Iterable[Mapping[str, Any]], columns: list[str], handle: Any, opts: Mapping[str, Any], data_type: str) -> int:
        import jinja2
        from xhtml2pdf import pisa

        materialised = [dict(r) for r in rows]
        template_text = opts.get("template")
        if template_text and Path(str(template_text)).is_file():
            template_text = Path(str(template_text)).read_text(encoding="utf-8")
        env = jinja2.Environment(autoescape=True)
        html = env.from_string(template_text or DEFAULT_REPORT_TEMPLATE).render(
            title=opts.get("title", data_type.replace("_", " ").title()), columns=columns, rows=materialised, generated=self.clock.now().strftime("%Y-%m-%d %H:%M UTC")
        )
        status = pisa.CreatePDF(html, dest=handle)
        if status.err:
            raise PayloadRejected(f"PDF rendering failed with {status.err} errors")
        return len(materialised)

    def _mail(self, destination: str, data: bytes, filename: str, fmt_name: str, opts: Mapping[str, Any], data_type: str) -> None:
        import smtplib
        import ssl
        from email.message import EmailMessage

        if self.smtp is None:
            raise ConfigurationError("mailto: destinations need SMTP settings (data_export.smtp)", path="data_export.smtp")
        parsed = urlparse(destination)
        recipients = [unquote(a) for a in parsed.path.split(",") if a]
        query = {k: v[0] for k, v in parse_qs(parsed.query).items()}
        if not recipients:
            raise ConfigurationError(f"no recipient in {destination!r}", path="destination")
        msg = EmailMessage()
        msg["From"] = self.smtp.sender
        msg["To"] = ", ".join(recipients)
        msg["Subject"] = query.get("subject") or opts.get("subject") or f"portico {data_type.replace('_', ' ')} {self.clock.now():%Y-%m-%d}"
        msg.set_content(query.get("body") or opts.get("body") or f"Attached: {filename}")
        maintype, subtype = _mime(fmt_name)
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
        s = self.smtp
        try:
            if s.use_tls:
                client: smtplib.SMTP = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=ssl.create_default_context())
            else:
                client = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
            with client:
                if s.starttls and not s.use_tls:
                    client.starttls(context=ssl.create_default_context())
                if s.username and s.password is not None:
                    client.login(s.username, s.password.get_secret_value())
                client.send_message(msg)
        except (smtplib.SMTPException, OSError) as exc:
            raise PorticoError(f"sending the report by email failed: {type(exc).__name__}: {exc}") from None

    def _post(self, destination: str, data: bytes, fmt_name: str) -> None:
        import httpx

        maintype, subtype = _mime(fmt_name)
        try:
            with httpx.Client(transport=self.http_transport, timeout=60.0) as client:
                response = client.post(destination, content=data, headers={"Content-Type": f"{maintype}/{subtype}"})
        except httpx.HTTPError as exc:
            raise PorticoError(f"POST of the export failed: {type(exc).__name__}") from None
        if response.status_code >= 300:
            raise PorticoError(f"export destination answered HTTP {response.status_code}", status_code=response.status_code)


def _destination_name(destination: str) -> str:
    """The file name a destination ends in (``file://out.csv`` keeps its name in the URL's host part)."""
    if destination.startswith("file://"):
        with_host = urlparse(destination)
        return Path(unquote(with_host.netloc + with_host.path)).name
    return Path(urlparse(destination).path).name


def _os_reason(exc: OSError, path: Path) -> str:
    """What went wrong, in words: mkdir reports a parent that is a file as "File exists"."""
    if exc.errno in (errno.EEXIST, errno.ENOTDIR):
        blocker = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
        if blocker is not None:
            return f"{blocker} is a file, not a folder"
    return exc.strerror or str(exc)


_BUILTIN_TYPES = frozenset({*BUILTIN_RECORD_TYPES, "market_data", "portfolio_summary"})
"""The types the exporter exports itself: the imported records, market data and the portfolio summary."""


def _checked_export_types(types: Iterable[ExportType], record_types: Mapping[str, RecordType]) -> dict[str, ExportType]:
    """Contributed export types by name; a clash with a built-in type or another contribution is refused."""
    out: dict[str, ExportType] = {}
    for item in types:
        if not isinstance(item, ExportType):
            raise ConfigurationError(
                f"an export type must be a portico.contributions.ExportType, got {item!r}", path="portico_export_types"
            )
        if item.name in _BUILTIN_TYPES or item.name in record_types:  # plugin record types too
            raise ConfigurationError(
                f"export type {item.name!r} contributed by a plugin clashes with the exporter's own {item.name!r}",
                path=f"portico_export_types.{item.name}",
            )
        if item.name in out:
            raise ConfigurationError(
                f"export type {item.name!r} is contributed twice ({out[item.name].description or 'first'} and "
                f"{item.description or 'second'}); uninstall one of the plugins",
                path=f"portico_export_types.{item.name}",
            )
        out[item.name] = item
    return out


def _mime(fmt_name: str) -> tuple[str, str]:
    return {
        "csv": ("text", "csv"),
        "psv": ("text", "plain"),
        "json": ("application", "json"),
        "jsonl": ("application", "x-ndjson"),
        "xml": ("application", "xml"),
        "xlsx": ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        "pdf": ("application", "pdf"),
        "parquet": ("application", "vnd.apache.parquet"),
    }.get(fmt_name, ("application", "octet-stream"))


def _typed(kind: Kind, value: Any) -> Any:
    if value is None:
        return None
    if kind is Kind.DECIMAL:
        return Decimal(value)
    if kind is Kind.DATE:
        return date.fromisoformat(value)
    if kind is Kind.BOOL:
        return bool(value)
    return value


def _chain(first: dict[str, Any] | None, rest: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    if first is not None:
        yield first
        yield from rest


def _format(value: Any, decimals: int | None, date_format: str | None) -> Any:
    if decimals is not None and isinstance(value, Decimal):
        return value.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_EVEN)
    if date_format and isinstance(value, date | datetime):
        return value.strftime(date_format)
    return value


def _filter(fieldname: str, spec: Any) -> Callable[[Mapping[str, Any]], bool]:
    ops: dict[str, Callable[[Any, Any], bool]] = {
        "eq": lambda a, b: a == b,
        "ne": lambda a, b: a != b,
        "gt": lambda a, b: a is not None and a > b,
        "ge": lambda a, b: a is not None and a >= b,
        "lt": lambda a, b: a is not None and a < b,
        "le": lambda a, b: a is not None and a <= b,
        "in": lambda a, b: a in b,
    }
    conditions = spec.items() if isinstance(spec, dict) else [("eq", spec)]
    checks = []
    for op, target in conditions:
        if op not in ops:
            raise ConfigurationError(f"unknown filter operator {op!r} for {fieldname}; use {sorted(ops)}", path=f"filters.{fieldname}")
        checks.append((ops[op], target))

    def check(row: Mapping[str, Any]) -> bool:
        if fieldname not in row:
            raise ConfigurationError(f"filter on unknown column {fieldname!r}; available: {sorted(row)}", path=f"filters.{fieldname}")
        value = row[fieldname]
        return all(fn(value, _coerce(target, value)) for fn, target in checks)

    return check


def _coerce(target: Any, sample: Any) -> Any:
    if isinstance(target, list):
        return [_coerce(t, sample) for t in target]
    if isinstance(sample, Decimal) and isinstance(target, int | float | str):
        return Decimal(str(target))
    if isinstance(sample, date) and isinstance(target, str):
        return date.fromisoformat(target)
    return target

