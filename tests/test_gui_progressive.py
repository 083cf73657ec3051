"""Progressive display of JPEG 2000 mammograms in the 2x2 hanging: a reduced level first, the
full image swapped in without moving the view, the window or the measurements."""

from __future__ import annotations

from concurrent.futures import Future
from datetime import date

import numpy as np
import pytest
from PySide6.QtCore import QPointF

from auditdesk.dicom.index import import_paths
from auditdesk.dicom.loader import LoadedImage, load_for_display, load_preview
from auditdesk.dicom.orientation import apply_transform
from auditdesk.reading.hanging import MAMMO_SLOTS, hang_mammo, slot_transform
from auditdesk.store.catalog import list_studies

pytestmark = pytest.mark.gui


class HeldLoader:
    """The DisplayLoader interface, decoding in this process: previews at once, full images
    only when the test releases them (so the preview is on screen first, deterministically)."""

    def __init__(self) -> None:
        self.full: dict = {}
        self.preview_targets: list[int] = []

    def cached(self, loc, frame=0, voi_name=None) -> bool:
        return False

    def submit_preview(self, loc, frame=0, target=1024) -> Future:
        self.preview_targets.append(target)
        future: Future = Future()
        future.set_result(load_preview(loc, frame, target))
        return future

    def submit(self, loc, frame=0, voi_name=None) -> Future:
        future: Future = Future()
        self.full[loc] = future
        return future

    def release(self) -> None:
        for loc, future in self.full.items():
            future.set_result(load_for_display(loc))


@pytest.fixture
def j2k_exam(db, tmp_path):
    """A 4-view lossless JPEG 2000 exam (2047 x 1663: a preview level is smaller than the
    viewport's request of at least 512 px), imported and hung."""
    from pydicom.uid import JPEG2000Lossless

    from auditdesk.demo.mammo import generate_mammo_study

    generate_mammo_study(
        tmp_path / "exam",
        seed=3,
        index=1,
        procedure_date=date(2026, 2, 2),
        technologist=None,
        transfer_syntax=JPEG2000Lossless,
        size=(2047, 1663),
        bits_stored=12,
        windows=1,
    )
    import_paths(db, [tmp_path / "exam"])
    with db.session() as session:
        (study,) = list_studies(session, kind="mammo")
    return study


@pytest.fixture
def hanging(qtbot):
    from auditdesk.ui.reading.hanging_view import MammoHangingView

    loader = HeldLoader()
    view = MammoHangingView(loader)
    qtbot.addWidget(view)
    view.resize(800, 1000)
    view.show()
    qtbot.waitExposed(view)
    return view, loader


def _check_preview_placement(vp) -> None:
    """Preview pixel i covers full pixels [i * 2**r, (i + 1) * 2**r); the side rounded up
    overhangs the full image by (shown * 2**r - full) pixels on the far side, or on the near
    side where the hanging flips that axis (the origin is then negative)."""
    scale = 2**vp.preview_level
    rows_s, cols_s = vp.stored_shape
    rows_d, cols_d = (cols_s, rows_s) if vp.transform.transpose else (rows_s, cols_s)
    shown_r, shown_c = vp.array.shape[:2]
    x0 = cols_d - shown_c * scale if vp.transform.flip_left_right else 0
    y0 = rows_d - shown_r * scale if vp.transform.flip_up_down else 0
    rect = vp.image_item.mapRectToParent(vp.image_item.boundingRect())
    aspect = vp._aspect
    assert (rect.left(), rect.top()) == pytest.approx((x0, y0 * aspect))
    assert (rect.width(), rect.height()) == pytest.approx(
        (shown_c * scale, shown_r * scale * aspect)
    )


def _click(viewport, view_xy) -> None:
    viewport._tool_click(viewport.view.mapViewToScene(QPointF(*view_xy)))


def test_preview_first_then_full_swapped_in_without_moving_anything(
    qtbot, hanging, j2k_exam, tmp_path
):
    view, loader = hanging
    painted: list[bool] = []
    view.all_slots_painted.connect(lambda: painted.append(True))
    view.show_hanging(j2k_exam, hang_mammo(j2k_exam))
    qtbot.waitUntil(view.all_painted, timeout=30000)
    assert painted == [True] and not view.all_loaded()
    before = {}
    for slot in MAMMO_SLOTS:
        vp = view.viewports[slot]
        assert vp.is_preview, slot
        assert "preview" in vp.info.text()
        # 2047 rows: ceil(2047 / 2) = 1024 >= the request (>= 512), ceil(2047 / 4) = 512 too
        # when the request is 512; the level follows the viewport's size.
        level = vp.preview_level
        assert level >= 1 and vp.array.shape[:2] in {
            (-(-2047 // 2**level), -(-1663 // 2**level)),
            (-(-1663 // 2**level), -(-2047 // 2**level)),
        }
        assert vp.stored_shape == (2047, 1663)  # measurements in full-resolution pixels
        _check_preview_placement(vp)
    assert min(loader.preview_targets) >= 512
    view.grab().save(str(tmp_path / "preview.png"))

    # The user works on the preview: window/level, zoom, invert one view, measure on another.
    rmlo, rcc = view.viewports["RMLO"], view.viewports["RCC"]
    rmlo.set_window(1500.0, 900.0)
    rmlo.toggle_invert()
    rmlo.set_view_range((300.0, 900.0), (400.0, 1100.0))
    rcc.set_tool("ruler")
    done = []
    rcc.measurement_done.connect(done.append)
    points_view = [(400.5, 600.25), (1200.75, 1500.5)]
    for p in points_view:
        _click(rcc, p)
    assert len(done) == 1
    on_preview = done[0]
    for slot in MAMMO_SLOTS:
        vp = view.viewports[slot]
        before[slot] = (vp.voi, vp.inverted, vp.view.viewRange(), vp.stored_shape)

    loader.release()
    qtbot.waitUntil(view.all_loaded, timeout=30000)
    view.grab().save(str(tmp_path / "full.png"))
    for slot in MAMMO_SLOTS:
        vp = view.viewports[slot]
        assert not vp.is_preview, slot
        assert "preview" not in vp.info.text()
        voi, inverted, view_range, stored_shape = before[slot]
        assert vp.voi == voi, slot  # the window shown is kept, never the full image's default
        assert vp.inverted == inverted
        assert np.allclose(vp.view.viewRange(), view_range), slot
        assert vp.stored_shape == stored_shape
        # The full image, rendered through the window that was on screen, hung the same way.
        full = view.results[slot]
        transform = slot_transform(slot, full.patient_orientation)
        expected = apply_transform(full.display.rewindow(voi).array, transform)
        if inverted:
            expected = 255 - expected
        assert (
            vp.array.shape
            == expected.shape
            == ((2047, 1663) if not transform.transpose else (1663, 2047))
        )
        assert np.array_equal(vp.array, expected), slot
    # The measurement made on the preview is still drawn, and the same clicks on the full
    # image give the same stored points and millimetres.
    assert rcc.measurements == [on_preview]
    for p in points_view:
        _click(rcc, p)
    on_full = done[-1]
    assert on_full.points == on_preview.points
    assert on_full.value_mm == pytest.approx(on_preview.value_mm, abs=1e-9)


def test_measurement_on_preview_matches_the_non_progressive_viewer(qtbot, hanging, j2k_exam):
    """Oracle: the same view coordinates in a viewport that never showed a preview."""
    view, loader = hanging
    view.show_hanging(j2k_exam, hang_mammo(j2k_exam))
    qtbot.waitUntil(view.all_painted, timeout=30000)
    rcc = view.viewports["LCC"]
    assert rcc.is_preview
    rcc.set_tool("ruler")
    got = []
    rcc.measurement_done.connect(got.append)
    for p in [(100.0, 200.0), (900.0, 1700.0)]:
        _click(rcc, p)
    loader.release()
    qtbot.waitUntil(view.all_loaded, timeout=30000)

    from auditdesk.ui.reading.viewer import ImageViewport

    plain = ImageViewport()
    qtbot.addWidget(plain)
    plain.resize(rcc.size())
    plain.show()
    full = view.results["LCC"]
    plain.show_loaded(full, slot_transform("LCC", full.patient_orientation))
    plain.set_tool("ruler")
    ref = []
    plain.measurement_done.connect(ref.append)
    for p in [(100.0, 200.0), (900.0, 1700.0)]:
        _click(plain, p)
    # same points up to the scene <-> view round trip of two different viewports (1e-13 px)
    assert np.allclose(got[0].points, ref[0].points, atol=1e-6)
    assert got[0].value_mm == pytest.approx(ref[0].value_mm, abs=1e-9)
    # Independent check of the millimetres: stored points x pixel spacing, by hand.
    (x0, y0), (x1, y1) = ref[0].points
    cal = full.calibration
    assert ref[0].value_mm == pytest.approx(
        float(np.hypot((x1 - x0) * cal.col_mm, (y1 - y0) * cal.row_mm)), rel=1e-9
    )


def test_cached_full_images_skip_the_preview(qtbot, hanging, j2k_exam):
    view, loader = hanging
    loader.cached = lambda *a, **k: True
    loader.release_now = True
    view.show_hanging(j2k_exam, hang_mammo(j2k_exam))
    assert loader.preview_targets == []
    loader.release()
    qtbot.waitUntil(view.all_loaded, timeout=30000)
    assert not any(vp.is_preview for vp in view.viewports.values())


def test_single_image_preview_then_full_in_the_main_window(qtbot, db, j2k_exam):
    from auditdesk.ui.main_window import MainWindow

    class Held(HeldLoader):
        def prefetch(self, items) -> None:
            pass

        def cancel_prefetch(self) -> int:
            return 0

    loader = Held()
    win = MainWindow(db, loader=loader, ask_reviewer=False)
    qtbot.addWidget(win)
    win.show()
    image_id = next(i for i, (_s, _series, image) in win._images.items() if image.view == "CC")
    win.show_image(image_id)
    qtbot.waitUntil(lambda: win.viewport.is_preview, timeout=30000)
    win.viewport.set_window(1200.0, 700.0)
    shown_voi = win.viewport.voi
    view_range = win.viewport.view.viewRange()
    loader.release()
    qtbot.waitUntil(lambda: isinstance(win.last_loaded, LoadedImage), timeout=30000)
    assert not win.viewport.is_preview
    assert win.viewport.voi == shown_voi
    assert np.allclose(win.viewport.view.viewRange(), view_range)
    assert win.viewport.stored_shape == (2047, 1663)
    assert win.viewport.array.shape[:2] in {(2047, 1663), (1663, 2047)}


def test_computed_default_window_of_the_preview_is_kept_for_the_full_image(
    qtbot, hanging, j2k_exam
):
    """No window in the file: the default is a range computed from the pixels. The preview's
    range (from its reduced pixels) stays on screen; the full image does not jump to its own."""
    import pydicom

    view, loader = hanging
    for series in j2k_exam.series:
        for image in series.images:
            ds = pydicom.dcmread(image.path)
            for keyword in ("WindowCenter", "WindowWidth", "WindowCenterWidthExplanation"):
                if keyword in ds:
                    delattr(ds, keyword)
            ds.save_as(image.path)
    view.show_hanging(j2k_exam, hang_mammo(j2k_exam))
    qtbot.waitUntil(view.all_painted, timeout=30000)
    shown = {slot: view.viewports[slot].voi for slot in MAMMO_SLOTS}
    assert all(v.kind == "range" and v.name == "Full range" for v in shown.values())
    loader.release()
    qtbot.waitUntil(view.all_loaded, timeout=30000)
    for slot in MAMMO_SLOTS:
        vp, full = view.viewports[slot], view.results[slot]
        assert full.display.voi.kind == "range"
        assert full.display.voi != shown[slot]  # the full image's own range differs a little
        assert vp.voi == shown[slot]
        transform = slot_transform(slot, full.patient_orientation)
        expected = apply_transform(full.display.rewindow(shown[slot]).array, transform)
        assert np.array_equal(vp.array, expected)
        vp.reset()  # R: back to the default of this viewing, the preview's range
        assert vp.voi == shown[slot]


def test_preview_of_a_mirrored_exam_lines_up_with_the_full_image(qtbot, hanging, db, tmp_path):
    """Stored mirrored, so the hanging flips: the rounded-up overhang must go to the near side
    (otherwise the preview sits up to 2**r - 1 pixels off the full image)."""
    from pydicom.uid import JPEG2000Lossless

    from auditdesk.demo.mammo import generate_mammo_study

    generate_mammo_study(
        tmp_path / "mirrored",
        seed=4,
        index=1,
        procedure_date=date(2026, 2, 3),
        technologist=None,
        transfer_syntax=JPEG2000Lossless,
        size=(2047, 1663),
        bits_stored=12,
        windows=1,
        mirrored=True,
    )
    import_paths(db, [tmp_path / "mirrored"])
    with db.session() as session:
        (study,) = list_studies(session, kind="mammo")
    view, loader = hanging
    view.show_hanging(study, hang_mammo(study))
    qtbot.waitUntil(view.all_painted, timeout=30000)
    flips = set()
    for slot in MAMMO_SLOTS:
        vp = view.viewports[slot]
        assert vp.is_preview
        _check_preview_placement(vp)
        flips.add(vp.transform.flip_left_right)
        assert -(-1663 // 2**vp.preview_level) * 2**vp.preview_level > 1663  # an overhang
    assert True in flips
    loader.release()
    qtbot.waitUntil(view.all_loaded, timeout=30000)
    for slot in MAMMO_SLOTS:
        rect = view.viewports[slot].image_item.mapRectToParent(
            view.viewports[slot].image_item.boundingRect()
        )
        assert (rect.left(), rect.top(), rect.width()) == pytest.approx((0.0, 0.0, 1663.0))
