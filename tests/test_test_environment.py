"""The suite itself: it needs no tool that scripts/setup does not install, and nothing it
needs can make it skip silently in CI."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import skip_or_fail

TESTS = Path(__file__).resolve().parent
#: skips that are not about a missing tool: SIGKILL does not exist on Windows.
PLATFORM_SKIPS = {("test_audits.py", 'skipif(sys.platform == "win32", reason="SIGKILL is POSIX")')}
#: the reference-library (oracle) skips there are another change's business.
NOT_CHECKED_HERE = {"test_agreement.py"}
SKIP_CALL = re.compile(r"(pytest\.skip\(|importorskip\(|skipif\()[^\n]*")


def test_a_missing_resource_skips_locally_and_fails_in_ci(monkeypatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no data"):
        skip_or_fail("no data")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=r"no data.*CI is set"):
        skip_or_fail("no data")


def test_no_test_shells_out_to_pdftotext() -> None:
    """PDF text comes from pypdf (the dev extra), which setup installs; pdftotext it does not."""
    users = [p.name for p in TESTS.glob("*.py") if "pdftotext" in p.read_text(encoding="utf-8")]
    assert users == [p.name for p in [Path(__file__)]]  # only this test names it


def test_every_skip_is_ci_aware_or_about_the_platform() -> None:
    found = set()
    for path in sorted(TESTS.glob("*.py")):
        if path.name in NOT_CHECKED_HERE or path == Path(__file__):
            continue
        for match in SKIP_CALL.finditer(path.read_text(encoding="utf-8")):
            found.add((path.name, match.group(0).strip().removeprefix("@pytest.mark.")))
    # conftest.skip_or_fail is the one place that may skip, and it fails when CI is set.
    allowed = PLATFORM_SKIPS | {("conftest.py", "pytest.skip(reason)")}
    assert found <= allowed, sorted(found - allowed)


def test_no_test_times_itself() -> None:
    """Speed is measured in benchmarks/ against a same-run baseline, never asserted in a test
    (a loaded CI machine makes such an assertion flaky, a fast one makes it meaningless)."""
    timers = ("perf_counter", "time.time()", "process_time")
    users = sorted(
        p.name
        for p in TESTS.glob("*.py")
        if p != Path(__file__) and any(t in p.read_text(encoding="utf-8") for t in timers)
    )
    assert users == []
