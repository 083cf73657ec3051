"""Decode images for display in worker processes.

JPEG 2000 mammograms take 1-2 s each to decode and the decoders hold the GIL, so threads do not
help (shared/reference/env-notes.md 4a); a small process pool does, and keeps the GUI responsive.
The pool is started once and reused; callers get ``concurrent.futures.Future`` objects.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass

from auditdesk.dicom.calibration import Calibration, calibration
from auditdesk.dicom.classify import is_mammography
from auditdesk.dicom.display import DisplayImage, VOIPreset, to_display, voi_presets
from auditdesk.dicom.orientation import MammoTransform, dataset_mammo_transform
from auditdesk.dicom.pixels import number_of_frames, read_dataset
from auditdesk.dicom.sources import Location, open_location


@dataclass
class LoadedImage:
    """Everything a viewport needs for one frame, computed off the GUI thread."""

    location: Location
    display: DisplayImage
    presets: list[VOIPreset]
    calibration: Calibration
    patient_orientation: tuple[str, ...]
    n_frames: int
    # How to hang a mammogram (chest wall side, head up); identity for other images.
    transform: MammoTransform


def load_for_display(loc: Location, frame: int = 0, voi_name: str | None = None) -> LoadedImage:
    """Read, decode and window one frame (runs in a worker process)."""
    with open_location(loc) as fp:
        ds = read_dataset(fp)
    image = to_display(ds, frame=frame)
    # The file's own windows need no pixel statistics; only a file without any gets the
    # computed range, which to_display has already chosen as its default.
    presets = voi_presets(ds, frame=frame) if image.voi.kind != "range" else [image.voi]
    if voi_name:
        chosen = next((p for p in presets if p.name == voi_name), None)
        if chosen is not None and chosen != image.voi:
            image = image.rewindow(chosen)
    orientation = tuple(str(v) for v in (ds.get("PatientOrientation") or ()))
    transform = (
        dataset_mammo_transform(ds)
        if is_mammography(ds)
        else MammoTransform(flip_left_right=False, flip_up_down=False)
    )
    return LoadedImage(
        location=loc,
        display=image,
        presets=presets,
        calibration=calibration(ds, frame=frame),
        patient_orientation=orientation,
        n_frames=number_of_frames(ds),
        transform=transform,
    )


def result_of(future: Future[LoadedImage]) -> LoadedImage | Exception:
    """The loaded image, or the exception that explains why not (a PixelDataError sentence)."""
    try:
        return future.result()
    except Exception as exc:
        return exc


def display_aspect(cal: Calibration, transform: MammoTransform) -> float:
    """Displayed row spacing / column spacing (non-square pixels), after a possible transpose."""
    if not (cal.row_mm and cal.col_mm):
        return 1.0
    aspect = cal.row_mm / cal.col_mm
    return 1.0 / aspect if transform.transpose else aspect


class DisplayLoader:
    """A reusable pool of decode processes (``spawn``: safe next to Qt's threads)."""

    def __init__(self, workers: int = 2) -> None:
        self._pool = ProcessPoolExecutor(
            max_workers=workers, mp_context=multiprocessing.get_context("spawn")
        )

    def submit(
        self, loc: Location, frame: int = 0, voi_name: str | None = None
    ) -> Future[LoadedImage]:
        return self._pool.submit(load_for_display, loc, frame, voi_name)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
