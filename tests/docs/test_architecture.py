"""The architecture page's layer list is the import-linter contract's, layer for layer, and every
package of core/ is in a layer (a new package must be placed, on the page and in the contract)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "sdk-docs" / "concepts" / "architecture.md"
LAYER_LINE = re.compile(r"^\d+\. `(?P<layer>portico[^`]*)`$")


def contract_layers() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (contract,) = [c for c in config["contracts"] if c["id"] == "layers"]
    return list(contract["layers"])


def page_layers(text: str) -> list[str]:
    return [m.group("layer") for line in text.splitlines() if (m := LAYER_LINE.match(line.strip()))]


def test_the_page_lists_the_contracts_layers_in_order() -> None:
    assert page_layers(PAGE.read_text(encoding="utf-8")) == contract_layers()


def test_the_comparison_notices_a_layer_out_of_place() -> None:
    text = "1. `portico.cli`\n2. `portico.runtime`\nsome prose\n3. `portico.gateway | portico.scaffold`\n"
    assert page_layers(text) == ["portico.cli", "portico.runtime", "portico.gateway | portico.scaffold"]
    assert page_layers(text) != contract_layers()


def test_every_core_package_is_in_a_layer() -> None:
    placed = {name.strip() for layer in contract_layers() for name in layer.split("|")}
    core = ROOT / "core"
    packages = {
        "portico." + (p.name if p.is_dir() else p.stem)
        for p in core.iterdir()
        if (p.is_dir() and (p / "__init__.py").exists()) or (p.suffix == ".py" and p.name != "__init__.py")
    }
    assert packages - placed == set(), "place each new package in a layer (pyproject.toml and the page)"
