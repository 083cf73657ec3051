"""Reviewer packages: two workstations' audits merged on a third, idempotent import, tampered /
damaged / foreign packages refused, conflicts reported with the local answer kept, the shared
site key, no patient data in the file, and agreement equal to one machine's (no Qt)."""

from __future__ import annotations

import gzip
import json
import re
import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select

from auditdesk.checklists.rules import answer_keys, item_for_key
from auditdesk.cli import main
from auditdesk.dicom.index import import_paths
from auditdesk.exchange.package import (
    REDACTED,
    PackageError,
    export_package,
    export_site_key,
    fingerprint,
    import_package,
    import_site_key,
)
from auditdesk.qi import site
from auditdesk.reading.auditing import AuditSession, find_checklist
from auditdesk.store import audits as store
from auditdesk.store import models as m
from auditdesk.store.db import ensure_site_secret, open_database

CHECKLIST = "acr-mammo-positioning"
RILEY = ("Riley Chen", "technologist", "RC")
SAM = ("Sam Lee", "team_leader", "SL")
AUDIT_TABLES = (
    m.Audit,
    m.AuditAnswer,
    m.AuditMeasurement,
    m.AuditScore,
    m.AuditOverride,
    m.AuditEvent,
    m.Reviewer,
    m.ChecklistVersion,
)


# --------------------------------------------------------------------------------------------
# workstations
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def indexed_template(tmp_path_factory: pytest.TempPathFactory, test_set) -> Path:
    """The test set indexed once; every workstation starts from a copy and makes a secret of
    its own (as a database does when first opened); with no audits, a site key replaces it."""
    folder = tmp_path_factory.mktemp("package")
    path = folder / "template.sqlite"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AUDITDESK_HOME", str(folder / "home"))
        db = open_database(f"sqlite:///{path}")
        import_paths(db, [test_set.root])
        with db.session() as session:
            assert session.scalar(select(func.count(m.SiteSecret.id))) == 1
        db.dispose()
    return path


@pytest.fixture
def workstation(tmp_path: Path, indexed_template: Path):
    """Factory: workstation('a') is a database of its own with the test set indexed."""
    opened = []

    def make(name: str):
        path = tmp_path / f"{name}.sqlite"
        shutil.copyfile(indexed_template, path)
        db = open_database(f"sqlite:///{path}")
        with db.transaction() as session:  # a workstation of its own makes its own secret
            session.execute(m.SiteSecret.__table__.delete())
        ensure_site_secret(db)
        opened.append(db)
        return db

    yield make
    for db in opened:
        db.dispose()


def _mammo_studies(db) -> list[tuple[int, str]]:
    with db.session() as session:
        rows = session.execute(
            select(m.Study.id, m.Study.study_uid)
            .where(m.Study.kind == "mammo")
            .order_by(m.Study.procedure_date)
        ).all()
    assert len(rows) == 2
    return [(pk, uid) for pk, uid in rows]


def _reviewer(db, who: tuple[str, str, str]) -> int:
    with db.transaction() as session:
        found = store.get_reviewer_by_name(session, who[0])
        return found.id if found else store.create_reviewer(session, *who).id


def _rmlo_image(db, study_pk: int) -> str:
    with db.session() as session:
        return session.scalar(
            select(m.Image.sop_uid)
            .join(m.Series, m.Series.id == m.Image.series_pk)
            .where(m.Series.study_pk == study_pk, m.Image.laterality == "R", m.Image.view == "MLO")
            .order_by(m.Image.id)
        )


def _audit(
    db,
    study_pk: int,
    who: tuple[str, str, str],
    *,
    fail: tuple[str, ...] = (),
    complete: bool = True,
    pnl_mm: float | None = 104.5,
    comment: str | None = None,
) -> int:
    """An ACR audit: every required pass/fail item 'pass' except ``fail``; a PNL measurement
    on the RMLO image (geometry carrying its SOP UID, as the workstation stores it)."""
    reviewer_pk = _reviewer(db, who)
    checklist = find_checklist(CHECKLIST)
    audit = AuditSession.start(db, study_pk=study_pk, reviewer_pk=reviewer_pk, checklist=checklist)
    for key in answer_keys(checklist):
        item = item_for_key(checklist, key)
        if item.required and item.type == "pass_fail":
            audit.answer(key, "fail" if key in fail else "pass")
    if pnl_mm is not None:
        sop_uid = _rmlo_image(db, study_pk)
        geometry = {
            "version": 1,
            "kind": "pnl_mlo",
            "points": [[10.0, 20.0], [30.0, 40.0], [50.0, 60.0]],
            "value_px": 1045.0,
            "value_mm": pnl_mm,
            "calibration_source": "imager_pixel_spacing",
            "extra": {},
            "sop_uid": sop_uid,
        }
        audit.measure(
            "RMLO:pnl_mm",
            value_px=1045.0,
            value_mm=pnl_mm,
            calibration_source="imager_pixel_spacing",
            sop_uid=sop_uid,
            geometry=geometry,
        )
    if comment:
        audit.comment(comment)
    if complete:
        audit.complete()
    return audit.audit_pk


def _share_key(source, *targets, tmp_path: Path) -> None:
    key = tmp_path / "site.adkey"
    with source.transaction() as session:
        export_site_key(session, key)
    for target in targets:
        with target.transaction() as session:
            import_site_key(session, key)


def _export(db, path: Path, **kwargs) -> int:
    with db.transaction() as session:
        return export_package(session, path, **kwargs)


def _import(db, path: Path):
    with db.transaction() as session:
        return import_package(session, path)


def _counts(db) -> dict[str, int]:
    with db.session() as session:
        return {t.__tablename__: session.scalar(select(func.count(t.id))) for t in AUDIT_TABLES}


def _history(db) -> list[tuple]:
    with db.session() as session:
        return [
            (e.audit_pk, e.kind, e.key, e.at, e.reviewer_pk, json.dumps(e.new_value))
            for e in session.scalars(select(m.AuditEvent).order_by(m.AuditEvent.id))
        ]


def _audits_by_exam(db) -> dict[tuple[str, str], store.AuditState]:
    """(exam key, reviewer name) -> audit state, so databases can be compared."""
    with db.session() as session:
        secret = site.site_secret(session)
        out = {}
        for audit in store.list_audits(session):
            study = session.get(m.Study, audit.study_pk)
            key = (site.exam_key(secret, study.study_uid), audit.reviewer.name)
            out[key] = store.audit_state(session, audit.id)
        return out


def _comparable(state: store.AuditState) -> dict:
    return {
        "status": state.status,
        "comment": state.comment,
        "started_at": state.started_at,
        "completed_at": state.completed_at,
        "answers": state.answers,
        "reason_codes": state.reason_codes,
        "sources": state.answer_sources,
        "measurements": {
            k: (v.value_mm, v.value_px, v.calibration_source, v.sop_uid, v.geometry, v.measured_at)
            for k, v in state.measurements.items()
        },
        "meets_criteria": state.meets_criteria,
        "grade": state.grade,
        "result": state.score.result if state.score else None,
        "complete": state.score.complete if state.score else None,
        "overrides": [(o.field, o.value, o.reviewer_name, o.reason) for o in state.overrides],
    }


@pytest.fixture
def site_abc(workstation, tmp_path: Path):
    """Workstations A and B of one site (B and C took A's key): Riley audits on A (exam 2 fails
    RMLO:imf_open), Sam on B (exam 2 also fails LCC:no_motion)."""
    a, b, c = workstation("a"), workstation("b"), workstation("c")
    _share_key(a, b, c, tmp_path=tmp_path)
    (s1, _), (s2, _) = _mammo_studies(a)
    _audit(a, s1, RILEY, comment="nice work")
    _audit(a, s2, RILEY, fail=("RMLO:imf_open",))
    with a.transaction() as session:
        reviewer_pk = store.get_reviewer_by_name(session, RILEY[0]).id
        audit_pk = store.list_audits(session, study_pk=s2)[0].id
        store.set_override(session, audit_pk, "grade", "P", reviewer_pk, "fold is minor")
    _audit(b, s1, SAM, pnl_mm=101.0)
    _audit(b, s2, SAM, fail=("RMLO:imf_open", "LCC:no_motion"))
    return a, b, c


# --------------------------------------------------------------------------------------------
# site key
# --------------------------------------------------------------------------------------------


def test_site_key_makes_exam_keys_match(workstation, tmp_path: Path) -> None:
    a, b = workstation("a"), workstation("b")
    with a.transaction() as sa, b.transaction() as sb:
        sa_secret, sb_secret = site.site_secret(sa), site.site_secret(sb)
    assert sa_secret != sb_secret  # each database starts with a secret of its own
    key = tmp_path / "site.adkey"
    with a.transaction() as session:
        site.save_site(session, site.SiteSettings(site_name="Riverbend Clinic", site_id="RBC01"))
        export_site_key(session, key)
    assert key.stat().st_mode & 0o077 == 0  # owner only
    with b.transaction() as session:
        import_site_key(session, key)
        import_site_key(session, key)  # the same key again: nothing to do
    with a.session() as sa, b.session() as sb:
        assert site.site_secret(sa) == site.site_secret(sb)
        assert site.get_site(sb).site_id == "RBC01"
        assert site.get_site(sb).site_name == "Riverbend Clinic"
        uid = _mammo_studies(a)[0][1]
        assert site.exam_key(site.site_secret(sa), uid) == site.exam_key(site.site_secret(sb), uid)


def test_site_key_does_not_replace_a_secret_in_use_unless_forced(
    workstation, tmp_path: Path
) -> None:
    a, b = workstation("a"), workstation("b")
    _audit(b, _mammo_studies(b)[0][0], SAM)
    with b.transaction() as session:
        site.site_secret(session)
    key = tmp_path / "a.adkey"
    with a.transaction() as session:
        export_site_key(session, key)
    refused = r"different site key and 1 audit.*no longer match"
    with pytest.raises(PackageError, match=refused), b.transaction() as session:
        import_site_key(session, key)
    with b.transaction() as session:
        import_site_key(session, key, force=True)
    with a.session() as sa, b.session() as sb:
        assert site.site_secret(sa) == site.site_secret(sb)


def test_a_damaged_site_key_is_refused(workstation, tmp_path: Path) -> None:
    a = workstation("a")
    key = tmp_path / "site.adkey"
    with a.transaction() as session:
        export_site_key(session, key)
    data = json.loads(key.read_text())
    data["secret"] = data["secret"][:-8] + "AAAAAAA="
    key.write_text(json.dumps(data))
    with pytest.raises(PackageError, match="damaged"), a.transaction() as session:
        import_site_key(session, key)
    key.write_text("not json")
    not_a_key = "not an AuditDesk site-key file"
    with pytest.raises(PackageError, match=not_a_key), a.transaction() as session:
        import_site_key(session, key)


# --------------------------------------------------------------------------------------------
# merging
# --------------------------------------------------------------------------------------------


def test_two_workstations_merged_on_a_third(site_abc, tmp_path: Path) -> None:
    a, b, c = site_abc
    pa, pb = tmp_path / "riley.adpkg", tmp_path / "sam.adpkg"
    assert _export(a, pa) == 2
    assert _export(b, pb) == 2

    ra = _import(c, pa)
    rb = _import(c, pb)
    assert (ra.added, ra.updated, ra.unchanged, ra.conflicts, ra.missing_exams) == (2, 0, 0, [], [])
    assert (rb.added, rb.updated, rb.unchanged, rb.conflicts, rb.missing_exams) == (2, 0, 0, [], [])
    assert ra.reviewers_created == ["Riley Chen"] and rb.reviewers_created == ["Sam Lee"]

    merged = _audits_by_exam(c)
    originals = {**_audits_by_exam(a), **_audits_by_exam(b)}
    assert set(merged) == set(originals) and len(merged) == 4
    for key, state in originals.items():
        assert _comparable(merged[key]) == _comparable(state), key
    # the history came along (who and when), the score was recomputed here
    for key, state in originals.items():
        theirs = [(h.kind, h.key, h.at, h.reviewer_name) for h in state.history]
        ours = [(h.kind, h.key, h.at, h.reviewer_name) for h in merged[key].history]
        assert [h for h in ours if h[0] != "rescore"] == [h for h in theirs if h[0] != "rescore"]
    with c.session() as session:
        reviewer = store.get_reviewer_by_name(session, SAM[0])
        assert (reviewer.role, reviewer.initials) == SAM[1:]

    # twice = once: no new rows, no new history
    before, history = _counts(c), _history(c)
    again = [_import(c, pa), _import(c, pb)]
    assert [(r.added, r.updated, r.unchanged, r.conflicts) for r in again] == [(0, 0, 2, [])] * 2
    assert _counts(c) == before and _history(c) == history
    # a workstation importing its own package: all unchanged
    own = _import(a, pa)
    assert (own.added, own.updated, own.unchanged) == (0, 0, 2)


def test_exams_not_indexed_here_are_listed_not_an_error(site_abc, tmp_path: Path) -> None:
    a, _b, c = site_abc
    pa = tmp_path / "riley.adpkg"
    _export(a, pa)
    (s1, _), _ = _mammo_studies(c)
    with c.transaction() as session:  # exam 1 was never indexed on C
        session.execute(
            m.Study.__table__.update().values(study_uid="9.9.9").where(m.Study.id == s1)
        )
    report = _import(c, pa)
    assert report.added == 1 and len(report.missing_exams) == 1
    assert report.missing_exams[0].startswith("EX-")


def test_export_filters_by_reviewer_and_procedure_date(site_abc, tmp_path: Path) -> None:
    import datetime as dt

    a, _b, _c = site_abc
    with a.session() as session:
        riley = store.get_reviewer_by_name(session, RILEY[0]).id
    assert _export(a, tmp_path / "1.adpkg", reviewer_pks=[riley]) == 2
    assert _export(a, tmp_path / "2.adpkg", reviewer_pks=[riley + 99]) == 0
    assert _export(a, tmp_path / "3.adpkg", start=dt.date(2026, 3, 2)) == 1
    assert _export(a, tmp_path / "4.adpkg", end=dt.date(2026, 3, 1)) == 1


def test_a_conflicting_local_answer_is_reported_and_kept(site_abc, tmp_path: Path) -> None:
    a, _b, c = site_abc
    pa = tmp_path / "riley.adpkg"
    _export(a, pa)
    (s1, _), (s2, _) = _mammo_studies(c)
    # Riley also started exam 1 on C and answered one item differently, left it in progress
    pk = _audit(c, s1, RILEY, fail=("RCC:no_motion",), complete=False, pnl_mm=None)
    with c.transaction() as session:
        reviewer_pk = store.get_reviewer_by_name(session, RILEY[0]).id
        store.set_answer(session, pk, "LMLO:labelling", None, reviewer_pk)  # unanswered here
    # ... and opened exam 2 without answering anything yet
    empty = _audit(c, s2, RILEY, complete=False, pnl_mm=None, fail=())
    with c.transaction() as session:
        for key in list(store.audit_state(session, empty).answers):
            store.set_answer(session, empty, key, None, reviewer_pk)

    report = _import(c, pa)
    assert (report.added, report.updated, report.unchanged) == (0, 2, 0)
    assert report.reviewers_created == []
    conflict = [line for line in report.conflicts if "RCC:no_motion" in line]
    assert len(conflict) == 1
    assert "this workstation has 'fail' (Riley Chen), the package has 'pass'" in conflict[0]
    assert "kept the local answer" in conflict[0]
    assert any("stays in progress" in line for line in report.conflicts)
    with c.session() as session:
        kept = store.audit_state(session, pk)
        filled = store.audit_state(session, empty)
    assert kept.answers["RCC:no_motion"] == "fail"  # local kept
    assert kept.answers["LMLO:labelling"] == "pass"  # only in the package: added
    assert kept.measurements["RMLO:pnl_mm"].value_mm == 104.5  # only in the package: added
    assert kept.status == "in_progress"  # not completed over a conflict
    # the empty local audit was filled and completed, as on A
    original = _audits_by_exam(a)
    key = next(k for k in original if original[k].study_pk == s2)
    assert filled.answers == original[key].answers
    assert filled.status == "complete" and filled.grade == "P"
    # again: the same conflict, nothing written
    before, history = _counts(c), _history(c)
    again = _import(c, pa)
    assert (again.updated, again.unchanged) == (0, 2) and again.conflicts == report.conflicts
    assert _counts(c) == before and _history(c) == history


def test_a_newer_package_updates_what_an_earlier_one_brought(site_abc, tmp_path: Path) -> None:
    a, _b, c = site_abc
    first, second = tmp_path / "1.adpkg", tmp_path / "2.adpkg"
    _export(a, first)
    _import(c, first)
    (s1, _), _ = _mammo_studies(a)
    with a.transaction() as session:  # Riley corrects an answer after the first package
        pk = store.list_audits(session, study_pk=s1)[0].id
        reviewer_pk = store.get_reviewer_by_name(session, RILEY[0]).id
    AuditSession(a, pk, reviewer_pk).answer("RCC:exposure", "fail")
    _export(a, second)
    report = _import(c, second)
    assert (report.updated, report.unchanged, report.conflicts) == (1, 1, [])
    merged, original = _audits_by_exam(c), _audits_by_exam(a)
    for key, state in original.items():
        assert merged[key].answers == state.answers
        assert merged[key].meets_criteria == state.meets_criteria


# --------------------------------------------------------------------------------------------
# refused packages
# --------------------------------------------------------------------------------------------


def _rewrite(path: Path, change) -> None:
    document = json.loads(gzip.decompress(path.read_bytes()))
    change(document)
    path.write_bytes(gzip.compress(json.dumps(document).encode()))


def test_a_tampered_package_is_rejected(site_abc, tmp_path: Path) -> None:
    a, _b, c = site_abc
    path = tmp_path / "riley.adpkg"
    _export(a, path)

    def flip(document):
        answer = document["payload"]["audits"][1]["answers"][0]
        answer["value"] = "pass" if answer["value"] == "fail" else "fail"

    _rewrite(path, flip)
    before = _counts(c)
    with pytest.raises(PackageError, match="changed after it was exported"):
        _import(c, path)
    assert _counts(c) == before


def test_a_damaged_file_is_rejected(site_abc, tmp_path: Path) -> None:
    a, _b, c = site_abc
    path = tmp_path / "riley.adpkg"
    _export(a, path)
    data = path.read_bytes()
    cases = {
        "truncated.adpkg": data[: len(data) // 2],
        "garbage.adpkg": b"PK\x03\x04 this is not a package at all",
        "empty.adpkg": b"",
        "text.adpkg": gzip.compress(b"hello"),
        "other.adpkg": gzip.compress(json.dumps({"payload": {"kind": "x"}}).encode()),
    }
    for name, content in cases.items():
        bad = tmp_path / name
        bad.write_bytes(content)
        with pytest.raises(PackageError, match="damaged or not an AuditDesk package"):
            _import(c, bad)
    with pytest.raises(PackageError, match="Cannot read"):
        _import(c, tmp_path / "missing.adpkg")
    newer = tmp_path / "newer.adpkg"
    shutil.copyfile(path, newer)
    _rewrite(newer, lambda d: d["payload"].update(format=99))
    with pytest.raises(PackageError, match="newer AuditDesk"):
        _import(c, newer)
    assert _counts(c)["audits"] == 0


def test_a_package_from_another_site_is_rejected(workstation, site_abc, tmp_path: Path) -> None:
    a, _b, _c = site_abc
    other = workstation("other")  # its own secret
    with other.transaction() as session:
        site.save_site(session, site.SiteSettings(site_name="Elsewhere", site_id="ELS02"))
    _audit(other, _mammo_studies(other)[0][0], SAM)
    path = tmp_path / "other.adpkg"
    _export(other, path)
    with pytest.raises(PackageError, match=r"from another site \(ELS02\)"):
        _import(a, path)
    with a.session() as session:
        assert store.get_reviewer_by_name(session, SAM[0]) is None


# --------------------------------------------------------------------------------------------
# no patient data
# --------------------------------------------------------------------------------------------


def test_no_patient_data_in_a_package(site_abc, test_set, tmp_path: Path, phi_values) -> None:
    a, _b, _c = site_abc
    path = tmp_path / "riley.adpkg"
    _export(a, path)
    text = gzip.decompress(path.read_bytes())
    payload = json.loads(text)["payload"]
    assert payload["audits"][0]["measurements"][0]["image"]["label"] == "RMLO"
    assert "sop_uid" not in text.decode()
    phi = phi_values
    assert len(phi) > 20
    for value in phi:
        assert value.encode() not in text, f"{value!r} found in the package"
        assert value.encode() not in path.read_bytes()


def test_an_identifier_typed_into_a_comment_stops_the_export(site_abc, tmp_path: Path) -> None:
    a, _b, _c = site_abc
    (s1, _), _ = _mammo_studies(a)
    with a.transaction() as session:
        accession = session.get(m.Study, s1).accession_number
        pk = store.list_audits(session, study_pk=s1)[0].id
        reviewer_pk = store.get_reviewer_by_name(session, RILEY[0]).id
        store.set_comment(session, pk, f"see accession {accession}", reviewer_pk)
    path = tmp_path / "leak.adpkg"
    with pytest.raises(PackageError, match="contains a patient identifier"):
        _export(a, path)
    assert not path.exists()
    # corrected: the history still holds the old comment, which is redacted in the package
    with a.transaction() as session:
        store.set_comment(session, pk, "see the accession", reviewer_pk)
    assert _export(a, path) == 2
    text = gzip.decompress(path.read_bytes()).decode()
    assert accession not in text and f"see accession {REDACTED}" in text


# --------------------------------------------------------------------------------------------
# agreement: merged on C == computed on one machine
# --------------------------------------------------------------------------------------------


def test_merged_agreement_equals_one_machine(site_abc, workstation, tmp_path: Path) -> None:
    from auditdesk.review import agreement

    a, b, c = site_abc
    _import(c, _export_to(a, tmp_path / "a.adpkg"))
    _import(c, _export_to(b, tmp_path / "b.adpkg"))
    # the same two reviewers' audits recorded directly on one machine
    d = workstation("d")
    (s1, _), (s2, _) = _mammo_studies(d)
    _audit(d, s1, RILEY, comment="nice work")
    _audit(d, s2, RILEY, fail=("RMLO:imf_open",))
    with d.transaction() as session:
        reviewer_pk = store.get_reviewer_by_name(session, RILEY[0]).id
        audit_pk = store.list_audits(session, study_pk=s2)[0].id
        store.set_override(session, audit_pk, "grade", "P", reviewer_pk, "fold is minor")
    _audit(d, s1, SAM, pnl_mm=101.0)
    _audit(d, s2, SAM, fail=("RMLO:imf_open", "LCC:no_motion"))

    flt = agreement.AgreementFilter(checklist_id=CHECKLIST)
    with c.session() as sc, d.session() as sd:
        merged = agreement.agreement_report(sc, flt)
        single = agreement.agreement_report(sd, flt)
    assert merged, "the report should have rows"
    assert repr(merged) == repr(single)


def _export_to(db, path: Path) -> Path:
    _export(db, path)
    return path


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------


def test_cli_key_export_and_import(site_abc, workstation, tmp_path: Path, capsys) -> None:
    a, _b, _c = site_abc
    e = workstation("e")
    key, pkg = tmp_path / "site.adkey", tmp_path / "riley.adpkg"
    assert main(["--db", a.url, "package", "export-key", "-o", str(key)]) == 0
    assert main(["--db", e.url, "package", "import-key", str(key)]) == 0
    out = capsys.readouterr().out
    with a.session() as session:
        assert fingerprint(site.site_secret(session)) in out
    assert main(["--db", a.url, "package", "export", "-o", str(pkg)]) == 0
    assert "Wrote 2 audit(s)" in capsys.readouterr().out
    assert main(["--db", a.url, "package", "export", "-o", str(tmp_path / "x.zip")]) == 2
    assert main(["--db", a.url, "package", "export", "-o", str(pkg), "--reviewer", "Nobody"]) == 2
    assert main(["--db", e.url, "package", "import", str(pkg)]) == 0
    assert "2 added, 0 updated, 0 unchanged" in capsys.readouterr().out
    assert main(["--db", e.url, "package", "import", str(pkg), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["added"], report["unchanged"]) == (0, 2)
    bad = tmp_path / "bad.adpkg"
    bad.write_bytes(b"nonsense")
    assert main(["--db", e.url, "package", "import", str(bad)]) == 2
    assert "damaged or not an AuditDesk package" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------
# answers the checklist cannot take (issue 12, point 2)
# --------------------------------------------------------------------------------------------


def _resign(a, path: Path, change) -> None:
    """Change a package's payload and sign it again with the site key, as a buggy or older
    workstation of the same site could have written it (the signature is valid)."""
    from auditdesk.exchange.package import read_package, write_package

    with a.session() as session:
        secret = site.site_secret(session)
    payload = read_package(path, secret)
    change(payload)
    write_package(path, payload, secret)


def test_a_package_with_an_invalid_answer_is_refused_whole(site_abc, tmp_path: Path) -> None:
    a, _b, c = site_abc
    path = tmp_path / "riley.adpkg"
    _export(a, path)

    def spoil(payload):
        second = payload["audits"][1]["answers"]
        second[0]["value"] = "maybe"
        second.append({**second[1], "key": "BOGUS:no_such_item", "value": "maybe"})

    _resign(a, path, spoil)
    before = _counts(c)
    with pytest.raises(PackageError) as caught:
        _import(c, path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("The package cannot be imported, nothing was written")
    version = find_checklist(CHECKLIST).version
    assert f"Riley Chen's review audit ('acr-mammo-positioning' {version})" in message
    assert "'maybe' is not an option of this item; valid options: pass, fail, na" in message
    assert "BOGUS:no_such_item: no such answer key" in message
    assert _counts(c) == before  # the first audit, which is valid, is not imported either
    code = main(["--db", c.url, "package", "import", str(path)])
    assert code == 2 and _counts(c) == before


def test_a_package_merged_into_an_audit_of_another_version_must_fit_it(
    site_abc, tmp_path: Path
) -> None:
    """C's own audit of the exam by the same reviewer was started with a version 9.9 that
    renamed RMLO/LMLO imf_open: the package's imf_open answers cannot be mapped into it."""
    from auditdesk.checklists.loader import parse_checklist_text

    a, _b, c = site_abc
    path = tmp_path / "riley.adpkg"
    _export(a, path)
    text = find_checklist(CHECKLIST).source_text
    renamed = re.sub(r'(?m)^version = "[^"]*"', 'version = "9.9"', text, count=1)
    renamed = renamed.replace('id = "imf_open"', 'id = "imf_visible"', 1)
    (_s1, _), (s2, _) = _mammo_studies(c)
    AuditSession.start(
        c, study_pk=s2, reviewer_pk=_reviewer(c, RILEY), checklist=parse_checklist_text(renamed)
    ).answer("RMLO:imf_visible", "pass")
    before = _counts(c)
    with pytest.raises(PackageError) as caught:
        _import(c, path)
    message = str(caught.value)
    assert "to merge into the audit here: LMLO:imf_open: no such answer key" in message
    assert "; RMLO:imf_open: no such answer key" in message
    assert "nearest valid keys: RMLO:imf_visible" in message
    assert "cannot be mapped to 'acr-mammo-positioning' 9.9" in message
    assert _counts(c) == before
