"""The API used from outside Python: the TypeScript client generated from the published OpenAPI
document, type-checked and run with Node against the running gateway."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from portico.gateway.openapi import openapi_text
from tests.gateway.stack import Stack

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "clients" / "typescript"
PUBLISHED = ROOT / "sdk-docs" / "reference" / "gateway-openapi.json"


def test_the_published_document_is_the_one_served(stack: Stack) -> None:
    with stack.client() as http:
        served = http.get("/v1/openapi.json").json()
    assert json.loads(PUBLISHED.read_text(encoding="utf-8")) == served
    assert PUBLISHED.read_text(encoding="utf-8") == openapi_text(), (
        "regenerate: python -m portico.gateway.openapi sdk-docs/reference/gateway-openapi.json"
    )


def _node_ready() -> str | None:
    if shutil.which("node") is None or shutil.which("npx") is None:
        return "node/npx not installed (apt-get install nodejs npm)"
    if not (CLIENT / "node_modules" / "typescript").exists():
        return "the client's packages are not installed (cd clients/typescript && npm ci)"
    return None


def _require_node() -> None:
    why = _node_ready()
    if why is None:
        return
    if os.environ.get("CI") == "true":  # CI installs them (.ci/run): missing there is a failure
        pytest.fail(why)
    pytest.skip(why)


def test_generated_client_matches_the_document(tmp_path: Path) -> None:
    _require_node()
    out = tmp_path / "schema.d.ts"
    subprocess.run(
        ["npx", "--no-install", "openapi-typescript", str(PUBLISHED), "--default-non-nullable", "false", "-o", str(out)],
        cwd=CLIENT, check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    assert out.read_text() == (CLIENT / "src" / "schema.d.ts").read_text(), (
        "regenerate: cd clients/typescript && npm run generate"
    )


def test_typescript_client_against_the_running_gateway(stack: Stack) -> None:
    _require_node()
    build = subprocess.run(
        ["npx", "--no-install", "tsc", "-p", "."],  # into clients/typescript/dist (ignored by git)
        cwd=CLIENT, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert build.returncode == 0, build.stdout + build.stderr
    env = {
        **os.environ,
        "PORTICO_GATEWAY_URL": stack.url,
        "PORTICO_GATEWAY_TOKEN": stack.tokens["bob"],
        "PORTICO_GATEWAY_SYSTEM": "alpaca_a",
        "PORTICO_GATEWAY_KEY": "ts-client-1",
    }
    run = subprocess.run(
        ["node", str(CLIENT / "dist" / "smoke.js")],
        cwd=CLIENT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    assert seen["systems"] == ["alpaca_a"]  # bob reads alpaca_a only
    assert seen["again_id"] == seen["first_id"] and seen["replayed"] == "true"
    assert seen["conflict_status"] == 409 and seen["conflict_field"] == "header.Idempotency-Key"
    assert seen["listed"] is True
    venue = [o.client_order_id for o in stack.venue_orders("alpaca_a")]
    assert venue.count(seen["client_order_id"]) == 1
    # a replace with one Idempotency-Key, sent twice, is one replace: one new order linked to the old
    assert seen["replacement_again_id"] == seen["replacement_id"] and seen["replacement_limit"] == "1.05"
    assert seen["replaced_status"] == "replaced"
    linked = [o for o in stack.venue_orders("alpaca_a") if o.replaces == seen["replaced_venue_id"]]
    assert len(linked) == 1
