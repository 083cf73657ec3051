"""Consistency: ``checklist validate`` refuses what ``checklist list`` refuses."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from auditdesk.checklists.loader import load_all
from auditdesk.cli import main


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_validate_refuses_a_shipped_id_and_version_with_other_content(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    shipped = load_all().get("pgmi")
    assert shipped is not None
    text = Path(shipped.origin).read_text()
    edited = re.sub(r'(?m)^title = "([^"]*)"', r'title = "\1 (edited)"', text, count=1)
    assert edited != text
    path = tmp_path / "pgmi-edited.toml"
    path.write_text(edited)
    code, out, _ = _run(capsys, "checklist", "validate", str(path))
    assert code == 1
    assert f"version {shipped.version} already exists" in out
    # ... exactly what `checklist list` says once the file sits in the site folder.
    from auditdesk.checklists.loader import site_dir

    site_dir().mkdir(parents=True, exist_ok=True)
    (site_dir() / path.name).write_text(edited)
    code, _, err = _run(capsys, "checklist", "list")
    assert code == 1 and f"version {shipped.version} already exists" in err
    # The unchanged shipped text, or the same text with a new version, passes.
    code, out, _ = _run(capsys, "checklist", "validate", shipped.origin)
    assert code == 0 and "OK" in out
    bumped = tmp_path / "pgmi-new.toml"
    bumped.write_text(re.sub(r'(?m)^version = "[^"]*"', 'version = "99.0"', edited, count=1))
    code, out, _ = _run(capsys, "checklist", "validate", str(bumped))
    assert code == 0 and "OK" in out
