"""Demo audits: a site, mapped technologists, weekly samples and ground-truth-driven audits."""

from __future__ import annotations

from collections import defaultdict

import pytest
from sqlalchemy import select

from auditdesk.qi import sampling, site
from auditdesk.reading.worklist import week_start
from auditdesk.store import audits as store
from auditdesk.store.models import Audit, AuditEvent, Study


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory):
    """A 10-week demo (2 mammograms a week, no MR) indexed and filled once for the module."""
    from auditdesk.demo.audits import fill_demo_audits
    from auditdesk.demo.generator import generate_demo
    from auditdesk.dicom.index import import_paths
    from auditdesk.store.db import open_database

    root = tmp_path_factory.mktemp("demo")
    manifest = generate_demo(root / "data", weeks=10, mammo_per_week=2, mr_exams=0, size=(320, 260))
    db = open_database(f"sqlite:///{root / 'demo.sqlite'}")
    import_paths(db, [manifest.root])
    counts = fill_demo_audits(db, manifest=manifest.root)  # speed: benchmarks/bench_workflow.py
    yield db, manifest, counts
    db.dispose()


def _complete_audits(db) -> list[tuple[int, int, int]]:
    with db.session() as s:
        rows = s.execute(
            select(Audit.id, Audit.study_pk, Audit.reviewer_pk)
            .where(Audit.status == "complete", Audit.checklist_id == "acr-mammo-positioning")
            .order_by(Audit.id)
        )
        return [(a, b, c) for a, b, c in rows]


def test_ten_weeks_of_complete_audits(demo) -> None:
    db, _manifest, counts = demo
    assert counts["weeks_audited"] == 10
    audits = _complete_audits(db)
    with db.session() as s:
        dates = {pk: d for pk, d in s.execute(select(Study.id, Study.procedure_date))}
    weeks = {week_start(dates[study_pk]) for _a, study_pk, _r in audits}
    assert len(weeks) >= 10
    assert counts["audits"] == len(audits)
    # Every audited exam is in its week's stored sample, and every week has a sample.
    with db.session() as s:
        assert len(sampling.sample_weeks(s)) == 10
        sampled = sampling.sample_study_pks(s)
        for week in sampling.sample_weeks(s):
            assert sampling.sample_plan(s, week).seed is not None
    assert {study_pk for _a, study_pk, _r in audits} <= sampled


def test_site_technologists_and_annotations(demo) -> None:
    db, _manifest, counts = demo
    with db.session() as s:
        settings = site.get_site(s)
        assert settings.is_demo
        assert settings.site_name == "AuditDesk Demo Site"
        assert settings.site_id == "DEMO01"
        assert settings.goal_pct == 85
        resolve = site.technologist_resolver(s)
        assert resolve("J.S.") == resolve("SMITH^JANE") == "Jane Smith"
        assert resolve("DOE^A") == "Alex Doe"
        assert not [name for name, _n in site.unmapped_operator_names(s) if name.strip()]
        notes = site.list_annotations(s)
        assert len(notes) == 2
        assert [n.starts_phase for n in notes] == [False, True]
        roles = sorted(r.role for r in store.list_reviewers(s))
    assert roles == ["team_leader", "technologist", "technologist"]
    assert counts["annotations"] == 2


def test_double_reads_disagree_a_little(demo) -> None:
    db, _manifest, counts = demo
    by_study: dict[int, list[int]] = defaultdict(list)
    for audit_pk, study_pk, _reviewer in _complete_audits(db):
        by_study[study_pk].append(audit_pk)
    doubles = [pks for pks in by_study.values() if len(pks) > 1]
    assert doubles and counts["double_read"] == len(doubles)
    assert 0.1 <= len(doubles) / len(by_study) <= 0.35
    differing = 0
    with db.session() as s:
        for first, second in doubles:
            a, b = store.audit_state(s, first), store.audit_state(s, second)
            assert a.reviewer_pk != b.reviewer_pk
            changed = [k for k in a.answers if a.answers[k] != b.answers.get(k)]
            differing += bool(changed)
            assert len(changed) <= 10  # mostly agreement
    assert differing >= 1


def test_answers_follow_the_ground_truth(demo) -> None:
    db, manifest, counts = demo
    truth = {g.study_uid: g.truth for g in manifest.studies}
    dates = {g.study_uid: g.procedure_date for g in manifest.studies}
    fails = {"good": [], "poor": []}
    with db.session() as s:
        uids = {pk: u for pk, u in s.execute(select(Study.id, Study.study_uid))}
        for audit_pk, study_pk, _r in _complete_audits(db):
            state = store.audit_state(s, audit_pk, include_history=False)
            effective = state.score.result["effective_answers"]
            n_fail = sum(v == "fail" for v in effective.values())
            t = truth[uids[study_pk]]
            fails["good" if t["quality"] == "good" else "poor"].append(n_fail)
            # The PNL measurements are the true lengths, within a reviewer's few millimetres.
            for view in ("RCC", "RMLO"):
                measured = state.measurements[f"{view}:pnl_mm"]
                assert measured.calibration_source == "imager_pixel_spacing"
                assert abs(measured.value_mm - t["views"][view]["pnl_mm"]) < 8
            if t["quality"] == "poor_pectoral":
                side_gaps = [b["pectoral_to_pnl_mm"] for b in t["breasts"].values()]
                if max(side_gaps) > 12:
                    assert state.meets_criteria is False
            # History is kept: every answer has its event.
            events = s.scalars(
                select(AuditEvent).where(
                    AuditEvent.audit_pk == audit_pk, AuditEvent.kind == "answer"
                )
            ).all()
            assert len(events) >= len(state.answers)
            # Audited a few days after the exam, not at the moment the demo was filled.
            assert state.completed_at is not None
            assert 0 < (state.completed_at.date() - dates[uids[study_pk]]).days <= 7
    mean = {k: sum(v) / len(v) for k, v in fails.items()}
    assert mean["poor"] > mean["good"] + 1
    assert counts["learning_flags"] >= 1


def test_running_twice_adds_nothing(demo) -> None:
    from auditdesk.demo.audits import fill_demo_audits

    db, manifest, _counts = demo
    before = _complete_audits(db)
    again = fill_demo_audits(db, manifest=manifest)
    assert again["audits_created"] == 0
    assert _complete_audits(db) == before
    with db.session() as s:
        assert len(site.list_annotations(s)) == 2
        assert len(store.list_reviewers(s)) == 3
        assert len(site.list_technologists(s)) == 3
        assert len(sampling.sample_weeks(s)) == 10
