"""File → Import from PACS… and the PACS nodes dialog, driven offscreen against a real Orthanc
(issue 19): nodes are saved and tested with the Test button, a search lists the test set's
mammograms, the technologist filter uses Operators' Name, and Retrieve all indexes them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.orthanc_server import ORTHANC_AET, OUR_AET, OrthancServer, running_orthanc

from auditdesk.store.catalog import list_studies
from auditdesk.store.db import Database

pytestmark = pytest.mark.gui


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory: pytest.TempPathFactory, test_set) -> Iterator[OrthancServer]:
    files = [f.path for s in test_set.studies if s.kind == "mammo" for f in s.files]
    yield from running_orthanc(tmp_path_factory.mktemp("orthanc-gui"), files)


def _fill_dimse(dialog, name: str, aet: str, port: int) -> None:
    dialog.name.setText(name)
    dialog.protocol.setCurrentIndex(dialog.protocol.findData("dimse"))
    dialog.aet.setText(aet)
    dialog.host.setText("127.0.0.1")
    dialog.port.setValue(port)
    dialog.our_aet.setText(OUR_AET)
    dialog.timeout.setValue(5)


def test_nodes_dialog_saves_and_tests_nodes(qtbot, db: Database, orthanc: OrthancServer) -> None:
    from auditdesk.ui.common.pacs_dialog import PacsNodesDialog

    dialog = PacsNodesDialog(db)
    qtbot.addWidget(dialog)
    _fill_dimse(dialog, "wrong", "NOTORTHANC", orthanc.dicom_port)
    assert dialog.save()
    job = dialog.test()
    assert job is not None
    qtbot.waitUntil(lambda: not job.isRunning() and dialog.test_button.isEnabled(), timeout=20000)
    assert "refused the association" in dialog.status.text()

    _fill_dimse(dialog, "orthanc", ORTHANC_AET, orthanc.dicom_port)
    assert dialog.save()
    job = dialog.test()
    qtbot.waitUntil(lambda: dialog.status.text().startswith("OK:"), timeout=20000)
    assert [dialog.list.item(i).text().split(":")[0] for i in range(dialog.list.count())] == [
        "orthanc",
        "wrong",
    ]
    dialog.port.setValue(1)
    dialog.name.setText("bad name!")
    assert not dialog.save()
    assert "is not valid" in dialog.status.text()


def test_import_from_pacs_dialog_searches_filters_and_retrieves_all(
    qtbot, db: Database, orthanc: OrthancServer, test_set
) -> None:
    from auditdesk.exchange.pacs.nodes import NodeConfig, save_node
    from auditdesk.ui.common.pacs_dialog import PacsImportDialog

    with db.transaction() as s:
        save_node(s, NodeConfig(name="web", protocol="dicomweb", url=f"{orthanc.http}/dicom-web"))
    dialog = PacsImportDialog(db)
    qtbot.addWidget(dialog)
    dialog.node_box.setCurrentText("web")
    dialog.any_date.setChecked(True)
    dialog.modality.setCurrentIndex(dialog.modality.findData("MG"))
    mammo = [s for s in test_set.studies if s.kind == "mammo"]

    with qtbot.waitSignal(dialog.search().done, timeout=20000):
        pass
    assert dialog.table.rowCount() == len(mammo) == 2
    # The generator wrote Operators' Name SMITH^JANE on study 1 and J.S. on study 2.
    dialog.technologist.setText("smith")
    with qtbot.waitSignal(dialog.search().done, timeout=20000):
        pass
    assert dialog.table.rowCount() == 1
    assert dialog.table.item(0, 1).text() == "2026-03-01"

    dialog.technologist.setText("")
    with qtbot.waitSignal(dialog.search().done, timeout=20000):
        pass
    # Draw a sample of one, then retrieve only it.
    dialog.sample_n.setValue(1)
    dialog.sample_mode.setCurrentIndex(dialog.sample_mode.findData("overall"))
    dialog.sample_seed.setText("7")
    picked = dialog.draw_sample()
    rows = {i.row() for i in dialog.table.selectedIndexes()}
    assert len(picked) == len(rows) == 1
    assert dialog.table.item(rows.pop(), 0).text() == picked[0].key
    with qtbot.waitSignal(dialog.imported, timeout=60000):
        dialog.retrieve(selected_only=True)
    with db.session() as s:
        assert [st.study_uid for st in list_studies(s)] == [picked[0].study_uid]
    with qtbot.waitSignal(dialog.imported, timeout=60000):
        dialog.retrieve(selected_only=False)
    n_files = sum(len(s.files) for s in mammo)
    assert (dialog.progress.value(), dialog.progress.maximum()) == (n_files, n_files)
    assert dialog.status.text().startswith("2 of 2 studies retrieved and indexed.")
    with db.session() as s:
        assert sorted(st.n_images for st in list_studies(s)) == sorted(len(s.files) for s in mammo)


def test_file_menu_opens_import_from_pacs(qtbot, db: Database, loader) -> None:
    from auditdesk.ui.common.pacs_dialog import PacsImportDialog
    from auditdesk.ui.main_window import MainWindow

    win = MainWindow(db, loader=loader)
    qtbot.addWidget(win)
    assert win.pacs_action.text() == "Import from &PACS…"
    win.pacs_action.trigger()
    dialogs = win.findChildren(PacsImportDialog)
    assert len(dialogs) == 1
    assert "No PACS node yet" in dialogs[0].status.text()
    dialogs[0].close()


def test_draw_a_weeks_sample_from_pacs_retrieves_only_the_sampled_exam(
    qtbot, db: Database, orthanc: OrthancServer
) -> None:
    """Site → Draw a week's sample → From PACS…: the PACS dialog gets that week's mammograms and
    the sampling settings; after retrieving the sampled exam the week can be drawn locally."""
    import datetime as dt

    from auditdesk.exchange.pacs.nodes import NodeConfig, save_node
    from auditdesk.ui.common import pydate
    from auditdesk.ui.qi.sampling_dialog import SamplingDialog

    with db.transaction() as s:
        save_node(s, NodeConfig(name="web", protocol="dicomweb", url=f"{orthanc.http}/dicom-web"))
    sampler = SamplingDialog(db)
    qtbot.addWidget(sampler)
    assert not sampler.draw_button.isEnabled()  # nothing indexed yet
    sampler.mode_combo.setCurrentIndex(sampler.mode_combo.findData("overall"))
    sampler.n_spin.setValue(1)
    sampler.seed_edit.setText("3")
    pacs = sampler.from_pacs()
    first, last = pydate(pacs.date_from.date()), pydate(pacs.date_to.date())
    assert (last - first, first.weekday()) == (dt.timedelta(days=6), 6)  # a Sunday-Saturday week
    assert (pacs.modality.currentData(), pacs.sample_n.value()) == ("MG", 1)
    assert (pacs.sample_mode.currentData(), pacs.sample_seed.text()) == ("overall", "3")

    # The test set's mammograms are in the week of Sunday 2026-03-01.
    pacs.preset_sample(dt.date(2026, 3, 1), n=1, mode="overall", seed="3")
    with qtbot.waitSignal(pacs.search().done, timeout=20000):
        pass
    assert pacs.table.rowCount() == 2
    assert len(pacs.draw_sample()) == 1
    with qtbot.waitSignal(pacs.imported, timeout=60000):
        pacs.retrieve(selected_only=True)
    with db.session() as s:
        assert len(list_studies(s)) == 1
    assert sampler.draw_button.isEnabled()
    assert sampler.week() == dt.date(2026, 3, 1)
    pacs.close()
