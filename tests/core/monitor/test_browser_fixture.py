"""The browser fixture never installs anything: CI installs chromium (.ci/run); a missing one fails the
run in CI and is skipped, with the reason, elsewhere."""

from __future__ import annotations

from pathlib import Path

from .browser import chromium_verdict, find_chromium


def test_a_missing_chromium_fails_in_ci() -> None:
    verdict = chromium_verdict(None, {"CI": "true"})
    assert verdict is not None
    action, reason = verdict
    assert action == "fail"
    assert "chromium is not installed" in reason and ".ci/run" in reason


def test_a_missing_chromium_is_a_clear_skip_outside_ci() -> None:
    for env in ({}, {"CI": ""}, {"CI": "false"}):
        verdict = chromium_verdict(None, env)
        assert verdict is not None
        action, reason = verdict
        assert action == "skip"
        assert "chromium is not installed" in reason and "apt-get install -y chromium" in reason


def test_a_present_chromium_runs() -> None:
    assert chromium_verdict("/usr/bin/chromium", {"CI": "true"}) is None


def test_finding_chromium_only_looks(tmp_path: Path) -> None:
    asked: list[str] = []

    def which(name: str) -> str | None:
        asked.append(name)
        return None

    assert find_chromium(which=which, candidates=(tmp_path / "nothing",)) is None
    assert asked == ["chromium"]
    present = tmp_path / "chromium"
    present.write_text("")
    assert find_chromium(which=which, candidates=(present,)) == str(present)


def test_ci_installs_chromium_only_when_missing() -> None:
    script = (Path(__file__).resolve().parents[3] / ".ci" / "run").read_text()
    assert "command -v chromium" in script
    assert "apt-get update" in script and "apt-get install -y chromium" in script
    assert script.index("apt-get update") < script.index("apt-get install -y chromium")
