"""Reconnects with backoff: the pause between failed connection attempts doubles up to its cap."""

from __future__ import annotations

import itertools
from typing import Any

from portico.connectors.fix.session import backoff_delays
from portico.mocks.fix import FixMockServer
from portico.testing import wait_for_async


def test_backoff_doubles_from_the_first_pause_up_to_the_cap() -> None:
    assert list(itertools.islice(backoff_delays(5, 60), 6)) == [5, 10, 20, 40, 60, 60]
    assert list(itertools.islice(backoff_delays(3, 3), 3)) == [3, 3, 3]


async def test_a_counterparty_away_is_retried_with_growing_pauses_then_logged_on_again(
    fix_mock: FixMockServer, fix_connector
) -> None:
    events: list[tuple[str, dict[str, Any]]] = []
    connector = await fix_connector(fix_mock, events=events, reconnect_interval=1, reconnect_max_interval=2)
    session = connector.session
    fix_mock.refuse_connections = True
    fix_mock.disconnect()
    await wait_for_async(lambda: len(session.reconnect_delays) >= 2, timeout=10)
    assert session.reconnect_delays[:2] == [1, 2]
    assert not session.logged_on
    # one attempt per pause (the engine alone would retry every second)
    assert 1 <= fix_mock.connections_refused <= 2 * len(session.reconnect_delays) + 1
    reconnecting = [d for e, d in events if e == "fix.session.reconnecting"]
    assert [d["delay"] for d in reconnecting][:2] == [1, 2]
    fix_mock.refuse_connections = False
    await session.wait_logged_on(10)
    # the acceptor counts a logon in its engine thread, which may run after the initiator saw the answer
    await wait_for_async(lambda: fix_mock.logons["PORTICO"] >= 2, timeout=10)
    assert fix_mock.logons["PORTICO"] == 2
