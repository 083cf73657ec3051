"""Crash reports and the GUI's exception dialog carry no patient identifiers.

Each test crashes while a test-set study is being worked on, with every identifier of that
study in the exception message (the worst case: a message quoting header values and the
study's file path), and scans the report, the log and the dialog with tests/phi_scan.py for
every value of the ``phi_values`` fixture.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pydicom
import pytest

from auditdesk.runtime.crash_report import (
    LOGGER_NAME,
    crash_dir,
    database_identifiers,
    report_text,
    scrub,
    write_crash_report,
)
from phi_scan import assert_no_phi, find_phi


def _hang_study(path: Path) -> None:
    """Stands in for viewer code that fails on a study and quotes it in its message."""
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    name = str(ds.PatientName)
    raise ValueError(
        f"cannot hang {name} / {name.replace('^', ' ')} ({ds.PatientID}), born "
        f"{ds.PatientBirthDate}, accession {ds.AccessionNumber}, study {ds.StudyInstanceUID}, "
        f"series {ds.SeriesInstanceUID}, image {ds.SOPInstanceUID}, file {path}"
    )


def _message_only(text: str) -> None:
    """A failure whose frame holds no dataset or record, only a quoted identifier."""
    raise KeyError(f"no exam for {text}")


@pytest.fixture
def crash_log(tmp_path: Path):
    """The ``auditdesk`` logger written to a file, as the app's log file would be."""
    log_file = tmp_path / "auditdesk.log"
    handler = logging.FileHandler(log_file, encoding="utf-8")
    logger = logging.getLogger(LOGGER_NAME)
    logger.addHandler(handler)
    yield log_file
    logger.removeHandler(handler)
    handler.close()


def test_crash_report_and_log_hold_no_identifiers_of_the_study(test_set, phi_values, crash_log):
    reports = []
    for study in test_set.studies:
        try:
            _hang_study(study.files[0].path)
        except ValueError as exc:
            # The unscrubbed message does hold the identifiers: the scan below cannot pass
            # vacuously.
            assert study.patient_id in str(exc) and study.study_uid in str(exc)
            reports.append(write_crash_report(exc))
    assert len(reports) == len(test_set.studies)
    assert all(p.parent == crash_dir() for p in reports)
    assert_no_phi([*reports, crash_log], phi_values)

    text = reports[0].read_text(encoding="utf-8")
    # Still useful: versions, where it failed, the variables' names and types, the file type.
    assert "AuditDesk 0.1.0" in text and "pydicom" in text and "Platform" in text
    assert "in _hang_study" in text and "raise ValueError(" in text
    assert "locals (values removed): path: pathlib." in text
    assert "ds: pydicom.dataset.FileDataset" in text
    assert text.rstrip().splitlines()[-1].startswith("ValueError: cannot hang [")
    assert "[path].dcm" in text
    assert "Unhandled ValueError; crash report written to" in crash_log.read_text()


def test_identifiers_known_only_to_the_database_are_scrubbed(test_set, phi_values, db):
    from auditdesk.dicom.index import import_paths

    import_paths(db, [test_set.root])
    patient_id = test_set.studies[0].patient_id
    try:
        _message_only(patient_id)
    except KeyError as exc:
        bare = report_text(exc)
        assert patient_id in bare  # no frame held the study: nothing else would remove it
        path = write_crash_report(exc, [database_identifiers(db)])
    assert_no_phi([path], phi_values)


def test_scrub_removes_shapes_of_identifiers_it_was_not_told():
    text = scrub(
        "DOE^JANE 1.2.840.113619.2.55.3 2.25.1234567890123 id 0012345 born 1956-03-02 "
        "in /data/DOE JANE/study/1.dcm and C:\\PACS\\Doe\\x.dcm; 3 of 10 files, v6.11.3",
        [],
    )
    assert text == (
        "[name] [uid] [uid] id [number] born [date] in [path] [path].dcm and [path].dcm; "
        "3 of 10 files, v6.11.3"
    )


@pytest.mark.gui
def test_gui_handler_shows_a_dialog_with_the_scrubbed_report(
    qtbot, test_set, phi_values, monkeypatch
):
    from PySide6.QtWidgets import QMessageBox

    from auditdesk.ui.common.crash_dialog import CrashHandler

    shown: list[QMessageBox] = []
    monkeypatch.setattr(QMessageBox, "exec", lambda box: shown.append(box) or 0)
    handler = CrashHandler()
    try:
        _hang_study(test_set.studies[0].files[0].path)
    except ValueError as exc:
        handler(type(exc), exc, exc.__traceback__)
    assert len(shown) == 1 and len(handler.reports) == 1
    box = shown[0]
    assert str(handler.reports[0]) in box.text()
    dialog_text = handler.reports[0].with_suffix(".dialog.txt")
    dialog_text.write_text(box.text() + "\n" + box.detailedText(), encoding="utf-8")
    assert not find_phi(dialog_text, phi_values)
    assert box.detailedText() == handler.reports[0].read_text(encoding="utf-8")
