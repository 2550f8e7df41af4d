"""The built-in formats and sinks, provided through the same hooks a third-party plugin implements."""

from __future__ import annotations

from typing import Any

from portico.hookspecs import hookimpl
from portico.jobs._formats import CsvFormat, FixedWidthFormat, JsonFormat, JsonLinesFormat, PipeFormat
from portico.jobs._formats_binary import ParquetFormat, XlsxFormat
from portico.jobs._formats_xml import XmlFormat
from portico.jobs._iso20022 import Camt053Format, Camt054Format, Semt002Format
from portico.jobs._sinks import FileSink, HttpSink, MarketDataSink, StoreSink, TradingBookSink


@hookimpl
def portico_formats() -> list[Any]:
    """CSV, pipe-delimited, JSON, JSON Lines, XML, fixed-width, XLSX, Parquet; ISO 20022 camt.053, camt.054, semt.002."""
    return [
        *(
            CsvFormat(),
            PipeFormat(),
            JsonFormat(),
            JsonLinesFormat(),
            XmlFormat(),
            FixedWidthFormat(),
            XlsxFormat(),
            ParquetFormat(),
        ),
        *(Camt053Format(), Camt054Format(), Semt002Format()),
    ]


@hookimpl
def portico_sinks() -> list[Any]:
    """The embedded store, ``market_data_service``, ``trading_book``, ``file://`` and ``http(s)://``."""
    return [StoreSink(), MarketDataSink(), TradingBookSink(), FileSink(), HttpSink()]


@hookimpl
def portico_record_validators() -> list[Any]:
    """No built-in reference checks: those belong to the deployment's reference data."""
    return []
