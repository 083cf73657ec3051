"""The coach's agreement dashboard, the agreement PDF/CSV, reviewer packages from the window,
and the disagreement / consensus window (issue 6, GUI side)."""

from __future__ import annotations

import csv
import re
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from auditdesk.checklists.rules import answer_keys, item_for_key
from auditdesk.dicom.index import import_paths
from auditdesk.qi import measures
from auditdesk.reading.auditing import AuditSession, find_checklist
from auditdesk.review import adjudication, agreement
from auditdesk.store.audits import create_reviewer
from auditdesk.store.db import open_database
from auditdesk.store.models import Audit, Study
from phi_scan import assert_no_phi, pdf_text

pytestmark = pytest.mark.gui

CHECKLIST = "acr-mammo-positioning"
#: known fails per (exam, reviewer); every other required pass/fail item passes
FAILS = {
    ("sun", "Ann Reader"): set(),
    ("sun", "Bob Reader"): {"RMLO:imf_open"},
    ("sat", "Ann Reader"): {"LMLO:imf_open", "RCC:no_motion"},
    ("sat", "Bob Reader"): {"LMLO:imf_open"},
}


def _pass_fail_keys(checklist) -> list[str]:
    return [
        k
        for k in answer_keys(checklist)
        if item_for_key(checklist, k).required and item_for_key(checklist, k).type == "pass_fail"
    ]


def _audit(db, study_pk: int, reviewer_pk: int, fails: set[str]) -> None:
    checklist = find_checklist(CHECKLIST)
    audit = AuditSession.start(db, study_pk=study_pk, reviewer_pk=reviewer_pk, checklist=checklist)
    for key in _pass_fail_keys(checklist):
        audit.answer(key, "fail" if key in fails else "pass")
    audit.complete()


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory, test_set) -> Path:
    """Both test-set mammograms read by two reviewers with known disagreements (built once)."""
    folder = tmp_path_factory.mktemp("agreement")
    path = folder / "template.sqlite"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AUDITDESK_HOME", str(folder / "home"))
        db = open_database(f"sqlite:///{path}")
        import_paths(db, [test_set.root])
        with db.transaction() as session:
            pks = {
                name: create_reviewer(session, name, role, initials).id
                for name, role, initials in (
                    ("Ann Reader", "technologist", "AR"),
                    ("Bob Reader", "technologist", "BR"),
                    ("Cora Coach", "coach", "CC"),
                )
            }
            mammo = sorted(
                session.scalars(select(Study).where(Study.kind == "mammo")),
                key=lambda s: s.procedure_date,
            )
            studies = {"sun": mammo[0].id, "sat": mammo[1].id}
        for (exam, name), fails in FAILS.items():
            _audit(db, studies[exam], pks[name], fails)
        db.dispose()
    return path


@pytest.fixture
def data(tmp_path: Path, template: Path):
    """(db, reviewer pks by name, study pks by "sun"/"sat") on a fresh copy of the template."""
    path = tmp_path / "agreement.sqlite"
    shutil.copyfile(template, path)
    db = open_database(f"sqlite:///{path}")
    with db.session() as session:
        from auditdesk.store.models import Reviewer

        pks = {r.name: r.id for r in session.scalars(select(Reviewer))}
        mammo = sorted(
            session.scalars(select(Study).where(Study.kind == "mammo")),
            key=lambda s: s.procedure_date,
        )
        studies = {"sun": mammo[0].id, "sat": mammo[1].id}
    yield db, pks, studies
    db.dispose()


def _vectors(keys: list[str]) -> tuple[list[str], list[str]]:
    """Ann's and Bob's answers to ``keys`` on both exams (subjects in any consistent order)."""
    a, b = [], []
    for exam in ("sun", "sat"):
        for key in keys:
            a.append("fail" if key in FAILS[(exam, "Ann Reader")] else "pass")
            b.append("fail" if key in FAILS[(exam, "Bob Reader")] else "pass")
    return a, b


# --------------------------------------------------------------------------------------------
# Report HTML (no database)
# --------------------------------------------------------------------------------------------


def _est(value, low=None, high=None, n=40):
    return agreement.Estimate(value, 0.05, low, high, n)


def test_report_html_explains_high_agreement_with_low_kappa_and_shows_measurements():
    from auditdesk.qi import site
    from auditdesk.ui.review import agreement_report as rep

    paradox = agreement.ItemAgreement(
        target="RCC:nipple_profile",
        label="Nipple in profile (RCC)",
        kind="nominal",
        n_subjects=40,
        n_raters=2,
        percent=_est(0.925, 0.80, 0.97),
        kappa=_est(0.21, -0.1, 0.5),
        weighted_kappa=None,
        fleiss=_est(0.2),
        ac1=_est(0.91, 0.8, 0.99),
        alpha=_est(0.2, 0.0, 0.45),
        icc=None,
        prevalence={"pass": 0.95, "fail": 0.05},
        confusion=(["pass", "fail"], [[36, 2], [1, 1]]),
    )
    ordinal = agreement.ItemAgreement(
        "score:grade", "Grade (exam)", "ordinal", 40, 2, _est(0.6, 0.45, 0.73),
        _est(0.3), _est(0.55, 0.3, 0.8), None, _est(0.5), _est(0.52), None,
        {"P": 0.3, "G": 0.5, "M": 0.2}, None,
    )  # fmt: skip
    pnl = agreement.ItemAgreement(
        "measure:RMLO:pnl_mm", "PNL length (RMLO), mm", "interval", 38, 2,
        agreement.Estimate(None, None, None, None, 38), None, None, None,
        agreement.Estimate(None, None, None, None, 38), _est(0.93, 0.88, 0.96),
        _est(0.94, 0.89, 0.97),
    )  # fmt: skip
    data = rep.AgreementData(
        settings=site.SiteSettings(site_name="North Breast Centre", is_demo=True),
        flt=agreement.AgreementFilter(CHECKLIST),
        rows=[paradox, ordinal, pnl],
        matrix={(1, 2): _est(0.45, 0.2, 0.7, 40)},
        reviewer_names={1: "Ann Reader", 2: "Bob Reader"},
        checklist_title="ACR mammography positioning",
    )
    text = rep.build_agreement_html(data)
    assert "North Breast Centre" in text and "DEMO DATA" in text
    assert "ACR mammography positioning" in text and "all dates" in text
    assert "92.5 %" in text and "80.0–97.0 %" in text  # Wilson CI of the percent
    assert "0.21" in text and "fair" in text  # Landis–Koch word beside the number
    assert "Reviewers agree on 92.5 % of exams but κ is only 0.21" in text
    assert "“pass” makes up 95 % of all answers" in text
    assert text.count("High agreement, low κ") == 1  # one sentence, for the paradox row only
    assert "0.55" in text and "weighted κ" in text and "AC2" in text  # ordinal: weighted
    assert "ICC(2,1)" in text and "0.94" in text and "0.89–0.97" in text
    assert "Ann Reader" in text and "Bob Reader" in text and "0.45" in text
    assert "pass 95 % · fail 5 %" in text


# --------------------------------------------------------------------------------------------
# Agreement window
# --------------------------------------------------------------------------------------------


def test_agreement_window_shows_kappa_of_the_reads(qtbot, data, tmp_path):
    from auditdesk.ui.review import agreement_report as rep
    from auditdesk.ui.review.agreement_window import AgreementWindow

    db, pks, _studies = data
    win = AgreementWindow(db, reviewer_pk=pks["Ann Reader"])
    qtbot.addWidget(win)
    win.show()
    targets = {r.target for r in win.rows}
    assert {"overall", "score:meets_criteria", "imf_open", "RMLO:imf_open"} <= targets

    meets = win.row_for("score:meets_criteria")
    # Ann: meets on Sunday, not on Saturday; Bob: fails both
    expected = agreement.cohen_kappa([True, False], [False, False])
    assert meets.kappa.value == pytest.approx(expected.value)
    assert win.kappa_text("score:meets_criteria").startswith(rep.num(expected.value))

    imf = win.row_for("imf_open")  # pooled over RMLO and LMLO
    expected = agreement.cohen_kappa(*_vectors(["RMLO:imf_open", "LMLO:imf_open"]))
    assert imf.kappa.value == pytest.approx(expected.value) == pytest.approx(0.5)
    assert win.kappa_text("imf_open") == rep.with_ci(expected)

    checklist = find_checklist(CHECKLIST)
    a, b = _vectors(_pass_fail_keys(checklist))
    overall = win.row_for("overall")
    assert overall.kappa.value == pytest.approx(agreement.cohen_kappa(a, b).value)
    assert overall.percent.value == pytest.approx(
        sum(x == y for x, y in zip(a, b, strict=True)) / len(a)
    )

    win.select_target("imf_open")
    assert win.confusion_table.rowCount() == 2  # the item's scale: pass, fail (no one said na)
    conf = win.confusion_table
    counts = {
        (conf.verticalHeaderItem(i).text(), conf.horizontalHeaderItem(j).text()): int(
            conf.item(i, j).text()
        )
        for i in range(2)
        for j in range(2)
    }
    assert sum(counts.values()) == 4
    assert ("Ann Reader: na", "Bob Reader: na") not in counts  # N/A is not on the scale
    assert counts[("Ann Reader: pass", "Bob Reader: fail")] == 1
    assert win.prevalence_chart.values() == pytest.approx({"pass": 62.5, "fail": 37.5})

    assert win.matrix_value(pks["Ann Reader"], pks["Bob Reader"]) == pytest.approx(
        meets.kappa.value
    )
    assert win.matrix_table.rowCount() == 2
    assert win.trend and win.trend_chart.point_count() == 1

    # filters: only Ann ticked leaves no pair to compare
    win.set_filter(reviewer_pks=[pks["Ann Reader"]])
    assert all(r.n_subjects == 0 for r in win.rows)
    win.set_filter()
    assert win.row_for("imf_open").n_subjects == 4  # 2 exams x 2 views

    # a screenshot to look at
    win.resize(1400, 900)
    win.select_target("imf_open")
    qtbot.wait(50)
    assert win.grab().save(str(tmp_path / "agreement_window.png"))
    win.tabs.setCurrentIndex(1)
    qtbot.wait(20)
    win.grab().save(str(tmp_path / "agreement_matrix.png"))
    win.tabs.setCurrentIndex(2)
    qtbot.wait(20)
    win.grab().save(str(tmp_path / "agreement_trend.png"))
    win.tabs.setCurrentIndex(0)
    qtbot.wait(20)
    win.grab().save(str(tmp_path / "agreement_items.png"))


def test_agreement_exports_csv_and_pdf_without_phi(qtbot, data, tmp_path, test_set, phi_values):
    from auditdesk.ui.review.agreement_window import AgreementWindow

    db, pks, _studies = data
    win = AgreementWindow(db, reviewer_pk=pks["Cora Coach"])
    qtbot.addWidget(win)
    answers = iter([str(tmp_path / "agreement.csv"), str(tmp_path / "agreement.pdf")])
    win.ask_save_path = lambda *_a: next(answers)
    win.csv_button.click()
    win.pdf_button.click()

    with open(tmp_path / "agreement.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    by_target = {r["target"]: r for r in rows}
    assert float(by_target["imf_open"]["kappa"]) == pytest.approx(0.5)
    assert by_target["imf_open"]["kappa_landis_koch"] == "moderate"

    text = pdf_text(tmp_path / "agreement.pdf")
    assert "Reviewer agreement" in text and "acr-mammo-positioning" in text
    assert "Ann Reader" in text and "Bob Reader" in text
    assert "moderate" in text  # the Landis–Koch word beside κ 0.50
    assert_no_phi([tmp_path / "agreement.csv", tmp_path / "agreement.pdf"], phi_values)


def test_reviewer_packages_from_the_window(qtbot, data, tmp_path, monkeypatch):
    from auditdesk.ui.review.agreement_window import AgreementWindow

    db, pks, _studies = data
    win = AgreementWindow(db, reviewer_pk=pks["Bob Reader"])
    qtbot.addWidget(win)
    target = tmp_path / "bob.adpkg"
    win.ask_save_path = lambda *_a: str(target)
    win.export_package_button.click()
    assert target.is_file()

    messages: list[tuple[str, str]] = []
    win.inform = lambda title, text: messages.append((title, text))
    win.warn = lambda text: messages.append(("warning", text))
    win.ask_open_path = lambda *_a: str(target)
    win.import_button.click()  # the same audits: nothing changes
    assert messages and messages[-1][0] == "Reviewer package imported"
    assert "Audits added: 0" in messages[-1][1]
    assert win.last_import.added == 0 and win.last_import.unchanged >= 2

    broken = tmp_path / "broken.adpkg"
    broken.write_bytes(target.read_bytes()[:-40] + b"x" * 40)
    win.ask_open_path = lambda *_a: str(broken)
    win.import_button.click()
    assert messages[-1][0] == "warning" and "not imported" in messages[-1][1]

    nobody = AgreementWindow(db)
    qtbot.addWidget(nobody)
    assert not nobody.export_package_button.isEnabled()
    assert "reviewer profile" in nobody.calibration_label.text()


def test_calibration_tab_shows_a_reviewer_their_own_result(qtbot, data):
    from auditdesk.ui.review.agreement_window import AgreementWindow

    db, pks, studies = data
    checklist = find_checklist(CHECKLIST)
    with db.transaction() as session:
        set_id = adjudication.create_calibration_set(
            session, "March set", CHECKLIST, [studies["sun"]], pks["Cora Coach"]
        )
    ref = adjudication.start_reference(db, set_id, studies["sun"], pks["Cora Coach"], checklist)
    for key in _pass_fail_keys(checklist):
        ref.answer(key, "fail" if key == "RMLO:imf_open" else "pass")
    ref.complete()

    ann = AgreementWindow(db, reviewer_pk=pks["Ann Reader"])
    qtbot.addWidget(ann)
    assert ann.calibration_combo.count() == 1
    assert not ann.calibration_reviewer.isEnabled()  # a reviewer sees only their own
    who = ann.calibration_reviewer
    assert [who.itemData(i) for i in range(who.count())] == [pks["Ann Reader"]]
    assert "Your answers" in ann.calibration_label.text()
    table = ann.calibration_table
    rows = {table.item(r, 0).text(): table.item(r, 4).text() for r in range(table.rowCount())}
    assert list(rows.values()).count("no") == 2  # RMLO:imf_open and meets criteria
    # Shares are shown as percentages of 100, not multiplied twice.
    shares = [float(v) for v in re.findall(r"([\d.]+) %", ann.calibration_label.text())]
    assert shares and all(0 < v < 100 for v in shares)

    coach = AgreementWindow(db, reviewer_pk=pks["Cora Coach"])
    qtbot.addWidget(coach)
    assert coach.calibration_reviewer.isEnabled()
    assert coach.calibration_reviewer.count() == 3


# --------------------------------------------------------------------------------------------
# Disagreements and consensus
# --------------------------------------------------------------------------------------------


def test_adjudication_lists_disagreements_and_records_a_consensus(qtbot, data, tmp_path):
    from auditdesk.ui.review.adjudication import AdjudicationWindow

    db, pks, studies = data
    win = AdjudicationWindow(db, coach_pk=pks["Cora Coach"])
    qtbot.addWidget(win)
    win.show()
    shown = {(d.study_pk, d.key) for d in win.shown()}
    assert shown == {
        (studies["sun"], "RMLO:imf_open"),
        (studies["sun"], "meets_criteria"),
        (studies["sat"], "RCC:no_motion"),
    }
    headers = [
        win.list_table.horizontalHeaderItem(c).text() for c in range(win.list_table.columnCount())
    ]
    assert headers == ["Exam", "Date", "Item", "Ann Reader", "Bob Reader", "Adjudicated"]
    first = [win.list_table.item(0, c).text() for c in range(len(headers))]
    assert first[1] == "2026-03-01" and first[-1] == "no"
    assert first[0].startswith("2026-03-01 mammo ")

    win.select_row(0)  # the Sunday exam
    assert win.study_pk == studies["sun"]
    assert set(win.editors) == {"RMLO:imf_open", "meets_criteria"}
    assert win.exam_cell("RMLO:imf_open", "Ann Reader") == "pass"
    assert win.exam_cell("RMLO:imf_open", "Bob Reader") == "fail"

    with qtbot.waitSignal(win.open_exam_requested) as signal:
        win.images_button.click()
    study_pk, audit_pks = signal.args
    assert study_pk == studies["sun"] and len(audit_pks) == 2

    # a decision without a reason is refused, nothing is stored
    win.set_decision("RMLO:imf_open", "fail", "")
    assert not win.record_decisions()
    assert "reason" in win.message.text()
    assert win.consensus_audit() is None

    win.set_decision("RMLO:imf_open", "fail", "IMF not visible on the RMLO")
    win.grab().save(str(tmp_path / "adjudication_window.png"))
    assert win.complete_consensus(), win.message.text()
    audit = win.consensus_audit()
    assert audit is not None and audit.purpose == "consensus" and audit.status == "complete"
    assert audit.reviewer_pk == pks["Cora Coach"]
    assert "IMF not visible on the RMLO" in (audit.comment or "")
    with db.session() as session:
        state = adjudication.exam_reads(session, studies["sun"], CHECKLIST)[-1]
    assert state.purpose == "consensus" and state.answers["RMLO:imf_open"] == "fail"
    assert state.reason_codes["RMLO:imf_open"] == "consensus"
    assert state.meets_criteria is False

    # adjudicated: gone from the "not yet adjudicated" list, flagged in the full one
    assert {d.study_pk for d in win.shown()} == {studies["sat"]}
    win.pending_only.setChecked(False)
    flags = {d.study_pk: d.adjudicated for d in win.shown()}
    assert flags == {studies["sun"]: True, studies["sat"]: False}
    # the consensus is what the measure counts for the exam
    with db.session() as session:
        results = measures.exam_results(session, CHECKLIST)
    sun = next(r for r in results if r.study_pk == studies["sun"])
    assert sun.audit_pk == audit.id and sun.meets is False


def test_adjudication_refuses_incomplete_consensus_and_needs_a_profile(qtbot, data):
    from auditdesk.ui.review.adjudication import AdjudicationWindow

    db, pks, studies = data
    win = AdjudicationWindow(db, coach_pk=pks["Cora Coach"])
    qtbot.addWidget(win)
    win.show_exam(studies["sun"])
    assert not win.complete_consensus()  # RMLO:imf_open is not decided
    assert "cannot be completed" in win.message.text()

    viewer = AdjudicationWindow(db)
    qtbot.addWidget(viewer)
    assert not viewer.record_button.isEnabled() and not viewer.complete_button.isEnabled()
    with db.session() as session:
        count = session.scalar(
            select(Audit.id).where(Audit.purpose == "consensus", Audit.status == "complete")
        )
    assert count is None
