"""Opening exam after exam keeps memory bounded (issue 15): the decode cache never holds
more than its byte budget, and an old exam's decoded images and rendered frames are freed
once they are neither cached nor on screen. No RSS threshold: object lifetimes are what
decide memory, and they do not depend on the machine."""

from __future__ import annotations

import gc
import weakref
from datetime import date, timedelta

import numpy as np
import pytest

from auditdesk.dicom.loader import DisplayLoader, LoadedImage

pytestmark = pytest.mark.gui

N_EXAMS = 7


@pytest.fixture(scope="module")
def exams_folder(tmp_path_factory):
    from auditdesk.demo.generator import generate_mammo_study

    folder = tmp_path_factory.mktemp("exams")
    for i in range(N_EXAMS):
        generate_mammo_study(
            folder,
            seed=500 + i,
            index=i + 1,
            procedure_date=date(2026, 2, 1) + timedelta(days=i),
            technologist="MEM",
            size=(256, 208),
        )
    return folder


def test_cache_budget_and_old_exams_are_freed(qtbot, db, exams_folder) -> None:
    from auditdesk.dicom.index import import_paths
    from auditdesk.dicom.loader import loaded_nbytes
    from auditdesk.ui.main_window import MainWindow

    import_paths(db, [exams_folder])
    # One 256x208 uint16 frame + its uint8 render = 256*208*3 = 159,744 bytes, so a budget of
    # 6 such images holds one exam and a half: the cache must evict on every exam.
    one_image = 256 * 208 * 3
    budget = 6 * one_image
    loader = DisplayLoader(workers=1, cache_bytes=budget)
    win = MainWindow(db, loader=loader, ask_reviewer=False)
    qtbot.addWidget(win)
    win.show()
    try:
        view_menu = next(a.menu() for a in win.menuBar().actions() if a.text() == "&View")
        assert "Image &memory…" in [a.text() for a in view_menu.actions()]  # the budget's dialog
        order = win.worklist._visible_order()
        assert len(order) == N_EXAMS
        win.open_exam(order[0])
        old_images: list[weakref.ref] = []
        old_frames: list[weakref.ref] = []
        for step in range(1, N_EXAMS):
            qtbot.waitUntil(win.exam_loaded, timeout=120000)
            shown = [r for r in win.hanging_view.results.values() if isinstance(r, LoadedImage)]
            assert len(shown) == 4
            assert all(loaded_nbytes(r) == one_image for r in shown)  # uint16 + uint8, no float
            old_images += [weakref.ref(r) for r in shown]
            old_frames += [
                weakref.ref(v.array)
                for v in win.hanging_view.viewports.values()
                if v.array is not None
            ]
            win.open_exam(order[step])
            qtbot.waitUntil(win.exam_loaded, timeout=120000)
            qtbot.wait(50)  # let prefetches finish and be counted
            assert loader.stats.bytes <= budget
            assert loader.stats.peak_bytes <= budget
            assert len(loader.stats.prefetched) <= 64
        del shown  # the test's own references go first
        gc.collect()
        on_screen = {id(r) for r in win.hanging_view.results.values()}
        alive = [ref() for ref in old_images if ref() is not None]
        for image in alive:  # anything still alive must be in the cache (LRU) or on screen
            assert id(image) in on_screen or loader.cached(image.location), image.location
        # The cache holds at most 6 images: of 4 x 6 old ones, at least 18 are gone.
        assert len(alive) <= 6
        # An old viewport frame may live on only as (a view of) a cached image's render.
        cached_renders = [image.display.array for image in alive]
        for ref in old_frames:
            frame = ref()
            assert frame is None or any(np.shares_memory(frame, a) for a in cached_renders)
    finally:
        win.close()
        loader.shutdown()


def test_image_memory_dialog_saves_the_budget_and_applies_it(qtbot, tmp_path, monkeypatch):
    from auditdesk.runtime import app_settings
    from auditdesk.ui.common.memory_dialog import ImageMemoryDialog

    monkeypatch.setenv("AUDITDESK_HOME", str(tmp_path))

    class Loader:  # the dialog only calls set_cache_bytes
        budget = None

        def set_cache_bytes(self, value: int) -> None:
            self.budget = value

    loader = Loader()
    dialog = ImageMemoryDialog(loader)  # type: ignore[arg-type]
    qtbot.addWidget(dialog)
    assert dialog.budget.value() == 384  # the default, in MiB
    assert dialog.budget.minimum() == 64
    dialog.budget.setValue(512)
    dialog.accept()
    assert app_settings.decode_cache_bytes() == 512 * 1024 * 1024  # stored in bytes
    assert loader.budget == 512 * 1024 * 1024
