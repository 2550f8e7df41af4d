from __future__ import annotations

from typing import Any

import httpx
import pytest

from portico.clock import FakeClock
from portico.errors import ServerError
from portico.monitor import IntegrationMonitor, Redactor, RuntimeServer

from .conftest import CANARY, call

TOKEN = "dash-token-abcdefghijklmnop"
XSS = '<img src=x onerror="alert(1)"><script>alert(2)</script>'


@pytest.fixture
def monitor(fake_clock: FakeClock, redactor: Redactor) -> IntegrationMonitor:
    return IntegrationMonitor(clock=fake_clock, redactor=redactor)


def client(server: RuntimeServer) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=server.app), base_url="http://127.0.0.1")


async def test_dashboard_requires_the_token(monitor: IntegrationMonitor) -> None:
    server = RuntimeServer(monitor, None, token=TOKEN)
    async with client(server) as c:
        assert (await c.get("/dashboard")).status_code == 401
        assert (await c.get("/dashboard", headers={"Accept": "text/html"})).status_code == 401
        assert (await c.get("/dashboard/state")).status_code == 401
        assert (await c.get("/dashboard/state", headers={"Authorization": "Bearer wrong"})).status_code == 401
        assert (await c.get("/dashboard?token=wrong")).status_code == 401
        ok = await c.get("/dashboard/state", headers={"Authorization": f"Bearer {TOKEN}"})
        assert ok.status_code == 200 and ok.json()["status"] == "healthy"


async def test_query_token_becomes_a_strict_cookie_and_leaves_the_url(monitor: IntegrationMonitor) -> None:
    server = RuntimeServer(monitor, None, token=TOKEN)
    async with client(server) as c:
        first = await c.get(f"/dashboard?token={TOKEN}")
        assert first.status_code == 303 and first.headers["location"] == "/dashboard"
        cookie = first.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and TOKEN.lower() not in cookie
        page = await c.get("/dashboard")
        assert page.status_code == 200 and "<h1>portico</h1>" in page.text
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert TOKEN not in page.text
        assert (await c.get("/dashboard/state")).status_code == 200


async def test_generated_token_is_secret(monitor: IntegrationMonitor) -> None:
    server = RuntimeServer(monitor, None)
    assert server.generated_token and len(server.token) >= 24
    assert server.token not in monitor.redactor.redact_text(f"url {server.dashboard_url}")


async def test_everything_rendered_is_escaped(monitor: IntegrationMonitor) -> None:
    monitor.call_observer()(call(system="alpaca_paper", status=500, outcome="failed", error=ServerError(XSS)))
    monitor.alerts.fire("custom", system="alpaca_paper", severity="critical", summary=XSS)
    monitor.emit("job.completed", system="importer", job=XSS, records_imported=5, records_rejected=1)
    dead = [{"id": 1, "job": "prices", "reason": XSS, "record": {"symbol": XSS, "password": CANARY}}]
    server = RuntimeServer(monitor, None, token=TOKEN, dead_letter_provider=lambda: dead)
    async with client(server) as c:
        page = await c.get("/dashboard", headers={"Authorization": f"Bearer {TOKEN}"})
    html = page.text
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in html
    assert html.count("&lt;img src=x") >= 3  # last error, alert, job, dead letter
    assert CANARY not in html
    assert page.headers["x-content-type-options"] == "nosniff"


async def test_state_json_carries_jobs_dead_letters_alerts_and_series(monitor: IntegrationMonitor, fake_clock: FakeClock) -> None:
    monitor.call_observer()(call())
    await monitor.tick()
    monitor.set_breaker_state("alpaca_paper", "open")

    async def jobs() -> list[dict[str, Any]]:
        return [{"job_id": "daily_prices", "status": "succeeded", "loaded": 3, "rejected": 1, "finished_at": "t"}]

    server = RuntimeServer(monitor, None, token=TOKEN, jobs_provider=jobs, dead_letter_provider=lambda: [])
    async with client(server) as c:
        state = (await c.get("/dashboard/state", headers={"Authorization": f"Bearer {TOKEN}"})).json()
    assert state["jobs"] == [
        {"at": "t", "job": "daily_prices", "system": None, "outcome": "succeeded", "records_imported": 3,
         "records_rejected": 1, "duration": None, "error": None}
    ]
    assert state["dead_letters"] == []
    assert [a["rule"] for a in state["alerts"]] == ["circuit_open"]
    assert state["series"]["alpaca_paper"]["requests"][0][1] == 1.0
    [row] = state["systems"]
    assert row["breaker"] == "open" and row["requests"] == 1


async def test_health_json_for_load_balancers(monitor: IntegrationMonitor) -> None:
    server = RuntimeServer(monitor, None, token=TOKEN)
    monitor.report_health("alpaca_paper", "healthy", "ok")
    async with client(server) as c:
        ok = await c.get("/health")
        assert ok.status_code == 200 and ok.json()["systems"]["alpaca_paper"]["status"] == "healthy"
        monitor.report_health("ib", "down", f"connection refused {CANARY}")
        down = await c.get("/health")
        live = await c.get("/health/live")
    assert down.status_code == 503 and live.status_code == 200
    body = down.json()
    assert body["status"] == "down" and body["systems"]["ib"]["reason"] == "connection refused ***"


async def test_metrics_exposition_and_optional_protection(monitor: IntegrationMonitor) -> None:
    monitor.call_observer()(call())
    async with client(RuntimeServer(monitor, None, token=TOKEN)) as c:
        resp = await c.get("/metrics")
        assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/plain")
        assert 'portico_requests_total{endpoint="GET /v2/account"' in resp.text
    async with client(RuntimeServer(monitor, None, token=TOKEN, protect_metrics=True)) as c:
        assert (await c.get("/metrics")).status_code == 401
        assert (await c.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})).status_code == 200


async def test_runtime_like_systems_and_probe(monitor: IntegrationMonitor) -> None:
    class Breaker:
        state = "half_open"

    class Window:
        limit = 5

        def __str__(self) -> str:
            return "5/second"

    class Limiter:
        windows = (Window(),)

        def remaining(self) -> dict[str, float]:
            return {"5/second": 2.0}

    class System:
        breaker = Breaker()
        limiter = Limiter()
        state = "error"
        last_error = "refused"

    class Runtime:
        systems = {"ib_paper": System()}

    server = RuntimeServer(monitor, Runtime(), token=TOKEN)
    state = await server.state()
    [row] = state["systems"]
    assert row["system"] == "ib_paper" and row["breaker"] == "half_open"
    assert row["status"] == "down" and "refused" in row["reason"]
    assert row["rate_limit"]["remaining"] == {"5/second": 2.0}
    assert row["rate_limit"]["limit"] == {"5/second": 5.0}


async def test_serves_on_loopback_with_an_ephemeral_port(monitor: IntegrationMonitor) -> None:
    async with RuntimeServer(monitor, None, port=0, token=TOKEN) as server:
        assert server.host == "127.0.0.1" and server.port > 0
        async with httpx.AsyncClient() as c:
            assert (await c.get(f"{server.url}/health")).status_code == 200
            page = await c.get(f"{server.url}/dashboard/static/app.js")
            assert page.status_code == 200 and "textContent" in page.text and "innerHTML =" not in page.text


async def test_jobs_and_dead_letters_come_from_a_running_jobs_service(monitor: IntegrationMonitor) -> None:
    class Jobs:
        def history(self, job_id: str | None = None, *, limit: int = 50) -> list[dict[str, Any]]:
            return [{"run_id": "r1", "job_id": "eod_positions", "status": "partial", "loaded": 98, "rejected": 1,
                     "quarantined": 1, "finished_at": "2026-01-05T18:01:00", "error": None}]

        def dead_letters(self, limit: int = 50) -> list[dict[str, Any]]:
            return [{"id": 3, "data_type": "positions", "source_key": "pos_20260105.csv", "line": 42,
                     "field": "quantity", "value": "12x", "reason": "not a number", "status": "open"}]

    class Runtime:
        systems: dict[str, Any] = {}
        _services = {"jobs": Jobs()}

    state = await RuntimeServer(monitor, Runtime(), token=TOKEN).state()
    [job] = state["jobs"]
    assert (job["job"], job["outcome"], job["records_imported"], job["records_rejected"]) == ("eod_positions", "partial", 98, 2)
    [dead] = state["dead_letters"]
    assert dead["job"] == "positions" and dead["where"] == "pos_20260105.csv, line 42, field quantity"
    assert dead["record"] == "12x" and dead["reason"] == "not a number"

    class NoJobsYet:
        systems: dict[str, Any] = {}
        _services: dict[str, Any] = {}

        @property
        def jobs(self) -> Any:  # building the service must not be triggered by the dashboard
            raise AssertionError("built the jobs service")

    state = await RuntimeServer(monitor, NoJobsYet(), token=TOKEN).state()
    assert state["dead_letters"] == [] and state["jobs"] == []


async def test_only_the_session_cookie_the_login_set_is_accepted(monitor: IntegrationMonitor) -> None:
    server = RuntimeServer(monitor, None, token=TOKEN)
    other = RuntimeServer(IntegrationMonitor(redactor=Redactor()), None, token="another-token-0123456789abcdef")
    async with client(server) as c:
        login = await c.get(f"/dashboard?token={TOKEN}")
        session = login.cookies["portico_dashboard"]
    async with client(other) as c:
        foreign = (await c.get("/dashboard?token=another-token-0123456789abcdef")).cookies["portico_dashboard"]
    forged = [
        "x",
        "1",
        TOKEN,  # the token itself is not the session
        foreign,  # a session of another dashboard
        "0" * len(session),
        session[:-1] + ("0" if session[-1] != "0" else "1"),
        session + "0",
    ]
    for value in forged:
        async with client(server) as c:
            refused = await c.get("/dashboard/state", headers={"Cookie": f"portico_dashboard={value}"})
            assert refused.status_code == 401, value
    async with client(server) as c:
        accepted = await c.get("/dashboard/state", headers={"Cookie": f"portico_dashboard={session}"})
        assert accepted.status_code == 200


async def test_health_is_not_ready_while_a_system_was_never_checked(monitor: IntegrationMonitor) -> None:
    async def ok() -> Any:
        from portico.sdk import CheckResult

        return CheckResult(ok=True, system="alpaca_paper")

    monitor.register_health_check("alpaca_paper", ok)
    server = RuntimeServer(monitor, None, token=TOKEN)
    async with client(server) as c:
        first = await c.get("/health")
        assert first.status_code == 503
        assert first.json()["status"] == "unknown"
        assert first.json()["systems"]["alpaca_paper"]["status"] == "unknown"
        await monitor.run_health_check("alpaca_paper")
        after = await c.get("/health")
        assert after.status_code == 200 and after.json()["status"] == "healthy"
        monitor.alerts.fire("job_failed", system=None, subject="prices", severity="critical", summary="import failed")
        degraded = await c.get("/health")
        assert degraded.status_code == 200 and degraded.json()["status"] == "degraded"


async def test_a_foreign_host_header_is_refused(monitor: IntegrationMonitor) -> None:
    # DNS rebinding: a page on evil.example whose name now resolves to 127.0.0.1 sends Host: evil.example
    server = RuntimeServer(monitor, None, token=TOKEN, allowed_hosts=["portico.internal"])
    async with client(server) as c:
        for path in ("/health", "/metrics", "/dashboard/state", f"/dashboard?token={TOKEN}"):
            refused = await c.get(path, headers={"Host": "evil.example", "Authorization": f"Bearer {TOKEN}"})
            assert refused.status_code == 400, path
        for host in ("127.0.0.1", "127.0.0.1:8787", "localhost", "localhost:8787", "portico.internal"):
            assert (await c.get("/health/live", headers={"Host": host})).status_code == 200, host


def test_a_non_loopback_bind_is_called_out() -> None:
    monitor = IntegrationMonitor(redactor=Redactor())
    assert RuntimeServer(monitor, None, host="127.0.0.1").exposure_warning() is None
    assert RuntimeServer(monitor, None, host="localhost").exposure_warning() is None
    warning = RuntimeServer(monitor, None, host="0.0.0.0").exposure_warning()
    assert warning is not None
    assert "0.0.0.0" in warning and "plain HTTP" in warning and "monitoring.http.allowed_hosts" in warning
    assert "\n" not in warning
    # a specific address is a host the server answers to
    assert "10.1.2.3" in RuntimeServer(monitor, None, host="10.1.2.3").allowed_hosts
