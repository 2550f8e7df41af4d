"""Data License REST documents as pydantic models: the request documents portico sends and the answers
it reads (catalogs, content responses, JSON:API errors). Answers keep unknown keys (JSON-LD grows)."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Catalog",
    "CatalogCollection",
    "ContentResponse",
    "ContentResponseCollection",
    "DataFieldList",
    "DataRequest",
    "ErrorBody",
    "FieldMnemonic",
    "HistoryRequest",
    "HistoryRuntimeOptions",
    "IdentifierType",
    "PricingSourceOptions",
    "SecurityIdentifier",
    "Universe",
]

IdentifierType = Literal["TICKER", "ISIN", "CUSIP", "BB_GLOBAL", "SEDOL"]


class _Document(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid", frozen=True)


class _Answer(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="allow")


class SecurityIdentifier(_Document):
    """One universe member."""

    type_: Literal["Identifier"] = Field(default="Identifier", alias="@type")
    identifierType: IdentifierType
    identifierValue: str


class Universe(_Document):
    """An inline universe."""

    type_: Literal["Universe"] = Field(default="Universe", alias="@type")
    contains: tuple[SecurityIdentifier, ...]


class FieldMnemonic(_Document):
    """One field of a field list, by mnemonic (``PX_LAST``)."""

    mnemonic: str


class DataFieldList(_Document):
    """An inline field list; its ``@type`` matches the request's (``DataFieldList``, ``HistoryFieldList``)."""

    type_: Literal["DataFieldList", "HistoryFieldList"] = Field(default="DataFieldList", alias="@type")
    contains: tuple[FieldMnemonic, ...]


class _Trigger(_Document):
    type_: Literal["SubmitTrigger"] = Field(default="SubmitTrigger", alias="@type")


class _MediaType(_Document):
    type_: Literal["MediaType"] = Field(default="MediaType", alias="@type")
    outputMediaType: Literal["application/json", "text/csv"] = "application/json"


class PricingSourceOptions(_Document):
    """A preferred pricing source (``BGN``, ``BVAL``...) for a request's prices."""

    type_: Literal["DataPricingSourceOptions", "HistoryPricingSourceOptions"] = Field(
        default="DataPricingSourceOptions", alias="@type"
    )
    prefer: FieldMnemonic


class _IntervalDateRange(_Document):
    type_: Literal["IntervalDateRange"] = Field(default="IntervalDateRange", alias="@type")
    startDate: date
    endDate: date


class HistoryRuntimeOptions(_Document):
    """The date range and period of a HistoryRequest."""

    type_: Literal["HistoryRuntimeOptions"] = Field(default="HistoryRuntimeOptions", alias="@type")
    dateRange: _IntervalDateRange
    period: Literal["daily", "weekly", "monthly"] = "daily"


class DataRequest(_Document):
    """A per-security reference (snapshot) request, submitted at once."""

    type_: Literal["DataRequest"] = Field(default="DataRequest", alias="@type")
    identifier: str
    name: str
    title: str
    description: str = "portico"
    universe: Universe
    fieldList: DataFieldList
    trigger: _Trigger = _Trigger()
    formatting: _MediaType = _MediaType()
    pricingSourceOptions: PricingSourceOptions | None = None

    def body(self) -> dict[str, Any]:
        """The JSON body (aliases, no empty options, dates as xsd:date)."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


class HistoryRequest(DataRequest):  # type: ignore[override]
    """A per-security time series request over a date range."""

    type_: Literal["HistoryRequest"] = Field(default="HistoryRequest", alias="@type")  # type: ignore[assignment]
    runtimeOptions: HistoryRuntimeOptions


class Catalog(_Answer):
    """A catalog: ``bbg`` or an account's (``subscriptionType: scheduled``)."""

    identifier: str
    subscriptionType: str | None = None
    title: str | None = None


class CatalogCollection(_Answer):
    """``GET /eap/catalogs/``."""

    contains: list[Catalog] = Field(default_factory=list)


class ContentResponse(_Answer):
    """One output ready for download."""

    key: str
    requestIdentifier: str | None = None
    contentType: str | None = None


class ContentResponseCollection(_Answer):
    """``GET /eap/catalogs/{catalog}/content/responses/``."""

    contains: list[ContentResponse] = Field(default_factory=list)


class _ErrorSource(_Answer):
    pointer: str | None = None


class _Error(_Answer):
    status: str | int | None = None
    title: str | None = None
    detail: str | None = None
    code: str | None = None
    source: _ErrorSource | None = None


class ErrorBody(_Answer):
    """A JSON:API error body (``/eap``) or an OAuth 2 one (token endpoint, bearer refusals)."""

    errors: list[_Error] = Field(default_factory=list)
    error: str | None = None
    error_description: str | None = None

    def summary(self) -> tuple[str, str | None]:
        """A one-line message and the vendor's code (the JSON pointer of a refused document part)."""
        if self.errors:
            first = self.errors[0]
            text = ": ".join(p for p in (first.title, first.detail) if p) or "refused"
            pointer = first.source.pointer if first.source else None
            more = f" (+{len(self.errors) - 1} more)" if len(self.errors) > 1 else ""
            return (text + (f" at {pointer}" if pointer else "") + more), first.code or pointer
        if self.error:
            return (
                self.error + (f": {self.error_description}" if self.error_description else "")
            ), self.error
        return "refused", None
