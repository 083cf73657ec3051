"""No patient identifier in anything AuditDesk writes.

The test set is imported and audited: both mammograms by two reviewers (so the agreement report
has rows), and the two prostate MR exams are read with PI-QUAL v2 by the same two reviewers; then
every writer the GUI and CLI offer is run — weekly PDF report, each technologist's feedback PDF,
the agreement PDF and CSV, every dashboard chart as PNG and SVG, the weekly submission (CSV,
XLSX, JSON), the per-exam sheet, an `auditdesk render` PNG — and every file, plus anything left
in the data folder (logs), is read as text (PDF through pypdf) and searched for the full list of
the test set's identifiers (conftest ``phi_values``). A second test proves the scanner itself
can fail: an identifier planted in a PDF the app's own writer produced is found through pypdf.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from sqlalchemy import select

from auditdesk.checklists.rules import answer_keys, item_for_key
from auditdesk.cli import main
from auditdesk.dicom.index import import_paths
from auditdesk.reading.auditing import AuditSession, find_checklist
from auditdesk.store.audits import create_reviewer
from auditdesk.store.models import Study
from phi_scan import assert_no_phi, find_phi, pdf_text

pytestmark = pytest.mark.gui

CHECKLIST = "acr-mammo-positioning"
MR_CHECKLIST = "pi-qual-v2"
FIRST, LAST = dt.date(2026, 3, 1), dt.date(2026, 3, 7)  # the test set's week (Sun–Sat)
FAILS = {("sun", "Ann Reader"): set(), ("sun", "Bob Reader"): {"RMLO:imf_open"}}
FAILS |= {("sat", "Ann Reader"): {"LMLO:imf_open"}, ("sat", "Bob Reader"): {"LMLO:imf_open"}}


def _audit(db, study_pk: int, reviewer_pk: int, fails: set[str], checklist_id: str) -> None:
    """Every required item answered: pass (or fail if listed); choices take the first option;
    items the DICOM header decided keep their computed value."""
    checklist = find_checklist(checklist_id)
    audit = AuditSession.start(db, study_pk=study_pk, reviewer_pk=reviewer_pk, checklist=checklist)
    computed = audit.state().score.result["computed"]
    for key in answer_keys(checklist):
        item = item_for_key(checklist, key)
        if not item.required or computed.get(key, {}).get("value") in ("pass", "fail"):
            continue
        if item.type == "pass_fail":
            audit.answer(key, "fail" if key in fails else "pass")
        elif item.type == "choice":
            audit.answer(key, item.options[0].value)
    audit.complete()


def _audited_test_set(db, test_set) -> dict[str, int]:
    import_paths(db, [test_set.root])
    with db.transaction() as session:
        pks = {
            name: create_reviewer(session, name, "technologist", initials).id
            for name, initials in (("Ann Reader", "AR"), ("Bob Reader", "BR"))
        }
        pks["Cora Coach"] = create_reviewer(session, "Cora Coach", "coach", "CC").id
        mammo = sorted(
            session.scalars(select(Study).where(Study.kind == "mammo")),
            key=lambda s: s.procedure_date,
        )
        studies = {"sun": mammo[0].id, "sat": mammo[1].id}
        mr = [s.id for s in session.scalars(select(Study).where(Study.kind == "mr"))]
    assert [s.procedure_date for s in mammo] == [FIRST, LAST]
    assert len(mr) == 2
    for (exam, name), fails in FAILS.items():
        _audit(db, studies[exam], pks[name], fails, CHECKLIST)
    for n, study_pk in enumerate(mr):  # PI-QUAL double reads of both prostate MR exams
        _audit(db, study_pk, pks["Ann Reader"], set(), MR_CHECKLIST)
        _audit(db, study_pk, pks["Bob Reader"], {"T2W:snr"} if n else set(), MR_CHECKLIST)
    return pks


def test_no_identifier_in_any_output(qtbot, db, test_set, phi_values, tmp_path: Path, capsys):
    from auditdesk.ui.qi.qi_window import QIWindow
    from auditdesk.ui.review.agreement_window import AgreementWindow

    pks = _audited_test_set(db, test_set)
    out = tmp_path / "out"
    out.mkdir()

    qi = QIWindow(db)
    qtbot.addWidget(qi)
    qi.resize(1400, 900)
    qi.show()
    qi.set_range(FIRST, LAST)
    assert qi.data is not None and qi.data.weeks
    for fmt in ("csv", "xlsx", "json"):
        assert qi.export_weekly(out / f"weekly.{fmt}", fmt, breakdowns=True) == 1
    assert qi.export_exams(out / "exams.xlsx") == 2  # one counted row per exam
    qi.save_weekly_report(out / "weekly-report.pdf", FIRST)
    technologists = qi.technologists()
    assert technologists
    for n, name in enumerate(technologists):
        qi.save_feedback(out / f"feedback-{n}.pdf", name)
    for index in range(qi.tabs.count()):  # every tab's chart (p-chart, run chart, multiples)
        qi.tabs.setCurrentIndex(index)
        qtbot.wait(10)
        assert qi.save_chart(out / f"chart-{index}.png")
        assert qi.save_chart(out / f"chart-{index}.svg")

    ag = AgreementWindow(db, reviewer_pk=pks["Cora Coach"])
    qtbot.addWidget(ag)
    ag.save_pdf(out / "agreement.pdf")
    assert ag.export_csv(out / "agreement.csv") > 0

    url = db.url
    for argv in (
        ["export", "weekly", "-o", str(out / "cli-weekly.csv"), "--breakdowns"],
        ["export", "exams", "-o", str(out / "cli-exams.xlsx")],
        ["agreement", "-o", str(out / "cli-agreement.pdf"), "--checklist", CHECKLIST],
        ["agreement", "-o", str(out / "cli-agreement.csv"), "--checklist", CHECKLIST],
        ["agreement", "-o", str(out / "cli-agreement-mr.pdf"), "--checklist", MR_CHECKLIST],
        ["agreement", "-o", str(out / "cli-agreement-mr.csv"), "--checklist", MR_CHECKLIST],
    ):
        assert main(["--db", url, *argv]) == 0, capsys.readouterr().err
    printed = capsys.readouterr()
    (out / "cli-output.txt").write_text(printed.out + printed.err, encoding="utf-8")
    mammogram = next(s for s in test_set.studies if s.kind == "mammo").files[0].path
    assert main(["render", str(mammogram), "-o", str(out / "render.png"), "--max-size", "300"]) == 0

    # The outputs say something (an empty file would pass any scan) ...
    assert "Ann Reader" in pdf_text(out / "agreement.pdf")
    assert "acr-mammo-positioning" in pdf_text(out / "cli-agreement.pdf")
    assert "pi-qual-v2" in pdf_text(out / "cli-agreement-mr.pdf")
    assert "audited" in pdf_text(out / "weekly-report.pdf")
    assert technologists[0] in pdf_text(out / "feedback-0.pdf")
    assert "<text" in (out / "chart-0.svg").read_text(encoding="utf-8")
    # ... and carry no identifier; logs and anything else in the data folder neither.
    home = Path(os.environ["AUDITDESK_HOME"])
    left = [p for p in home.rglob("*") if p.is_file() and ".sqlite" not in p.name]
    files = sorted(out.iterdir()) + left
    assert len(files) >= 14
    assert_no_phi(files, phi_values)


def test_the_scanner_finds_an_identifier_planted_in_a_generated_pdf(
    qtbot, test_set, phi_values, tmp_path: Path
) -> None:
    """Guards the scan above: Qt compresses the PDF (the raw bytes never contain the value),
    yet the identifier is found through the extracted text."""
    from auditdesk.ui.qi.reports import print_html

    study = next(s for s in test_set.studies if s.kind == "mammo")
    planted = {study.patient_id, study.study_uid, study.accession_number}
    html = (
        "<h1>Weekly report</h1><table><tr><td>Exam</td>"
        f"<td>{study.patient_id}</td><td>{study.accession_number}</td></tr></table>"
        f"<p>See {study.study_uid}.</p>"
    )
    leaky = tmp_path / "leaky.pdf"
    print_html(html, leaky)
    raw = leaky.read_bytes()
    assert raw.startswith(b"%PDF")
    assert study.patient_id.encode() not in raw  # why a byte search can never see it
    hits = find_phi(leaky, phi_values)
    for value in planted:
        assert any(hit.startswith(repr(value)) for hit in hits), (value, hits)
    with pytest.raises(AssertionError, match="patient identifiers"):
        assert_no_phi([leaky], phi_values)

    clean = tmp_path / "clean.pdf"
    print_html("<h1>Weekly report</h1><p>Exam EX-ABCDEFGHJK meets criteria.</p>", clean)
    assert find_phi(clean, phi_values) == []
    assert "EX-ABCDEFGHJK" in pdf_text(clean)


def test_the_scanner_reads_svg_text(tmp_path: Path, test_set, phi_values) -> None:
    """An SVG chart label is XML text, possibly entity-encoded: still found."""
    study = test_set.studies[0]
    encoded = "".join(f"&#{ord(ch)};" for ch in study.patient_id)
    svg = tmp_path / "chart.svg"
    svg.write_text(f'<svg xmlns="http://www.w3.org/2000/svg"><text>{encoded}</text></svg>')
    assert any(hit.startswith(repr(study.patient_id)) for hit in find_phi(svg, phi_values))
