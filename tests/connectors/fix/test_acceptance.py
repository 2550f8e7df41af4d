"""FIX 4.4 session acceptance cases against the FIX mock, modelled on QuickFIX's acceptance categories.

Each case is a script (:mod:`tests.connectors.fix.script`): raw messages in, expected messages out.
Categories: logon, sequence too high / too low, resend, gap fill, garbled message, heartbeat, test
request, logout, reject (session and business). The last cases drive the connector itself through the
faults that exercise the same categories from the initiator's side.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from portico.errors import AuthError, VenueRejected
from portico.mocks.fix import FixMockServer
from portico.models import OrderRequest, OrderStatus
from portico.testing import wait_for_async
from tests.connectors.fix.script import ScriptClient

NOS = [(11, "acc-1"), (55, "AAPL"), (54, "1"), (60, "20261203-15:00:00.000"), (38, "2"), (40, "1"), (59, "0")]


async def _client(mock: FixMockServer) -> ScriptClient:
    return await ScriptClient.connect(mock.host, mock.port)


# -- logon ------------------------------------------------------------------------------------------


async def test_logon_is_answered_with_a_logon(fix_mock: FixMockServer) -> None:
    client = await _client(fix_mock)
    answer = await client.logon(heartbeat=30)
    assert answer[34] == "1"
    assert answer[108] == "30"
    assert answer[49] == "VENUE" and answer[56] == "SCRIPT"
    await client.close()


async def test_logon_with_wrong_password_is_logged_out() -> None:
    mock = await FixMockServer(seed=1, credentials={"SCRIPT": ("alice", "right")}).start()
    try:
        client = await _client(mock)
        await client.send("A", [(98, "0"), (108, "30"), (553, "alice"), (554, "wrong")])
        seen = await client.expect_closed()
        assert [m[35] for m in seen] == ["5"]
        assert "invalid username or password" in seen[0][58]
    finally:
        await mock.stop()


async def test_first_message_not_a_logon_closes_the_connection(fix_mock: FixMockServer) -> None:
    client = await _client(fix_mock)
    await client.send("1", [(112, "hello")])
    seen = await client.expect_closed()
    assert all(m[35] != "0" for m in seen), "a test request before logon must not be answered"


# -- sequence numbers --------------------------------------------------------------------------------


async def test_logon_sequence_too_high_triggers_a_resend_request(fix_mock: FixMockServer) -> None:
    client = await _client(fix_mock)
    await client.logon(seq=5)
    resend = await client.expect("2")
    assert (resend[7], resend[16]) == ("1", "0")
    await client.close()


async def test_sequence_too_low_without_possdup_logs_out(fix_mock: FixMockServer) -> None:
    client = await _client(fix_mock)
    await client.logon()
    await client.send("1", [(112, "t1")])
    assert (await client.expect("0"))[112] == "t1"
    await client.send("1", [(112, "again")], seq=2)  # 2 was used already
    seen = await client.expect_closed()
    assert seen and seen[0][35] == "5"
    assert "MsgSeqNum too low" in seen[0][58]


async def test_possdup_below_the_expected_number_is_ignored(fix_mock: FixMockServer) -> None:
    client = await _client(fix_mock)
    await client.logon()
    await client.send("1", [(112, "t1")])
    await client.expect("0")
    await client.send("1", [(112, "dup")], seq=2, header=[(43, "Y"), (122, "20261203-00:00:00.000")])
    await client.send("1", [(112, "t3")])
    answer = await client.expect("0")
    assert answer[112] == "t3", "the PossDup copy must be dropped, the session must go on"
    await client.close()


# -- resend and gap fill -------------------------------------------------------------------------------


async def test_resend_request_replays_reports_with_possdup_and_gap_fills_admin(
    fix_mock: FixMockServer,
) -> None:
    client = await _client(fix_mock)
    await client.logon()
    await client.send("D", NOS)
    first = [await client.expect("8"), await client.expect("8")]
    assert [m[150] for m in first] == ["0", "F"]
    await client.send("2", [(7, "1"), (16, "0")])
    replay = [await client.read() for _ in range(3)]
    assert replay[0] is not None and replay[0][35] == "4" and replay[0][123] == "Y", "the logon is gap-filled"
    assert replay[0][36] == first[0][34]
    for original, again in zip(first, replay[1:], strict=True):
        assert again is not None
        assert (again[35], again[34], again[17], again[43]) == ("8", original[34], original[17], "Y")
        assert 122 in again, "a resent message carries OrigSendingTime"
    assert len(fix_mock.venue.orders) == 1
    await client.close()


async def test_gap_fill_moves_the_expected_number(fix_mock: FixMockServer) -> None:
    client = await _client(fix_mock)
    await client.logon()
    await client.send(
        "4", [(123, "Y"), (36, "10")], seq=2, header=[(43, "Y"), (122, "20261203-00:00:00.000")]
    )
    client.seq = 10
    await client.send("1", [(112, "after-gap")])
    assert (await client.expect("0"))[112] == "after-gap"
    # QuickFIX answers before it moves its counter: wait for the counter, with a deadline
    await wait_for_async(lambda: fix_mock.session("SCRIPT").getExpectedTargetNum() == 11, timeout=2)
    await client.close()


async def test_sequence_reset_mode_sets_the_expected_number(fix_mock: FixMockServer) -> None:
    client = await _client(fix_mock)
    await client.logon()
    await client.send("4", [(36, "20")], seq=2)
    client.seq = 20
    await client.send("1", [(112, "after-reset")])
    assert (await client.expect("0"))[112] == "after-reset"
    await client.close()


# -- garbled messages -------------------------------------------------------------------------------


async def test_garbled_checksum_is_dropped_without_consuming_its_number(fix_mock: FixMockServer) -> None:
    client = await _client(fix_mock)
    await client.logon()
    await client.send("1", [(112, "garbled")], seq=2, checksum_offset=1)
    await client.send("1", [(112, "clean")], seq=2)
    client.seq = 3
    answer = await client.expect("0")
    assert answer[112] == "clean"
    await wait_for_async(lambda: fix_mock.session("SCRIPT").getExpectedTargetNum() == 3, timeout=2)
    await client.close()


# -- heartbeat and test request ------------------------------------------------------------------------


async def test_acceptor_heartbeats_at_the_agreed_interval(fix_mock: FixMockServer) -> None:
    client = await _client(fix_mock)
    await client.logon(heartbeat=1)
    heartbeat = await client.read(timeout=4)
    assert heartbeat is not None and heartbeat[35] == "0"
    assert 112 not in heartbeat
    await client.close()


async def test_test_request_is_answered_with_its_id(fix_mock: FixMockServer) -> None:
    client = await _client(fix_mock)
    await client.logon()
    await client.send("1", [(112, "TR-42")])
    assert (await client.expect("0"))[112] == "TR-42"
    await client.close()


async def test_silent_client_gets_a_test_request(fix_mock: FixMockServer) -> None:
    client = await _client(fix_mock)
    await client.logon(heartbeat=1)
    seen = []
    for _ in range(4):
        message = await client.read(timeout=4)
        assert message is not None
        seen.append(message[35])
        if message[35] == "1":
            break
    assert "1" in seen, (
        f"a client that stays silent past the heartbeat interval is sent a TestRequest ({seen})"
    )
    await client.close()


# -- logout ------------------------------------------------------------------------------------------


async def test_logout_is_answered_then_the_connection_closes(fix_mock: FixMockServer) -> None:
    client = await _client(fix_mock)
    await client.logon()
    await client.send("5", [(58, "bye")])
    seen = await client.expect_closed()
    assert [m[35] for m in seen] == ["5"]


# -- rejects -----------------------------------------------------------------------------------------


async def test_invalid_field_value_is_rejected_at_session_level(fix_mock: FixMockServer) -> None:
    client = await _client(fix_mock)
    await client.logon()
    number = await client.send("D", [(tag, "Z" if tag == 54 else value) for tag, value in NOS])
    reject = await client.expect("3")
    assert (reject[45], reject[371], reject[373]) == (str(number), "54", "5")
    assert fix_mock.venue.orders == {}
    await client.close()


async def test_missing_required_field_is_rejected(fix_mock: FixMockServer) -> None:
    client = await _client(fix_mock)
    await client.logon()
    number = await client.send("D", [(t, v) for t, v in NOS if t != 11])
    reject = await client.expect("3")
    assert (reject[45], reject[371], reject[373]) == (str(number), "11", "1")
    await client.close()


async def test_unsupported_message_type_gets_a_business_reject(fix_mock: FixMockServer) -> None:
    client = await _client(fix_mock)
    await client.logon()
    # OrderMassStatusRequest: valid FIX 4.4, not served by the mock (RequestForPositions is)
    await client.send("AF", [(584, "mass-1"), (585, "7")])
    reject = await client.expect("j")
    assert (reject[372], reject[380]) == ("AF", "3")
    await client.close()


async def test_business_reject_of_an_order(fix_mock: FixMockServer) -> None:
    client = await _client(fix_mock)
    await client.logon()
    await client.send("D", [(tag, "NOSUCHASSET" if tag == 55 else value) for tag, value in NOS])
    report = await client.expect("8")
    assert (report[150], report[39], report[37]) == ("8", "8", "NONE")
    assert fix_mock.rejected["acc-1"]
    await client.close()


# -- the connector through the same categories ----------------------------------------------------------


async def test_connector_logon_refused_is_an_auth_error(fix_connector) -> None:
    mock = await FixMockServer(seed=2, credentials={"PORTICO": ("alice", "right")}).start()
    try:
        refused = await fix_connector(
            mock, credentials={"username": "alice", "password": "wrong"}, open=False
        )
        with pytest.raises(AuthError, match="invalid username or password") as info:
            await refused.open()
        assert "wrong" not in str(info.value)
        await refused.close()
        good = await fix_connector(mock, credentials={"username": "alice", "password": "right"})
        assert good.session.logged_on
    finally:
        await mock.stop()


async def test_connector_recovers_a_garbled_report_by_resend(fix_mock: FixMockServer, fix_connector) -> None:
    connector = await fix_connector(fix_mock)
    fix_mock.garble_next()
    order = await connector.place_order(
        OrderRequest(symbol="AAPL", side="buy", quantity=Decimal(2), client_order_id="g-1")
    )
    assert order.client_order_id == "g-1"
    await wait_for_async(lambda: connector._orders["g-1"].status is OrderStatus.FILLED, timeout=5)
    assert len(fix_mock.venue.orders) == 1


async def test_connector_fills_a_skipped_sequence_number(fix_connector) -> None:
    mock = await FixMockServer(seed=3, faults={"skip_seq": 1.0}).start()
    try:
        connector = await fix_connector(mock)
        # both reports of the order are lost on the way; nothing says so until the next message, so
        # the connector sends a TestRequest when the ack is late: the Heartbeat's number is too high,
        # the engine asks for a resend, and both reports come back (PossDupFlag=Y)
        order = await connector.place_order(
            OrderRequest(symbol="AAPL", side="buy", quantity=Decimal(1), client_order_id="s-1")
        )
        assert order.client_order_id == "s-1"
        await wait_for_async(lambda: connector._orders["s-1"].status is OrderStatus.FILLED, timeout=5)
        assert mock.fault_hits["skip_seq"] == 2
        assert len(mock.venue.orders) == 1
        await wait_for_async(
            lambda: connector.session.numbers()[1] == mock.session().getExpectedSenderNum(), timeout=2
        )
    finally:
        await mock.stop()


async def test_connector_session_reject_is_a_venue_rejection(fix_connector) -> None:
    mock = await FixMockServer(seed=4, faults={"session_reject": 1.0}).start()
    try:
        connector = await fix_connector(mock)
        with pytest.raises(VenueRejected, match="session reject"):
            await connector.place_order(
                OrderRequest(symbol="AAPL", side="buy", quantity=Decimal(1), client_order_id="r-1")
            )
        assert mock.venue.orders == {}
    finally:
        await mock.stop()
