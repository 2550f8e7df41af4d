from __future__ import annotations

from pydantic import BaseModel, SecretStr

from portico.monitor import MonitoringConfig, Redactor
from portico.monitor._redact import MASK, is_sensitive_key

from .conftest import CANARY


def test_registered_value_is_masked_everywhere_also_url_encoded() -> None:
    r = Redactor([CANARY, "p@ss word/+"])
    assert CANARY not in r.redact_text(f"failed with key {CANARY} at 3")
    encoded = r.redact_text("https://x.test/q?k=p%40ss%20word%2F%2B&a=1")
    assert "p%40ss" not in encoded and MASK in encoded
    assert "p@ss word/+" not in r.redact_text("plain p@ss word/+ here")


def test_url_secrets_are_masked_whatever_their_value() -> None:
    r = Redactor()
    text = r.redact_text("GET https://www.alphavantage.co/query?function=TIME_SERIES_DAILY&apikey=ABCDEF123&symbol=IBM")
    assert "ABCDEF123" not in text
    assert "function=TIME_SERIES_DAILY" in text and "symbol=IBM" in text
    assert "hunter2" not in r.redact_text("postgresql://user:hunter2@db.local:5432/x")
    assert "eyJhbGciOiJIUzI1NiJ9" not in r.redact_text("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.abc")
    assert "xyz-987654" not in r.redact_text('{"password": "xyz-987654", "user": "bob"}')


def test_fields_named_like_secrets_are_masked_but_lookalikes_are_not() -> None:
    assert is_sensitive_key("api_key") and is_sensitive_key("X-Api-Key") and is_sensitive_key("refreshToken")
    assert is_sensitive_key("client_secret") and is_sensitive_key("password")
    assert not is_sensitive_key("tokens_remaining") and not is_sensitive_key("authenticated")
    r = Redactor()
    out = r.redact({"api_key": "visible?", "nested": {"password": "pw1234"}, "tokens_remaining": 5, "ok": True})
    assert out == {"api_key": MASK, "nested": {"password": MASK}, "tokens_remaining": 5, "ok": True}


def test_secretstr_and_exceptions_and_objects() -> None:
    r = Redactor([CANARY])
    assert r.redact(SecretStr("anything")) == MASK
    assert CANARY not in r.redact(ValueError(f"bad key {CANARY}"))

    class Leaky:
        def __str__(self) -> str:
            return f"Leaky({CANARY})"

    assert CANARY not in r.redact({"obj": Leaky()})["obj"]


def test_secrets_are_collected_from_config_models() -> None:
    class Section(BaseModel):
        creds: dict[str, SecretStr]

    r = Redactor()
    r.add_secrets_from(Section(creds={"k": SecretStr(CANARY)}))
    r.add_secrets_from({"channels": {"x": {"type": "slack", "webhook_url": "https://hooks.test/T000/B000/XXXXSECRET"}}})
    assert CANARY not in r.redact_text(f"..{CANARY}..")
    assert "XXXXSECRET" not in r.redact_text("post to https://hooks.test/T000/B000/XXXXSECRET failed")


def test_monitoring_config_secrets_register_with_the_monitor(redactor: Redactor) -> None:
    from portico.monitor import IntegrationMonitor

    config = MonitoringConfig.model_validate(
        {"channels": {"hook": {"type": "webhook", "url": "http://127.0.0.1:1/h", "secret": "whsec-0123456789"}}}
    )
    monitor = IntegrationMonitor(config=config, redactor=redactor)
    assert "whsec-0123456789" not in monitor.redactor.redact_text("sig whsec-0123456789")
    assert "whsec-0123456789" not in repr(monitor.channels["hook"].options)


def test_short_values_are_not_registered() -> None:
    r = Redactor(["ab"])
    assert r.redact_text("abc ab") == "abc ab"


def test_secrets_known_to_the_auth_package_are_masked_too() -> None:
    from portico.auth import known_secrets

    r = Redactor()
    assert r.redact_text("seen tok-from-oauth-7777") == "seen tok-from-oauth-7777"
    known_secrets.register("tok-from-oauth-7777")
    try:
        assert r.redact_text("seen tok-from-oauth-7777") == "seen ***"
        assert r.redact({"note": "tok-from-oauth-7777"}) == {"note": "***"}
    finally:
        known_secrets.forget("tok-from-oauth-7777")


def test_a_bare_bearer_token_in_free_text_is_masked() -> None:
    r = Redactor()
    assert r.redact_text("retrying with Bearer eyJhbGciOiJIUzI1NiJ9.abc after 401") == "retrying with Bearer *** after 401"
    assert r.redact_text("sent bearer tok_12345678 twice") == "sent bearer *** twice"
    assert r.redact_text("the token endpoint answered 400") == "the token endpoint answered 400"
