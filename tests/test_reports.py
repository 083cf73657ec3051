"""Weekly and technologist-feedback reports: the right numbers, the site name, no PHI, and in
the feedback report nobody else's name. The HTML is checked directly, and the PDF's text as
pypdf extracts it (Qt compresses the PDF, so its raw bytes say nothing)."""

from __future__ import annotations

import datetime as dt
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from auditdesk.checklists.rules import answer_keys, item_for_key
from auditdesk.checklists.schema import PassFailItem
from auditdesk.qi import measures, site
from auditdesk.reading.auditing import find_checklist, snapshot_checklist
from auditdesk.reading.worklist import week_start
from auditdesk.store import audits as store
from auditdesk.store.models import Audit, AuditScore, Patient, Study
from phi_scan import find_phi, pdf_text

pytestmark = pytest.mark.gui

SITE_NAME = "Riverside Breast Center"
TECHS = {"SMITH^JANE": "Jane Smith", "DOE^ANN": "Ann Doe", "ROE^SAM": "Sam Roe"}
WEEKS = 12
PER_TECH = 4


@dataclass
class QIFixture:
    db: object
    start: dt.date
    end: dt.date
    phi: list[str] = field(default_factory=list)
    technologists: list[str] = field(default_factory=list)
    evaluators: list[str] = field(default_factory=list)


def build_qi_db(db, *, demo: bool = True, seed: int = 5) -> QIFixture:
    """Twelve weeks (ending this week) of complete audits for three technologists, written
    straight into the tables exam_results reads (fast: no per-answer re-scoring)."""
    rng = random.Random(seed)
    checklist = find_checklist("acr-mammo-positioning")
    keys = [
        k for k in answer_keys(checklist) if isinstance(item_for_key(checklist, k), PassFailItem)
    ]
    first = week_start(dt.date.today()) - dt.timedelta(weeks=WEEKS - 1)
    fixture = QIFixture(db, first, dt.date.today())
    with db.transaction() as s:
        site.save_site(
            s,
            site.SiteSettings(
                site_name=SITE_NAME,
                site_id="RBC01",
                collaborative="ACR Learning Network — Mammography Positioning",
                goal_pct=85.0,
                is_demo=demo,
            ),
        )
        for raw, name in TECHS.items():
            info = site.add_technologist(s, name, "".join(p[0] for p in name.split()))
            site.add_alias(s, info.id, raw)
        lead = store.create_reviewer(s, "Rita Lead", "team_leader", "RL")
        coach = store.create_reviewer(s, "Carl Coach", "coach", "CC")
        fixture.evaluators = [lead.name, coach.name]
        version = snapshot_checklist(s, checklist)
        n = 0
        for week in range(WEEKS):
            for raw in TECHS:
                for k in range(PER_TECH):
                    n += 1
                    day = first + dt.timedelta(weeks=week, days=(k * 2) % 6)
                    if day > dt.date.today():
                        day = first + dt.timedelta(weeks=week)
                    pid, acc, uid = f"PID{n:05d}X", f"ACC{n:06d}Q", f"1.2.826.0.1.3680043.99.{n}"
                    fixture.phi += [pid, acc, uid]
                    patient = Patient(patient_id=pid)
                    s.add(patient)
                    s.flush()
                    study = Study(
                        study_uid=uid,
                        patient_pk=patient.id,
                        accession_number=acc,
                        procedure_date=day,
                        kind="mammo",
                        technologist=raw,
                    )
                    s.add(study)
                    s.flush()
                    p_fail = 0.45 if week < 6 else 0.15
                    answers = {key: "pass" for key in keys}
                    if rng.random() < p_fail:
                        answers[rng.choice(keys)] = "fail"
                    meets = "fail" not in answers.values()
                    readers = [lead] + ([coach] if n % 9 == 0 else [])
                    for reader in readers:
                        done = dt.datetime.combine(day, dt.time(12)) + dt.timedelta(
                            minutes=readers.index(reader)
                        )
                        audit = Audit(
                            study_pk=study.id,
                            reviewer_pk=reader.id,
                            checklist_version_pk=version.id,
                            checklist_id=checklist.id,
                            status="complete",
                            completed_at=done,
                            learning_opportunity=not meets and n % 2 == 0,
                        )
                        s.add(audit)
                        s.flush()
                        s.add(
                            AuditScore(
                                audit_pk=audit.id,
                                checklist_version_pk=version.id,
                                result={"effective_answers": answers},
                                meets_criteria=meets,
                                complete=True,
                            )
                        )
    fixture.technologists = list(TECHS.values())
    return fixture


@pytest.fixture
def qi(db) -> QIFixture:
    return build_qi_db(db)


def _results(fx: QIFixture) -> list[measures.ExamResult]:
    from auditdesk.ui.qi.reports import load_qi_data

    with fx.db.session() as s:
        return load_qi_data(s, start=fx.start, end=fx.end).results


def test_weekly_html_has_the_weeks_numbers_and_no_phi(qtbot, qi) -> None:
    from auditdesk.ui.qi.reports import weekly_report_html

    results = _results(qi)
    assert len(results) == WEEKS * len(TECHS) * PER_TECH  # double reads count once
    last = max(r.week_start for r in results)
    mine = [r for r in results if r.week_start == last]
    text = weekly_report_html(qi.db, week=last, start=qi.start, end=qi.end)
    assert SITE_NAME in text
    assert "DEMO DATA" in text
    met = sum(r.meets for r in mine)
    assert f"Exams meeting criteria: {met} of {len(mine)} audited" in text
    low, high = measures.wilson(met, len(mine))
    assert f"{low * 100:.1f}–{high * 100:.1f} %" in text
    for name in TECHS.values():  # roll-up by technologist uses canonical names
        assert name in text
    for header in ("By criterion", "By technologist", "By evaluator", "By location"):
        assert header in text
    for value in qi.phi:
        assert value not in text


def test_weekly_report_pdf(qtbot, qi, tmp_path: Path) -> None:
    from auditdesk.ui.qi.reports import write_weekly_report

    out = tmp_path / "weekly.pdf"
    write_weekly_report(qi.db, out, start=qi.start, end=qi.end)
    data = out.read_bytes()
    assert data.startswith(b"%PDF")
    assert len(data) > 20_000  # the chart image is in it
    text = pdf_text(out)
    assert SITE_NAME in text
    assert "DEMO DATA" in text
    assert find_phi(out, qi.phi) == []


def test_feedback_names_only_that_technologist(qtbot, qi, tmp_path: Path) -> None:
    from auditdesk.ui.qi.reports import feedback_html, write_technologist_feedback

    me, *others = qi.technologists
    text = feedback_html(qi.db, me, start=qi.start, end=qi.end)
    assert me in text
    for name in [*others, *TECHS, *qi.evaluators]:  # other technologists, raw names, reviewers
        assert name not in text
    for value in qi.phi:
        assert value not in text
    assert "What went well" in text and "One thing to try next" in text
    assert "EX-" in text  # learning examples by pseudonymous exam key
    again = feedback_html(qi.db, me, start=qi.start, end=qi.end)
    keys = set(re.findall(r"EX-[A-Z2-7]{10}", text))
    assert keys and keys == set(re.findall(r"EX-[A-Z2-7]{10}", again))  # the secret is kept
    mine = [r for r in _results(qi) if r.technologist == me]
    assert f"{sum(r.meets for r in mine)} of your {len(mine)} audited exams" in text

    out = tmp_path / "feedback.pdf"
    write_technologist_feedback(qi.db, out, me, start=qi.start, end=qi.end)
    assert out.read_bytes().startswith(b"%PDF")
    assert me in pdf_text(out)
    assert find_phi(out, [*others, *qi.evaluators, *qi.phi]) == []


def test_reports_on_an_empty_database(qtbot, db, tmp_path: Path) -> None:
    from auditdesk.ui.qi.reports import (
        feedback_html,
        weekly_report_html,
        write_technologist_feedback,
        write_weekly_report,
    )

    assert "No complete audits" in weekly_report_html(db)
    assert "None of your exams" in feedback_html(db, "Nobody")
    write_weekly_report(db, tmp_path / "w.pdf")
    write_technologist_feedback(db, tmp_path / "f.pdf", "Nobody")
    assert (tmp_path / "w.pdf").read_bytes().startswith(b"%PDF")
    assert (tmp_path / "f.pdf").read_bytes().startswith(b"%PDF")
