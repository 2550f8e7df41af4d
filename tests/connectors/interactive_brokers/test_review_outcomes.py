"""Outcome policy and stream robustness found in review: an order placed without a client order id can
still be resolved after a lost answer, a failed lookup stays OutcomeUnknown (with its key), and an order
status IB adds later neither crashes the order stream nor hides the other orders in its message."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from portico.clock import FakeClock
from portico.connectors.interactive_brokers import InteractiveBrokersConnector
from portico.errors import OutcomeUnknown, ReadTimeout
from portico.models import OrderEvent, OrderRequest, OrderSide
from portico.sdk import ConnectorContext

_DROP_ALL = [{"route": "/v1/api/iserver/account/*/orders", "method": "POST", "kind": "drop_after", "probability": 1.0}]


async def test_lost_answer_without_client_order_id_is_resolvable(ib_mock_factory: Callable[..., Any]) -> None:
    mock = await ib_mock_factory(seed=3, faults=_DROP_ALL, pacing=False)
    context = ConnectorContext.for_testing(
        InteractiveBrokersConnector, urls=mock.urls, connection={"transport": "web"}, clock=FakeClock()
    )
    connector = InteractiveBrokersConnector(context)
    await connector.open()
    try:
        request = OrderRequest(symbol="AAPL", side=OrderSide.BUY, quantity=Decimal(1))
        try:
            order = await connector.place_order(request)
        except OutcomeUnknown as exc:
            # without a key the caller could never look the order up, and would have to resend blind
            assert exc.idempotency_key, "OutcomeUnknown must carry the key the order was sent with"
        else:
            assert order.client_order_id, "the order found by lookup carries the generated client order id"
    finally:
        await connector.close()
    # the gateway may have been waiting on a warning reply when the answer was lost: at most one order
    assert len(mock.app.venue.orders) <= 1, "the order never reaches the venue twice"


async def test_failed_lookup_after_lost_answer_is_outcome_unknown(
    ib_mock_factory: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    mock = await ib_mock_factory(seed=4, faults=_DROP_ALL, pacing=False)
    context = ConnectorContext.for_testing(
        InteractiveBrokersConnector, urls=mock.urls, connection={"transport": "web"}, clock=FakeClock()
    )
    connector = InteractiveBrokersConnector(context)
    await connector.open()

    async def lookup_times_out(client_order_id: str) -> Any:
        raise ReadTimeout("no answer in time")

    monkeypatch.setattr(connector.transport, "get_order_by_client_id", lookup_times_out)
    try:
        with pytest.raises(OutcomeUnknown) as caught:
            await connector.place_order(
                OrderRequest(symbol="AAPL", side=OrderSide.BUY, quantity=Decimal(1), client_order_id="rv-lookup")
            )
        assert caught.value.idempotency_key == "rv-lookup"
    finally:
        await connector.close()


async def test_unknown_status_on_the_order_stream_is_reported_not_fatal(
    ib_mock_factory: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from portico.mocks.interactive_brokers import _portal_ws

    real = _portal_ws.live_order

    def with_new_status(order: Any) -> dict[str, Any]:
        row = real(order)
        if order.order_ref == "rv-odd":
            row["status"] = row["order_ccp_status"] = "Teleported"
        return row

    monkeypatch.setattr(_portal_ws, "live_order", with_new_status)
    mock = await ib_mock_factory(seed=6, pacing=False)
    emitted: list[tuple[str, dict[str, Any]]] = []
    context = ConnectorContext.for_testing(
        InteractiveBrokersConnector,
        urls=mock.urls,
        connection={"transport": "web"},
        emit=lambda name, **data: emitted.append((name, data)),
    )
    connector = InteractiveBrokersConnector(context)
    await connector.open()
    seen: list[OrderEvent] = []
    try:
        for ref in ("rv-odd", "rv-fine"):
            await connector.place_order(
                OrderRequest(symbol="IBM", side=OrderSide.BUY, quantity=Decimal(1), client_order_id=ref)
            )
        stream = connector.subscribe_order_updates()
        async for event in stream:
            seen.append(event)
            if event.order.client_order_id == "rv-fine":
                break
        await stream.aclose()  # type: ignore[attr-defined]
    finally:
        await connector.close()
    assert any(e.order.client_order_id == "rv-fine" for e in seen)
    assert not any(e.order.client_order_id == "rv-odd" for e in seen)
    reported = [data for name, data in emitted if name == "order.unknown_status"]
    assert reported and reported[0]["status"] == "Teleported"
