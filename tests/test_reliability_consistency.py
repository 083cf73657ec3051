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


def _mr_file(shared_data: Path) -> Path:
    return sorted(p for p in (shared_data / "mr").rglob("*") if p.is_file())[0]


def _restudied(src: Path, dst: Path, study_uid: str) -> Path:
    import pydicom

    ds = pydicom.dcmread(src)
    ds.StudyInstanceUID = study_uid
    dst.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(dst)
    return dst


def test_same_sop_uid_under_another_study_is_reported_and_leaves_no_empty_study(
    tmp_path: Path, db, shared_data: Path
) -> None:
    from sqlalchemy import func, select

    from auditdesk.dicom.index import import_paths
    from auditdesk.store.models import Image, Series, Study

    original = _restudied(
        _mr_file(shared_data), tmp_path / "a" / "one.dcm", "1.2.826.0.1.3680043.10.999.1"
    )
    first = import_paths(db, [original.parent], workers=1)
    assert first.added == 1
    copy = _restudied(original, tmp_path / "b" / "one.dcm", "1.2.826.0.1.3680043.10.999.2")
    second = import_paths(db, [copy.parent], workers=1)
    assert any("already indexed under another study" in m for _, m in second.notes)
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Study)) == 1
        assert s.scalar(select(func.count()).select_from(Series)) == 1
        assert s.scalar(select(Study.study_uid)) == "1.2.826.0.1.3680043.10.999.1"
    # The indexed file itself now says another study (its series stays): no empty study is left.
    _restudied(original, original, "1.2.826.0.1.3680043.10.999.3")
    import_paths(db, [original.parent], workers=1)
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Study)) == 1
        assert s.scalar(select(func.count()).select_from(Image)) == 1
        has_image = select(Image.id).where(Image.series_pk == Series.id).exists()
        assert s.scalar(select(func.count()).select_from(Series).where(~has_image)) == 0
