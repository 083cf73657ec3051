"""How much the display pipeline costs per 4-view mammography study, against reading the bytes.

Run:  .venv/bin/python benchmarks/bench_display.py [--quick] [--runs N]

Writes a synthetic 4-view study (R/L x CC/MLO, 4096 x 3328 uint16, 12 bits stored; 1024 x 832
with --quick) to a temporary folder twice, uncompressed (Explicit VR Little Endian) and
JPEG 2000 lossless, then times per study (median of N runs, warm page cache):

* raw read: ``np.fromfile`` of the 4 files (the I/O floor, measured in the same run);
* decode: ``read_dataset`` + ``decode_frame``;
* display: ``read_dataset`` + ``to_display`` (uint8), i.e. decode + modality LUT + VOI +
  polarity, at full resolution;
* display reduced: the same with the reduction the viewer's worker uses
  (``display_scale.display_reduction``: every 3rd pixel of a 4096 x 3328 view, full
  resolution for smaller ones); this is the "file to screen" figure of issue 15;
* worker result: ``load_for_display`` (display reduced + presets + calibration), then the
  pickle round trip that carries it (rendered frame + stored uint16 values) back from the
  decode process;
* with GDCM installed, JPEG 2000 decode with each available pydicom plug-in;
* progressive JPEG 2000: first paint of the 4 views from the reduced resolution level a
  viewport needs (longest side >= rows / 4: 1024 px for 4096 rows, level 2) against the full
  decode of the same, in process and through ``DisplayLoader`` with 2 worker processes
  (time until all four previews / all four full images are back, as the hanging asks).

Figures only, no assertions. The study is made here (not with the project's demo generator)
so the benchmark does not depend on it.
"""

from __future__ import annotations

import argparse
import pickle
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.pixels import pixel_array
from pydicom.uid import ExplicitVRLittleEndian, JPEG2000Lossless, generate_uid

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "src") not in sys.path:  # runnable from a checkout without installing
    sys.path.insert(0, str(ROOT / "src"))

from auditdesk.dicom.display import to_display  # noqa: E402
from auditdesk.dicom.display_scale import display_reduction  # noqa: E402
from auditdesk.dicom.loader import load_for_display  # noqa: E402
from auditdesk.dicom.pixels import decode_frame, read_dataset  # noqa: E402
from auditdesk.dicom.sources import Location  # noqa: E402

MG_FOR_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.2"
VIEWS = (("R", "CC"), ("L", "CC"), ("R", "MLO"), ("L", "MLO"))


def synthetic_breast(rows: int, cols: int, laterality: str, seed: int) -> np.ndarray:
    """Half-ellipse 'breast' against the chest wall, low-frequency texture + noise, 12 bit."""
    rng = np.random.default_rng(seed)
    y = (np.arange(rows, dtype=np.float32) - rows / 2) / (rows * 0.45)
    x = np.arange(cols, dtype=np.float32) / (cols * 0.8)  # 0 at the chest wall
    r2 = y[:, None] ** 2 + x[None, :] ** 2
    inside = r2 < 1.0
    coarse = rng.normal(0.0, 1.0, size=(rows // 64 + 2, cols // 64 + 2)).astype(np.float32)
    texture = np.repeat(np.repeat(coarse, 64, axis=0), 64, axis=1)[:rows, :cols]
    thickness = np.sqrt(np.clip(1.0 - r2, 0.0, 1.0))
    image = np.where(inside, 1400.0 + 1300.0 * thickness + 250.0 * texture, 60.0)
    image += rng.normal(0.0, 25.0, size=(rows, cols)).astype(np.float32)
    image = np.clip(image, 0, 4095).astype(np.uint16)
    if laterality == "R":  # chest wall on the right for a right breast
        image = image[:, ::-1]
    return np.ascontiguousarray(image)


def make_dataset(pixels: np.ndarray, laterality: str, view: str) -> Dataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = MG_FOR_PRESENTATION
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = MG_FOR_PRESENTATION
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "MG"
    ds.PatientName = "BENCH^SYNTHETIC"
    ds.PatientID = "BENCH"
    ds.StudyInstanceUID = "1.2.826.0.1.3680043.8.498.1"
    ds.SeriesInstanceUID = generate_uid()
    ds.PresentationIntentType = "FOR PRESENTATION"
    ds.ImageLaterality = laterality
    ds.ViewPosition = view
    # Conventional storage: chest wall (P) on the right for R, on the left for L.
    if view == "CC":
        ds.PatientOrientation = ["P", "L"] if laterality == "R" else ["A", "R"]
    else:
        ds.PatientOrientation = ["P", "FL"] if laterality == "R" else ["A", "FR"]
    ds.ImagerPixelSpacing = [0.07, 0.07]
    ds.WindowCenter = [2400, 2300]
    ds.WindowWidth = [1600, 2000]
    ds.WindowCenterWidthExplanation = ["NORMAL", "SOFTER"]
    ds.VOILUTFunction = "SIGMOID"
    ds.RescaleSlope = 1
    ds.RescaleIntercept = 0
    ds.PresentationLUTShape = "IDENTITY"
    ds.set_pixel_data(pixels, "MONOCHROME2", 12)
    return ds


def write_study(folder: Path, rows: int, cols: int) -> tuple[list[Path], list[Path]]:
    """Return (uncompressed files, J2K lossless files); prints how long encoding took."""
    plain, j2k = [], []
    for i, (lat, view) in enumerate(VIEWS):
        pixels = synthetic_breast(rows, cols, lat, seed=i)
        ds = make_dataset(pixels, lat, view)
        path = folder / f"{lat}{view}.dcm"
        ds.save_as(path, enforce_file_format=True)
        plain.append(path)
        t0 = time.perf_counter()
        ds.compress(JPEG2000Lossless, encoding_plugin="pylibjpeg")
        encode = time.perf_counter() - t0
        path_j2k = folder / f"{lat}{view}_j2k.dcm"
        ds.save_as(path_j2k, enforce_file_format=True)
        j2k.append(path_j2k)
        print(
            f"  wrote {path.name}: {path.stat().st_size / 1e6:.2f} MB, "
            f"J2K {path_j2k.stat().st_size / 1e6:.2f} MB (encode {encode:.2f} s)"
        )
    return plain, j2k


def timed(
    fn: Callable[[], object], runs: int, warm_up: bool = True
) -> tuple[float, float, float, float]:
    """(median, min, max) wall ms and median CPU ms over ``runs`` calls (after a warm-up).

    CPU time is reported because a codec that decodes with several threads (GDCM's JPEG 2000)
    looks faster in wall time on an idle machine but gains nothing in a process pool that
    already keeps every core busy.
    """
    if warm_up:
        fn()
    wall, cpu = [], []
    for _ in range(runs):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - w0) * 1000.0)
        cpu.append((time.process_time() - c0) * 1000.0)
    return statistics.median(wall), min(wall), max(wall), statistics.median(cpu)


def per_study(files: list[Path], op: Callable[[Path], object]) -> Callable[[], None]:
    def run() -> None:
        for f in files:
            op(f)

    return run


def raw_read(path: Path) -> np.ndarray:
    return np.fromfile(path, dtype=np.uint8)


def decode_only(path: Path) -> np.ndarray:
    return decode_frame(read_dataset(path))


def display_uint8(path: Path) -> np.ndarray:
    return to_display(read_dataset(path)).array


def display_reduced(path: Path) -> np.ndarray:
    ds = read_dataset(path)
    return to_display(ds, reduction=display_reduction(int(ds.Rows), int(ds.Columns))).array


def worker_result(path: Path) -> object:
    """What a decode process computes and what crossing back to the window costs."""
    return pickle.loads(pickle.dumps(load_for_display(Location(str(path))), protocol=5))


def stages_only(files: list[Path]) -> Callable[[], None]:
    """Modality LUT + VOI + polarity + 8 bit on already decoded frames (DisplayImage.rewindow)."""
    images = [to_display(read_dataset(f)) for f in files]

    def run() -> None:
        for image in images:
            image.rewindow(image.voi)

    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1024 x 832 images (seconds)")
    parser.add_argument("--runs", type=int, default=None, help="timed runs per figure")
    args = parser.parse_args(argv)
    rows, cols = (1024, 832) if args.quick else (4096, 3328)
    runs = args.runs or (3 if args.quick else 5)
    warnings.simplefilter("ignore")

    print(f"Synthetic 4-view study {rows} x {cols} uint16 (12 bits stored), median of {runs} runs")
    with tempfile.TemporaryDirectory(prefix="auditdesk-bench-") as tmp:
        plain, j2k = write_study(Path(tmp), rows, cols)

        table = []
        for label, files in (("uncompressed", plain), ("J2K lossless", j2k)):
            base = timed(per_study(files, raw_read), runs)
            table.append((label, "raw read (np.fromfile)", base, base[0]))
            table.append(
                (label, "read + decode", timed(per_study(files, decode_only), runs), base[0])
            )
            table.append(
                (
                    label,
                    "read + decode + display uint8",
                    timed(per_study(files, display_uint8), runs),
                    base[0],
                )
            )
            table.append(
                (
                    label,
                    "read + decode + display reduced",
                    timed(per_study(files, display_reduced), runs),
                    base[0],
                )
            )
            table.append(
                (
                    label,
                    "worker result + pickle round trip",
                    timed(per_study(files, worker_result), runs),
                    base[0],
                )
            )
            table.append((label, "display stages alone", timed(stages_only(files), runs), base[0]))
        progressive = progressive_rows(j2k, rows // 4, runs)

        print()
        header = f"{'variant':14s} {'per 4-view study':33s} {'wall ms':>9s} {'min-max':>17s}"
        print(header + f" {'x raw':>7s} {'cpu ms':>9s}")
        for label, what, (med, lo, hi, cpu), base_ms in table:
            spread = f"{lo:.1f}-{hi:.1f}"
            print(
                f"{label:14s} {what:33s} {med:9.1f} {spread:>17s} {med / base_ms:7.1f} {cpu:9.1f}"
            )
        print(
            f"\n{'JPEG 2000 progressive, per 4-view study':46s} {'wall ms':>9s} {'min-max':>17s}",
            end="",
        )
        print(f" {'x full':>7s}")
        for _label, what, (med, lo, hi, _cpu), base_ms in progressive:
            spread = f"{lo:.1f}-{hi:.1f}"
            print(f"{what:46s} {med:9.1f} {spread:>17s} {med / base_ms:7.2f}")

        try:
            import gdcm  # noqa: F401
        except ImportError:
            print("\nGDCM not installed: no per-plug-in comparison.")
            return 0
        from pydicom.pixels import get_decoder

        plugins = sorted(get_decoder(JPEG2000Lossless).available_plugins)
        reference = [decode_only(p) for p in plain]
        print(f"\nJPEG 2000 lossless decode per plug-in (per 4-view study, median of {runs}):")
        print(f"{'plug-in':12s} {'wall ms':>9s} {'min-max':>17s} {'cpu ms':>9s} {'identical':>10s}")
        for plugin in plugins:

            def decode_with(path: Path, plugin: str = plugin) -> np.ndarray:
                return pixel_array(str(path), decoding_plugin=plugin)

            try:  # the equality check doubles as the warm-up
                same = all(
                    np.array_equal(decode_with(p), ref)
                    for p, ref in zip(j2k, reference, strict=True)
                )
                med, lo, hi, cpu = timed(per_study(j2k, decode_with), runs, warm_up=False)
            except Exception as exc:  # a plug-in that cannot decode is a figure too
                print(f"{plugin:12s} failed: {exc}")
                continue
            spread = f"{lo:.1f}-{hi:.1f}"
            print(f"{plugin:12s} {med:9.1f} {spread:>17s} {cpu:9.1f} {same!s:>10s}")
    return 0


def progressive_rows(files: list[Path], target: int, runs: int) -> list[tuple]:
    """Table rows for the JPEG 2000 first paint (reduced level) against the full decode.

    The baseline of each ratio is the full path measured in the same run: ``to_display`` in
    process, and all four full images through a 2-worker ``DisplayLoader`` (spawned and warmed
    up before timing, its cache cleared before every run).
    """
    from concurrent.futures import wait

    from auditdesk.dicom.loader import DisplayLoader
    from auditdesk.dicom.reduced import reduced_display
    from auditdesk.dicom.sources import Location

    def reduced_uint8(path: Path) -> np.ndarray:
        found = reduced_display(read_dataset(path), 0, target)
        assert found is not None, "no reduced level: not the progressive path"
        return found[0].array

    label = "J2K progressive"
    full = timed(per_study(files, display_uint8), runs)
    rows = [
        (label, "display uint8, full decode", full, full[0]),
        (
            label,
            f"display uint8, reduced (>= {target} px)",
            timed(per_study(files, reduced_uint8), runs),
            full[0],
        ),
    ]
    locations = [Location(str(f)) for f in files]
    loader = DisplayLoader(workers=2)
    try:
        wait([loader.submit_preview(loc, 0, target) for loc in locations])  # spawn + import

        def full_only() -> None:
            loader.clear_cache()
            wait([loader.submit(loc) for loc in locations])

        first_paint: list[float] = []

        def progressive() -> None:
            loader.clear_cache()
            t0 = time.perf_counter()
            previews = [loader.submit_preview(loc, 0, target) for loc in locations]
            fulls = [loader.submit(loc) for loc in locations]
            wait(previews)
            first_paint.append((time.perf_counter() - t0) * 1000.0)
            wait(fulls)

        pool_full = timed(full_only, runs)
        pool_both = timed(progressive, runs)
        painted = statistics.median(first_paint[1:])  # [0] was the warm-up call
        lo, hi = min(first_paint[1:]), max(first_paint[1:])
        rows += [
            (label, "2 workers: 4 full images", pool_full, pool_full[0]),
            (label, "2 workers: 4 previews on screen", (painted, lo, hi, 0.0), pool_full[0]),
            (label, "2 workers: then 4 full images", pool_both, pool_full[0]),
        ]
    finally:
        loader.shutdown()
    return rows


if __name__ == "__main__":
    raise SystemExit(main())
