"""One synthetic-data generator for ``auditdesk demo`` and for the test fixtures.

Why one generator: the demo a user clicks through and the fixtures the tests assert on should
exercise the same corner cases (MONOCHROME1, JPEG 2000, FOR PROCESSING series, spot/mag views,
four vendor b-value conventions, shuffled MR numbering) and carry the same ground truth, so a
bug found in one shows up in the other.

Everything is deterministic for a given seed: pixels come from ``numpy.random.Generator`` streams
seeded with ``(seed, index, purpose)`` and UIDs are ``2.25`` UIDs of name-based UUIDs of the same
values (plus kind and procedure date), so regenerating gives byte-identical files. No real data
is copied; patients are "DEMO^PATIENT-nnnn".

Layout: this module builds the collections (the demo, the test set, the index corpus) and
re-exports the public names; the writers are ``mammo.py`` and ``mr.py``, the result types and
``manifest.json`` are in ``manifest.py``, and the seeding/patient helpers both writers share are
in ``common.py``.

Conventions (also written into each study's ``truth``):

* Mammography Patient Orientation: first value = direction of increasing column index, second =
  direction of increasing row index. Standard hanging: RCC ``P\\L``, LCC ``A\\R``, RMLO ``P\\FL``,
  LMLO ``A\\FR``. So the chest wall is on the RIGHT image edge for right breasts and on the LEFT
  edge for left breasts (first value P => chest wall at the last column). ``mirrored=True`` stores
  the pixels flipped with the first value swapped, which keeps the two consistent.
* Positioning measurements are in mm in the detector plane: pixels x ImagerPixelSpacing (no
  magnification correction; EstimatedRadiographicMagnificationFactor is in the header). Pixel
  coordinates in ``truth`` are (row, column) indices of the stored image (pixel centres at
  integers).
* PNL (MLO): from the nipple, perpendicular to the anterior pectoral edge, ending on that edge or
  on the chest-wall image edge, whichever comes first. PNL (CC): nipple straight back to the
  chest-wall image edge. ``pectoral_to_pnl_mm``: how far the inferior end of the pectoral edge
  lies above the PNL (measured along the edge); <= 0 means the muscle reaches the PNL.
* MR ``slice_index``: 0 = most inferior slice (lowest Image Position (Patient) z), increasing
  superiorly. Instance numbers and file names deliberately differ from that order.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from pydicom.uid import ExplicitVRLittleEndian, JPEG2000Lossless

from auditdesk.demo import headers as hdr
from auditdesk.demo.common import MONO1, MONO2, _rng
from auditdesk.demo.mammo import MAMMO_QUALITIES, generate_mammo_study
from auditdesk.demo.manifest import GeneratedFile, GeneratedStudy, Manifest
from auditdesk.demo.mr import _MR_PROTOCOLS, generate_mr_study

__all__ = [
    "DEFAULT_END_DATE",
    "DEFAULT_TECHNOLOGISTS",
    "MAMMO_QUALITIES",
    "MR_VENDORS",
    "GeneratedFile",
    "GeneratedStudy",
    "Manifest",
    "generate_demo",
    "generate_index_corpus",
    "generate_mammo_study",
    "generate_mr_study",
    "generate_test_set",
]

MR_VENDORS = hdr.VENDORS
#: Pseudonymous technologists, with the spelling variants and blanks real Operators' Name has.
DEFAULT_TECHNOLOGISTS = ("SMITH^JANE", "J.S.", "DOE^ALEX", "DOE^A", "", "NGUYEN^SAM")
#: Fixed default so ``generate_demo(seed=...)`` is reproducible on any day (a Saturday).
DEFAULT_END_DATE = date(2026, 11, 14)


# --------------------------------------------------------------------------------------------
# Collections: demo, test set, index corpus
# --------------------------------------------------------------------------------------------


def _week_sunday(d: date) -> date:
    return d - timedelta(days=(d.weekday() + 1) % 7)


def _quality_mix(n: int, rng: np.random.Generator) -> list[str]:
    """~60 % good, the rest cycling through every fault scenario, shuffled by seed."""
    n_good = round(0.6 * n)
    faults = [q for q in MAMMO_QUALITIES if q != "good"]
    mix = ["good"] * n_good + [faults[i % len(faults)] for i in range(n - n_good)]
    return [str(q) for q in rng.permutation(np.array(mix, dtype=object))]


def generate_demo(
    out_dir: Path | str,
    *,
    seed: int = 20261115,
    weeks: int = 12,
    mammo_per_week: int = 3,
    mr_exams: int = 4,
    size: tuple[int, int] = (1024, 832),
    technologists: Sequence[str] = DEFAULT_TECHNOLOGISTS,
    end_date: date | None = None,
    progress: Callable[[int, int], None] | None = None,
    workers: int = 1,
    mr_size_scale: float = 1.0,
) -> Manifest:
    """The ``auditdesk demo`` data set: weeks of screening mammograms plus prostate MR exams.

    Procedure dates fall in ``weeks`` Sunday-to-Saturday weeks ending with the week of
    ``end_date`` (default :data:`DEFAULT_END_DATE`, fixed so a seed always gives the same
    files; pass ``date.today()`` for a current-looking demo). The mix is documented in
    ``Manifest.params``: ~60 % good positioning; by position in date order, every 5th study
    (from the 3rd) MONOCHROME1, every 12th (from the 2nd) JPEG 2000 lossless, every 9th (from
    the 5th) with a FOR PROCESSING series, every 16th (from the 4th) with an extra spot/mag/XCCL
    view; MR exams cycle through the four b-value conventions.

    ``mr_size_scale`` shrinks the MR matrices (for tests). ``workers`` > 1 generates studies in
    that many spawned processes (same files: every study has its own seed stream);
    ``progress(done, total)`` is always called from this process.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    end = end_date or DEFAULT_END_DATE
    rng = _rng(seed, 0, 1)
    n_mammo = max(0, weeks * mammo_per_week)
    last_sunday = _week_sunday(end)
    first_sunday = last_sunday - timedelta(weeks=max(weeks, 1) - 1)
    max_offset_last = (end - last_sunday).days
    weights = np.array([0.05, 0.18, 0.18, 0.18, 0.18, 0.17, 0.06])

    dates: list[date] = []
    for i in range(n_mammo):
        w = i // max(mammo_per_week, 1)
        limit = max_offset_last if w == weeks - 1 else 6
        if i == 0:
            off = 0  # a Sunday
        elif i == 1 and limit >= 6:
            off = 6  # a Saturday
        else:
            p = weights[: limit + 1] / weights[: limit + 1].sum()
            off = int(rng.choice(limit + 1, p=p))
        dates.append(first_sunday + timedelta(weeks=w, days=off))
    dates.sort()
    techs = list(technologists) or [""]
    qualities = _quality_mix(n_mammo, rng)
    extras_cycle = [("LCC_SPOTMAG",), ("RXCCL", "RCC_SPOT"), ("RMLO_MAG",)]
    jobs: list[tuple[str, dict[str, Any]]] = []
    j2k_positions, mono1_positions, raw_positions, extra_positions = [], [], [], []
    for pos, d in enumerate(dates):
        mono1 = pos % 5 == 2
        j2k = pos % 12 == 1
        raw = pos % 9 == 4
        extras: tuple[str, ...] = ()
        if pos % 16 == 3:
            extras = extras_cycle[(pos // 16) % len(extras_cycle)]
            extra_positions.append(pos)
        for flag, lst in ((mono1, mono1_positions), (j2k, j2k_positions), (raw, raw_positions)):
            if flag:
                lst.append(pos)
        kw = {
            "seed": seed,
            "index": pos + 1,
            "procedure_date": d,
            "technologist": techs[int(rng.integers(0, len(techs)))],
            "quality": qualities[pos],
            "photometric": MONO1 if mono1 else MONO2,
            "transfer_syntax": JPEG2000Lossless if j2k else ExplicitVRLittleEndian,
            "size": size,
            "extra_views": extras,
            "for_processing": raw,
            "code_scheme": "SCT" if pos % 2 == 0 else "SRT",
            "voi_function": "SIGMOID" if pos % 4 == 1 else "LINEAR",
        }
        jobs.append(("mammo", kw))

    span_days = max((end - first_sunday).days, 1)
    for i in range(mr_exams):
        d = first_sunday + timedelta(days=int((i + 0.5) * span_days / max(mr_exams, 1)))
        if d.weekday() >= 5:  # MR list on weekdays
            d -= timedelta(days=d.weekday() - 4)
        kw = {
            "seed": seed,
            "index": n_mammo + i + 1,
            "procedure_date": d,
            "vendor": hdr.VENDORS[i % len(hdr.VENDORS)],
            "technologist": techs[int(rng.integers(0, len(techs)))],
            "size_scale": mr_size_scale,
        }
        jobs.append(("mr", kw))
    studies = _run_jobs(out_dir, jobs, workers, progress)

    params = {
        "kind": "demo",
        "weeks": weeks,
        "mammo_per_week": mammo_per_week,
        "mr_exams": mr_exams,
        "size": list(size),
        "end_date": end.isoformat(),
        "first_week_start": first_sunday.isoformat(),
        "technologists": techs,
        "mix": {
            "good_fraction": round(sum(q == "good" for q in qualities) / max(n_mammo, 1), 3),
            "qualities": {q: qualities.count(q) for q in MAMMO_QUALITIES},
            "monochrome1_positions": mono1_positions,
            "jpeg2000_positions": j2k_positions,
            "for_processing_positions": raw_positions,
            "extra_view_positions": extra_positions,
            "mr_vendors": [hdr.VENDORS[i % len(hdr.VENDORS)] for i in range(mr_exams)],
        },
    }
    manifest = Manifest(root=out_dir, studies=studies, seed=seed, params=params)
    manifest.write()
    return manifest


def _job(out_dir: Path, kind: str, kw: dict[str, Any]) -> GeneratedStudy:
    if kind == "mammo":
        return generate_mammo_study(out_dir, **kw)
    return generate_mr_study(out_dir, **kw)


def _run_jobs(
    out_dir: Path,
    jobs: list[tuple[str, dict[str, Any]]],
    workers: int,
    progress: Callable[[int, int], None] | None,
) -> list[GeneratedStudy]:
    """Run study jobs serially or in a spawn-based process pool (safe inside a Qt app)."""
    total = len(jobs)
    results: list[GeneratedStudy | None] = [None] * total
    if workers <= 1 or total <= 1:
        for i, (kind, kw) in enumerate(jobs):
            results[i] = _job(out_dir, kind, kw)
            if progress:
                progress(i + 1, total)
    else:
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            # Heavier MR exams first for a better balance.
            order = sorted(range(total), key=lambda i: jobs[i][0] != "mr")
            futures = {pool.submit(_job, out_dir, *jobs[i]): i for i in order}
            for done, fut in enumerate(as_completed(futures), start=1):
                results[futures[fut]] = fut.result()
                if progress:
                    progress(done, total)
    return [r for r in results if r is not None]


def generate_test_set(out_dir: Path | str, *, seed: int = 7) -> Manifest:
    """Small, fast fixture set (about a second): every corner case, tiny images.

    Two 4-view mammograms at 256 x 208: #1 good, MONOCHROME1, SIGMOID VOI, SCT codes, with a
    FOR PROCESSING series and an LCC spot+mag view; #2 poor_pnl, JPEG 2000 lossless, SRT codes.
    Two prostate MR exams (T2W 64x64 x 8 slices, DWI/ADC 32x32, DCE 20 time points x 4 slices at
    32x32): Siemens (0019,100C) and GE (0043,1039) b-value conventions.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    studies = [
        generate_mammo_study(
            out_dir,
            seed=seed,
            index=1,
            procedure_date=date(2026, 3, 1),
            technologist="SMITH^JANE",
            quality="good",
            photometric=MONO1,
            size=(256, 208),
            extra_views=("LCC_SPOTMAG",),
            for_processing=True,
            code_scheme="SCT",
            voi_function="SIGMOID",
            series_per_view=False,
            bits_stored=12,
            windows=3,
        ),
        generate_mammo_study(
            out_dir,
            seed=seed,
            index=2,
            procedure_date=date(2026, 3, 7),
            technologist="J.S.",
            quality="poor_pnl",
            transfer_syntax=JPEG2000Lossless,
            size=(256, 208),
            code_scheme="SRT",
            voi_function="LINEAR",
            series_per_view=True,
            bits_stored=14,
            windows=1,
        ),
    ]
    for i, vendor in enumerate(("siemens", "ge")):
        studies.append(
            generate_mr_study(
                out_dir,
                seed=seed,
                index=3 + i,
                procedure_date=date(2026, 3, 3 + i),
                vendor=vendor,
                size_scale=0.25,
                dce_time_points=20,
                slices=8,
                dce_slices=4,
                technologist="DOE^ALEX" if i == 0 else None,
                lesion=True,
            )
        )
    manifest = Manifest(root=out_dir, studies=studies, seed=seed, params={"kind": "test_set"})
    manifest.write()
    return manifest


def generate_index_corpus(out_dir: Path | str, n_files: int, *, seed: int = 1) -> list[Path]:
    """Exactly ``n_files`` small, header-realistic MR/MG files for the index benchmark.

    Mostly small prostate MR exams (64x64 T2W, 32x32 DWI/ADC/DCE, all four vendor conventions)
    with a 4-view 128 x 104 mammogram after each, topped up with mammograms and finally a
    truncated series. No manifest is written (the benchmark only needs the files).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    index = 1
    day0 = date(2026, 1, 5)
    slices, dce_slices, tps = 10, 6, 20
    mr_files = {v: 0 for v in hdr.VENDORS}
    for v in hdr.VENDORS:
        calc = _MR_PROTOCOLS[v]["calc"]
        mr_files[v] = slices * (1 + 3 + (1 if calc else 0)) + dce_slices * tps
    i = 0
    while True:
        vendor = hdr.VENDORS[i % len(hdr.VENDORS)]
        remaining = n_files - len(paths)
        if remaining >= mr_files[vendor] + 4:
            st = generate_mr_study(
                out_dir,
                seed=seed,
                index=index,
                procedure_date=day0 + timedelta(days=i),
                vendor=vendor,
                size_scale=0.25,
                dce_time_points=tps,
                slices=slices,
                dce_slices=dce_slices,
            )
            paths += [f.path for f in st.files]
            index += 1
        remaining = n_files - len(paths)
        if remaining >= 4:
            st = generate_mammo_study(
                out_dir,
                seed=seed,
                index=index,
                procedure_date=day0 + timedelta(days=i),
                technologist=DEFAULT_TECHNOLOGISTS[i % len(DEFAULT_TECHNOLOGISTS)],
                quality=MAMMO_QUALITIES[i % len(MAMMO_QUALITIES)],
                size=(128, 104),
            )
            paths += [f.path for f in st.files]
            index += 1
        remaining = n_files - len(paths)
        if remaining < 4:
            break
        i += 1
    if remaining > 0:
        # Top up with a partial 4-view study (a real-world incomplete series).
        st = generate_mammo_study(
            out_dir,
            seed=seed,
            index=index,
            procedure_date=day0 + timedelta(days=i + 1),
            technologist=None,
            size=(128, 104),
            series_per_view=False,
        )
        keep = st.files[:remaining]
        for f in st.files[remaining:]:
            f.path.unlink()
        paths += [f.path for f in keep]
    return paths
