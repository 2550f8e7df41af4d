"""Fuzzing the ISO 20022 readers: arbitrary bytes and mutated statements never crash, never surprise.

Every outcome is a clean refusal with a reason (never an ``unexpected`` exception) or a load where
each element is accounted for.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

DATA = Path(__file__).resolve().parents[1] / "data" / "iso"
FUZZ = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
CASES = [
    ("camt053", "cash_flows", "camt053_001_08.xml"),
    ("camt053", "cash_balances", "camt053_001_02.xml"),
    ("semt002", "positions", "semt002_001_11.xml"),
    ("semt002", "positions", "semt002_001_02.xml"),
]


def _check(service, path: Path, fmt: str, data_type: str) -> None:
    result = service.importer.import_file(
        path, data_type, format=fmt, source_key=f"{path.name}-{path.stat().st_mtime_ns}-{path.stat().st_size}"
    )
    assert result.status in ("loaded", "partial", "failed", "duplicate")
    if result.status == "failed":
        assert result.error and "unexpected" not in result.error, result.error
    elif result.status != "duplicate":
        assert result.loaded + result.rejected + result.quarantined == result.records


@pytest.mark.parametrize(("fmt", "data_type", "name"), CASES)
@FUZZ
@given(
    cut=st.integers(min_value=0, max_value=4000),
    junk=st.binary(max_size=40),
    keep=st.integers(min_value=0, max_value=60),
)
def test_mutated_statements_never_crash(
    service, tmp_path: Path, fmt: str, data_type: str, name: str, cut: int, junk: bytes, keep: int
) -> None:
    original = (DATA / name).read_bytes()
    cut %= len(original)
    mutated = original[:cut] + junk + original[cut + keep :]
    path = tmp_path / "mutated.xml"
    path.write_bytes(mutated)
    _check(service, path, fmt, data_type)


@pytest.mark.parametrize(("fmt", "data_type", "name"), CASES)
@FUZZ
@given(
    text=st.one_of(
        st.text(alphabet="A1-.x éZ0", max_size=30),
        st.sampled_from(
            ["99999999999999999999", "1.123456789", "-5", "NaN", "Infinity", "1e5", "", "true", "2026-02-30"]
        ),
    )
)
def test_any_text_in_any_element_never_crashes(
    service, tmp_path: Path, fmt: str, data_type: str, name: str, text: str
) -> None:
    import re

    original = (DATA / name).read_text()
    values = list(re.finditer(r">([^<>\n]+)</", original))
    # each example replaces one element's text, chosen by the text's length
    target = values[len(text) * 7 % len(values)]
    mutated = original[: target.start(1)] + text + original[target.end(1) :]
    path = tmp_path / "mutated.xml"
    path.write_text(mutated, encoding="utf-8")
    _check(service, path, fmt, data_type)
