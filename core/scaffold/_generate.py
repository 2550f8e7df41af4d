"""``portico new connector``: a separate, pip-installable plugin package that passes out of the box."""

from __future__ import annotations

import asyncio
import importlib
import json
import keyword
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from portico.errors import ConfigurationError
from portico.plugins import PluginManager

__all__ = ["AUTH_CHOICES", "KIND_CHOICES", "GeneratedPlugin", "generate_connector"]

KIND_CHOICES = ("brokerage", "market_data", "data_service")
AUTH_CHOICES = ("api_key", "api_key_pair", "basic", "oauth2", "none")

_CAPABILITIES = {
    "market_data": ("get_bars", "get_latest_quotes", "search_instruments"),
    "data_service": ("get_fundamentals", "get_fx_rate", "search_instruments"),
    "brokerage": (
        "get_account",
        "get_positions",
        "place_order",
        "cancel_order",
        "get_order",
        "get_order_by_client_id",
        "list_orders",
        "get_latest_quotes",
        "search_instruments",
    ),
}
_CREDENTIALS = {
    "api_key": {"api_key": "test-key"},
    "api_key_pair": {"api_key_id": "test-key-id", "api_secret_key": "test-secret"},
    "basic": {"username": "tester", "password": "test-password"},
    "oauth2": {"client_id": "test-client", "client_secret": "test-secret"},
    "none": {},
}
_FILES = {
    "pyproject.toml.j2": "pyproject.toml",
    "README.md.j2": "README.md",
    "__init__.py.j2": "src/{package}/__init__.py",
    "spec.py.j2": "src/{package}/spec.py",
    "plugin.py.j2": "src/{package}/plugin.py",
    "connector.py.j2": "src/{package}/connector.py",
    "client.py.j2": "src/{package}/client.py",
    "wire.py.j2": "src/{package}/wire.py",
    "mapping.py.j2": "src/{package}/mapping.py",
    "mock.py.j2": "src/{package}/mock.py",
    "test_conformance.py.j2": "tests/test_conformance.py",
    "test_mapping.py.j2": "tests/test_mapping.py",
}


@dataclass(frozen=True)
class GeneratedPlugin:
    """What :func:`generate_connector` wrote."""

    name: str
    package: str
    distribution: str
    root: Path
    files: tuple[Path, ...]


def _check_name(name: str) -> str:
    if not re.fullmatch(r"[a-z][a-z0-9_]{1,40}", name) or keyword.iskeyword(name) or name.endswith("_"):
        raise ConfigurationError(
            f"connector name {name!r} must be lower snake case (letters, digits, _), 2-41 characters, "
            "starting with a letter (e.g. 'acme_markets')",
            path="NAME",
        )
    return name


def _refuse_installed(name: str, plugins: PluginManager) -> None:
    """A scaffold named like an installed connector would be refused when loaded: refuse it now."""
    found = plugins.find_connector(name)
    if found is None:
        return
    name = found.spec.name  # an alias names the connector that has it
    plugin = plugins.plugin_of(name)
    info = plugins.plugins.get(plugin or "")
    source = f" of {info.distribution}" if info is not None and info.distribution else ""
    raise ConfigurationError(
        f"connector name {name!r} is already installed (plugin {plugin!r}{source}): a second provider would be "
        "refused at load time; choose another NAME",
        path="NAME",
    )


def generate_connector(
    name: str,
    *,
    kind: str = "market_data",
    auth: str = "api_key",
    output: str | Path = ".",
    display_name: str | None = None,
    capture: bool = True,
    plugins: PluginManager | None = None,
) -> GeneratedPlugin:
    """Write a new connector plugin package under ``output/portico-<name>``.

    The package has the same shape as every portico connector (``spec.py``, ``plugin.py``,
    ``connector.py``, ``client.py``, ``wire.py``, ``mapping.py``, ``mock.py``), a test data folder with
    payloads captured from its own mock, and tests running the conformance suite. Installed as it is,
    it is listed by ``portico plugins``, its mock starts with ``portico mock NAME``, and its tests pass.

    Args:
        name: the connector's name, lower snake case.
        kind: ``brokerage``, ``market_data`` or ``data_service``.
        auth: ``api_key``, ``api_key_pair``, ``basic``, ``oauth2`` (client credentials) or ``none``.
        output: the folder to create the package in.
        display_name: the human name (default: from ``name``).
        capture: capture ``tests/data/`` payloads from the generated mock.
        plugins: the installed plugins, whose connector names are refused (default: a fresh manager).

    Raises:
        ConfigurationError: a bad name or choice, the name of an installed connector, or the target
            folder exists and is not empty.
    """
    from jinja2 import Environment, PackageLoader, StrictUndefined

    name = _check_name(name)
    _refuse_installed(name, plugins if plugins is not None else PluginManager())
    if kind not in KIND_CHOICES:
        raise ConfigurationError(f"--kind {kind!r}: expected one of {', '.join(KIND_CHOICES)}", path="--kind")
    if auth not in AUTH_CHOICES:
        raise ConfigurationError(f"--auth {auth!r}: expected one of {', '.join(AUTH_CHOICES)}", path="--auth")
    dist = "portico-" + name.replace("_", "-")
    package = f"portico_{name}"
    root = Path(output) / dist
    if root.exists() and any(root.iterdir()):
        raise ConfigurationError(f"{root} already exists and is not empty; choose another --output", path="--output")

    context: dict[str, Any] = {
        "name": name,
        "package": package,
        "dist": dist,
        "display_name": display_name or name.replace("_", " ").title(),
        "class_name": "".join(part.capitalize() for part in name.split("_")),
        "kind": kind,
        "auth": auth,
        "host": name.replace("_", "-") + ".example",
        "capabilities": _CAPABILITIES[kind],
        "credentials": repr(_CREDENTIALS[auth]),
    }
    env = Environment(
        loader=PackageLoader("portico.scaffold", "templates"),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    written: list[Path] = []
    for template, target in _FILES.items():
        path = root / target.format(package=package)
        path.parent.mkdir(parents=True, exist_ok=True)
        text = env.get_template(template).render(**context)
        path.write_text(re.sub(r"\n{3,}(?=\S)", _blank_lines, text), encoding="utf-8")
        written.append(path)
    typed = root / "src" / package / "py.typed"
    typed.write_text("")
    written.append(typed)
    data_dir = root / "tests" / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    if capture:
        written.extend(_capture(root, package, kind, _CREDENTIALS[auth], auth))
    return GeneratedPlugin(name=name, package=package, distribution=dist, root=root, files=tuple(written))


def _blank_lines(match: re.Match[str]) -> str:
    # templates leave runs of blank lines where optional blocks drop out; keep PEP 8's two at most
    return "\n\n\n"


def _capture(root: Path, package: str, kind: str, credentials: dict[str, str], auth: str) -> list[Path]:
    """Record one response per endpoint from the freshly generated mock, in-process."""
    import httpx

    src = str(root / "src")
    sys.path.insert(0, src)
    try:
        for loaded in [m for m in sys.modules if m == package or m.startswith(package + ".")]:
            del sys.modules[loaded]
        importlib.invalidate_caches()
        mock = importlib.import_module(f"{package}.mock")
        app = mock.create_app(seed=1)
    finally:
        sys.path.remove(src)
        for loaded in [m for m in sys.modules if m == package or m.startswith(package + ".")]:
            del sys.modules[loaded]

    headers: dict[str, str] = {}
    auth_obj: Any = None
    if auth == "api_key":
        headers["X-API-Key"] = credentials["api_key"]
    elif auth == "api_key_pair":
        headers.update({"X-Key-Id": credentials["api_key_id"], "X-Key-Secret": credentials["api_secret_key"]})
    elif auth == "basic":
        auth_obj = httpx.BasicAuth(credentials["username"], credentials["password"])

    calls: list[tuple[str, str, str, dict[str, Any] | None]] = [("GET", "/v1/instruments?query=A", "http_get_instruments.json", None)]
    if kind in ("market_data", "brokerage"):
        calls.append(("GET", "/v1/quotes?symbols=AAPL,MSFT", "http_get_quotes.json", None))
    if kind == "market_data":
        calls.append(("GET", "/v1/bars/AAPL?limit=5", "http_get_bars.json", None))
    elif kind == "data_service":
        calls += [("GET", "/v1/fundamentals/AAPL", "http_get_fundamentals.json", None), ("GET", "/v1/fx/EUR/USD", "http_get_fx.json", None)]
    elif kind == "brokerage":
        order = {"client_order_id": "captured-1", "symbol": "AAPL", "side": "buy", "type": "market", "tif": "day", "qty": "10"}
        calls += [
            ("POST", "/v1/orders", "http_post_orders.json", order),
            ("GET", "/v1/account", "http_get_account.json", None),
            ("GET", "/v1/positions", "http_get_positions.json", None),
        ]

    async def run() -> list[Path]:
        out: list[Path] = []
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://mock", headers=headers, auth=auth_obj) as client:
            if auth == "oauth2":
                token = await client.post(
                    "/oauth/token",
                    data={"grant_type": "client_credentials"},
                    auth=(credentials["client_id"], credentials["client_secret"]),
                )
                client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
            for method, path, filename, body in calls:
                response = await client.request(method, path, json=body)
                response.raise_for_status()
                target = root / "tests" / "data" / filename
                target.write_text(json.dumps(response.json(), indent=2) + "\n", encoding="utf-8")
                out.append(target)
        return out

    return asyncio.run(run())
