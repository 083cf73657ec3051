"""One synthetic-data generator for ``auditdesk demo`` and for the test fixtures.

Why one generator: the demo a user clicks through and the fixtures the tests assert on should
exercise the same corner cases (MONOCHROME1, JPEG 2000, FOR PROCESSING series, spot/mag views,
four vendor b-value conventions, shuffled MR numbering) and carry the same ground truth, so a
bug found in one shows up in the other.

Everything is deterministic for a given seed: pixels come from ``numpy.random.Generator`` streams
seeded with ``(seed, index, purpose)`` and UIDs are ``2.25`` UIDs of name-based UUIDs of the same
values (plus kind and procedure date), so regenerating gives byte-identical files. No real data
is copied; patients are "DEMO^PATIENT-nnnn".

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

import json
import multiprocessing
import re
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from pydicom.uid import ExplicitVRLittleEndian, JPEG2000Lossless

from auditdesk.demo import headers as hdr
from auditdesk.demo import phantoms as ph

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

#: Positioning scenarios ``generate_mammo_study`` understands.
#: good: every criterion met with margin (pectoral 6-35 mm past the PNL, |PNL_CC - PNL_MLO| <= 7,
#:   IMF open, nipples in profile); poor_pectoral: pectoral stops 15-40 mm above the PNL on the
#:   affected breast(s); borderline_pectoral: stops 3-9 mm above (fails "reaches the PNL", passes
#:   the 10 mm tolerance); poor_pnl: CC PNL 14-26 mm shorter than MLO PNL; nipple_not_in_profile:
#:   nipple projected inside the breast on the CC, the MLO or both; imf_missing: inframammary
#:   fold cut off below the image; multiple: short pectoral plus missing IMF (a sagging MLO).
MAMMO_QUALITIES = (
    "good",
    "poor_pectoral",
    "borderline_pectoral",
    "poor_pnl",
    "nipple_not_in_profile",
    "imf_missing",
    "multiple",
)
MR_VENDORS = hdr.VENDORS
#: Pseudonymous technologists, with the spelling variants and blanks real Operators' Name has.
DEFAULT_TECHNOLOGISTS = ("SMITH^JANE", "J.S.", "DOE^ALEX", "DOE^A", "", "NGUYEN^SAM")
#: Fixed default so ``generate_demo(seed=...)`` is reproducible on any day (a Saturday).
DEFAULT_END_DATE = date(2026, 11, 14)

MONO1, MONO2 = "MONOCHROME1", "MONOCHROME2"
_VIEW_ORDER = (("R", "CC"), ("L", "CC"), ("R", "MLO"), ("L", "MLO"))
_FIELD_OF_VIEW_MM = (300.0, 244.0)  # rows x columns of a 24 x 30 cm detector


# --------------------------------------------------------------------------------------------
# Result types
# --------------------------------------------------------------------------------------------


@dataclass
class GeneratedFile:
    """One written DICOM file and what it is meant to be (the indexer's expected answer)."""

    path: Path
    study_uid: str
    series_uid: str
    sop_uid: str
    kind: str  # "mammo" | "mr"
    view: str | None  # CC | MLO | XCCL (mammo)
    laterality: str | None  # R | L (mammo)
    role: str | None  # T2W | DWI | ADC | DCE (MR)
    b_value: float | None
    temporal_position: int | None
    slice_index: int | None  # true spatial order, 0 = most inferior
    transfer_syntax: str
    photometric: str
    for_processing: bool
    modifier: str | None  # SPOT | MAG | SPOT+MAG (mammo extra views)
    series_number: int = 0
    instance_number: int = 0
    series_description: str = ""
    calculated: bool = False  # MR: synthesised (CALC_BVAL) high-b image


@dataclass
class GeneratedStudy:
    """One study (a 4-view screening mammogram or a multiparametric prostate MR)."""

    study_uid: str
    patient_id: str
    kind: str
    procedure_date: date
    technologist: str | None
    files: list[GeneratedFile]
    truth: dict
    patient_name: str = ""
    accession_number: str = ""
    index: int = 0
    study_dir: Path | None = None


@dataclass
class Manifest:
    """What was generated, with ground truth; ``manifest.json`` at ``root``."""

    root: Path
    studies: list[GeneratedStudy]
    seed: int
    params: dict = field(default_factory=dict)

    def to_json(self) -> str:
        """JSON text; file paths relative to ``root`` so the folder can be moved."""
        root = Path(self.root)

        def enc_file(f: GeneratedFile) -> dict:
            d = asdict(f)
            d["path"] = _rel(f.path, root)
            return d

        studies = []
        for s in self.studies:
            d = {k: v for k, v in asdict(s).items() if k != "files"}
            d["procedure_date"] = s.procedure_date.isoformat()
            d["study_dir"] = _rel(s.study_dir, root) if s.study_dir else None
            d["files"] = [enc_file(f) for f in s.files]
            studies.append(d)
        doc = {
            "format": "auditdesk-demo-manifest",
            "version": 1,
            "seed": self.seed,
            "params": self.params,
            "marker": hdr.MARKER,
            "studies": studies,
        }
        return json.dumps(doc, indent=1, sort_keys=False, default=_json_default)

    def write(self, path: Path | str | None = None) -> Path:
        """Write ``manifest.json`` (default: in ``root``)."""
        target = Path(path) if path is not None else Path(self.root) / "manifest.json"
        if target.is_dir():
            target = target / "manifest.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(self.to_json(), encoding="utf-8")
        return target

    @classmethod
    def read(cls, path: Path | str) -> Manifest:
        """Load a manifest (file or folder); the root is the folder the manifest lives in."""
        p = Path(path)
        if p.is_dir():
            p = p / "manifest.json"
        doc = json.loads(p.read_text(encoding="utf-8"))
        root = p.parent
        studies = []
        for d in doc["studies"]:
            files = [GeneratedFile(**{**f, "path": root / f["path"]}) for f in d["files"]]
            kw = {k: v for k, v in d.items() if k != "files"}
            kw["procedure_date"] = date.fromisoformat(kw["procedure_date"])
            kw["study_dir"] = root / kw["study_dir"] if kw.get("study_dir") else None
            studies.append(GeneratedStudy(files=files, **kw))
        return cls(root=root, studies=studies, seed=doc["seed"], params=doc.get("params", {}))


def _rel(p: Path | None, root: Path) -> str | None:
    if p is None:
        return None
    try:
        return Path(p).relative_to(root).as_posix()
    except ValueError:
        return Path(p).as_posix()


def _json_default(o: Any) -> Any:
    if isinstance(o, Path):
        return o.as_posix()
    if isinstance(o, date):
        return o.isoformat()
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, tuple):
        return list(o)
    raise TypeError(f"not JSON serialisable: {type(o)}")


def _rng(seed: int, index: int, *purpose: int) -> np.random.Generator:
    return np.random.default_rng([int(seed) & 0xFFFFFFFFFFFF, int(index), *purpose])


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", name).strip("_") or "series"


def _birth(rng: np.random.Generator, on: date, age: int) -> date:
    return date(on.year - age - 1, 1, 1) + timedelta(days=int(rng.integers(0, 365)))


def _age(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def _patient_study(
    seed: int,
    index: int,
    kind: str,
    procedure_date: date,
    technologist: str | None,
    rng: np.random.Generator,
) -> hdr.PatientStudy:
    name, pid, acc = hdr.pseudonym(index)
    if kind == "mammo":
        age = int(rng.integers(40, 75))
        sex, desc = "F", f"MG SCREENING BILATERAL ({hdr.MARKER})"
        inst, station = "DEMO Breast Imaging Centre", "DEMO-MG1"
    else:
        age = int(rng.integers(50, 79))
        sex, desc = "M", f"MR PROSTATE MULTIPARAMETRIC ({hdr.MARKER})"
        inst, station = "DEMO Imaging Centre", "DEMO-MR1"
    born = _birth(rng, procedure_date, age)
    minutes = int(rng.integers(7 * 60 + 30, 17 * 60 + 30))
    study_time = f"{minutes // 60:02d}{minutes % 60:02d}{int(rng.integers(0, 60)):02d}"
    study_uid = hdr.make_uid(seed, kind, index, procedure_date.isoformat(), "study")
    return hdr.PatientStudy(
        seed=seed,
        index=index,
        study_uid=study_uid,
        patient_name=name,
        patient_id=pid,
        birth_date=born,
        sex=sex,
        age_years=_age(born, procedure_date),
        accession=acc,
        study_date=procedure_date,
        study_time=study_time,
        study_description=desc,
        technologist=technologist,
        institution=inst,
        station=station,
    )


# --------------------------------------------------------------------------------------------
# Mammography
# --------------------------------------------------------------------------------------------


def _parse_extra(spec: str) -> tuple[str, str, tuple[str, ...]]:
    """'LCC_SPOTMAG' -> ('L', 'CC', ('SPOT', 'MAG')); 'RXCCL' -> ('R', 'XCCL', ())."""
    s = spec.strip().upper().replace(" ", "_")
    m = re.fullmatch(r"([RL])(CC|MLO|XCCL)(?:_(SPOTMAG|SPOT|MAG))?", s)
    if not m:
        raise ValueError(f"extra view {spec!r}: use e.g. 'LCC_SPOT', 'RMLO_MAG', 'RCC_SPOTMAG'")
    mod = m.group(3)
    mods: tuple[str, ...] = ("SPOT", "MAG") if mod == "SPOTMAG" else ((mod,) if mod else ())
    if m.group(2) == "XCCL" and mods:
        raise ValueError("XCCL extra views take no modifier")
    return m.group(1), m.group(2), mods


def _faults(quality: str, rng: np.random.Generator) -> dict[str, dict[str, Any]]:
    """Per-breast fault switches for a quality scenario."""
    if quality not in MAMMO_QUALITIES:
        raise ValueError(f"quality must be one of {MAMMO_QUALITIES}, not {quality!r}")
    base = {
        "pectoral": "good",
        "cc_short": False,
        "nipple_cc": True,
        "nipple_mlo": True,
        "imf": True,
    }
    out = {"R": dict(base), "L": dict(base)}
    if quality == "good":
        return out
    pick = rng.choice(["R", "L", "both"], p=[0.45, 0.45, 0.10])
    sides = ["R", "L"] if pick == "both" else [str(pick)]
    for side in sides:
        f = out[side]
        if quality == "poor_pectoral":
            f["pectoral"] = "short"
        elif quality == "borderline_pectoral":
            f["pectoral"] = "borderline"
        elif quality == "poor_pnl":
            f["cc_short"] = True
        elif quality == "nipple_not_in_profile":
            which = rng.choice(["CC", "MLO", "both"], p=[0.4, 0.4, 0.2])
            f["nipple_cc"] = which == "MLO"
            f["nipple_mlo"] = which == "CC"
        elif quality == "imf_missing":
            f["imf"] = False
        elif quality == "multiple":
            f["pectoral"] = "short"
            f["imf"] = False
    return out


def _stored(p: np.ndarray, maxval: int, photometric: str) -> np.ndarray:
    """Presentation float (0 air .. 1 dense) -> stored uint16 honouring MONOCHROME1/2."""
    v = np.clip(np.rint(p * (0.92 * maxval)), 0, maxval).astype(np.uint16)
    if photometric == MONO1:
        v = (maxval - v).astype(np.uint16)
    return v


def _windows(maxval: int, photometric: str, n: int) -> list[tuple[float, float, str]]:
    scale = 0.92 * maxval
    base = [(0.55 * scale, 0.62 * scale, "NORMAL")]
    if n > 1:
        base += [(0.60 * scale, 0.42 * scale, "HARDER"), (0.50 * scale, 0.85 * scale, "SOFTER")]
    if photometric == MONO1:
        base = [(maxval - c, w, e) for c, w, e in base]
    return base


def _spot_mag(
    canon: np.ndarray, view: ph.BreastView, mods: tuple[str, ...], rng: np.random.Generator
) -> np.ndarray:
    """Spot-compression paddle and/or 1.8x magnification of an already rendered view."""
    h, w = canon.shape
    nr, nc = view.to_pixel(*view.nipple)
    centre = (nr + rng.uniform(-0.08, 0.08) * h, nc * rng.uniform(0.45, 0.65))
    img = canon
    if "MAG" in mods:
        img = ph.zoom_crop(img, centre, 1.8)
        centre = (h / 2, w / 2)
    if "SPOT" in mods:
        rr = np.arange(h, dtype=np.float32)[:, None] - centre[0]
        cc = np.arange(w, dtype=np.float32)[None, :] - centre[1]
        radius = 0.30 * min(h, w)
        dist = np.sqrt(rr * rr + cc * cc)
        inside = np.clip(radius - dist + 0.5, 0.0, 1.0)
        rim = np.exp(-(((dist - radius) / 1.5) ** 2))
        img = img * (0.55 + 0.45 * inside) + 0.15 * rim * (img > 0.1)
    return img.astype(np.float32)


def generate_mammo_study(
    out_dir: Path | str,
    *,
    seed: int,
    index: int,
    procedure_date: date,
    technologist: str | None,
    quality: str = "good",
    photometric: str = MONO2,
    transfer_syntax: str = ExplicitVRLittleEndian,
    size: tuple[int, int] = (1024, 832),
    pixel_spacing_mm: float | None = None,
    extra_views: Sequence[str] = (),
    for_processing: bool = False,
    code_scheme: str | None = None,
    voi_function: str | None = None,
    series_per_view: bool | None = None,
    bits_stored: int | None = None,
    windows: int | None = None,
    mirrored: bool = False,
) -> GeneratedStudy:
    """Write one 4-view screening mammogram (+ optional extras) and return it with ground truth.

    ``quality`` is one of :data:`MAMMO_QUALITIES`. ``extra_views`` like ``"LCC_SPOT"``,
    ``"RMLO_MAG"``, ``"RCC_SPOTMAG"`` (View Modifier Code Sequence) or ``"RXCCL"`` (a different
    view code) add images an audit must exclude. ``for_processing`` adds a separate FOR
    PROCESSING series (raw look, no VOI). ``code_scheme`` ("SCT"/"SRT"), ``voi_function``
    ("LINEAR"/"SIGMOID"), ``series_per_view``, ``bits_stored`` (12/14) and ``windows`` (1, or 3
    with explanations NORMAL/HARDER/SOFTER) default to a seeded choice. ``pixel_spacing_mm``
    defaults to a 300 x 244 mm field of view.
    """
    if photometric not in (MONO1, MONO2):
        raise ValueError(f"photometric must be MONOCHROME1 or MONOCHROME2, not {photometric!r}")
    if transfer_syntax not in (ExplicitVRLittleEndian, JPEG2000Lossless):
        raise ValueError("transfer_syntax: Explicit VR Little Endian or JPEG 2000 Lossless only")
    out_dir = Path(out_dir)
    rows, cols = int(size[0]), int(size[1])
    if pixel_spacing_mm is None:
        sp = max(_FIELD_OF_VIEW_MM[0] / rows, _FIELD_OF_VIEW_MM[1] / cols)
    else:
        sp = float(pixel_spacing_mm)
    sp = float(f"{sp:.6g}")  # exactly what the DS in the header says
    if not (200.0 <= rows * sp <= 400.0 and 150.0 <= cols * sp <= 400.0):
        raise ValueError(
            f"field of view {rows * sp:.0f} x {cols * sp:.0f} mm is not a mammography detector "
            "(need >= 200 x 150 mm, e.g. 18x24 or 24x30 cm); adjust size or pixel_spacing_mm"
        )

    rng_plan = _rng(seed, index, 11)
    rng_hdr = _rng(seed, index, 13)
    ps = _patient_study(seed, index, "mammo", procedure_date, technologist, rng_hdr)
    # Draw every seeded choice even when the caller fixes it, so fixing one option does not
    # shift the random stream (and change other header values) of the same study.
    draws = rng_hdr.random(5)
    scheme = code_scheme or ("SCT" if draws[0] < 0.5 else "SRT")
    if scheme not in ("SCT", "SRT"):
        raise ValueError("code_scheme must be SCT or SRT")
    voi = voi_function or ("SIGMOID" if draws[1] < 0.3 else "LINEAR")
    per_view = bool(draws[2] < 0.35) if series_per_view is None else series_per_view
    bits = bits_stored or (14 if draws[3] < 0.4 else 12)
    if bits not in (12, 14, 16):
        raise ValueError("bits_stored must be 12, 14 or 16")
    maxval = (1 << bits) - 1
    n_windows = windows or (3 if draws[4] < 0.5 else 1)
    if n_windows not in (1, 3):
        raise ValueError("windows must be 1 or 3")
    include_ps = bool(rng_hdr.random() < 0.5)
    mag_base = float(rng_hdr.uniform(1.07, 1.10))
    sid = 650.0
    anode = "TUNGSTEN"
    filt = "RHODIUM" if rng_hdr.random() < 0.6 else "SILVER"

    faults = _faults(quality, rng_plan)
    density_letter = str(rng_plan.choice(list("abcd"), p=[0.1, 0.4, 0.4, 0.1]))
    thr = {"a": 1.1, "b": 0.55, "c": 0.0, "d": -0.5}[density_letter]
    cc_sliver = {s: bool(rng_plan.random() < 0.3) for s in ("R", "L")}
    plans: dict[str, ph.BreastPlan] = {}
    for side in ("R", "L"):
        f = faults[side]
        plans[side] = ph.plan_breast(
            rng_plan,
            rows,
            cols,
            sp,
            pectoral=f["pectoral"],
            cc_short=f["cc_short"],
            nipple_profile_cc=f["nipple_cc"],
            nipple_profile_mlo=f["nipple_mlo"],
            imf_visible=f["imf"],
            cc_pectoral_sliver=cc_sliver[side] and quality == "good",
            density_threshold=thr + float(rng_plan.normal(0.0, 0.1)),
        )

    # Render the four standard views (and keep canonical images for extras).
    canon: dict[tuple[str, str], np.ndarray] = {}
    raws: dict[tuple[str, str], np.ndarray] = {}
    for vi, (lat, view) in enumerate(_VIEW_ORDER):
        geom = plans[lat].cc if view == "CC" else plans[lat].mlo
        p, raw = ph.render_breast(geom, _rng(seed, index, 20, vi), with_raw=for_processing)
        canon[(lat, view)] = p
        if raw is not None:
            raws[(lat, view)] = raw

    study_dir = out_dir / ps.patient_id / f"{procedure_date:%Y%m%d}_MG_{ps.accession}"
    files: list[GeneratedFile] = []
    views_truth: dict[str, dict] = {}
    excluded: list[dict[str, str]] = []  # images a 4-view positioning audit must leave out
    base_minutes = 0.0

    def orient(lat: str, view: str) -> tuple[list[str], bool]:
        o = hdr.patient_orientation(lat, view, mirrored)
        return o, hdr.chest_wall_side(o[0]) == "right"

    def tech(thick: float) -> dict:
        return {
            "kvp": float(rng_hdr.integers(26, 35)),
            "mas": int(rng_hdr.integers(60, 200)),
            "exposure_time_ms": int(rng_hdr.integers(500, 2000)),
            "tube_current_ma": int(rng_hdr.integers(100, 200)),
            "thickness_mm": thick,
            "force_n": float(rng_hdr.uniform(60, 160)),
            "organ_dose_dgy": float(rng_hdr.uniform(0.10, 0.20)),
            "entrance_dose_mgy": float(rng_hdr.uniform(3.0, 8.0)),
        }

    thickness = {s: float(rng_hdr.uniform(35, 70)) for s in ("R", "L")}

    # Series layout.
    series_list: list[tuple[hdr.MammoSeries, list[tuple[str, str, tuple[str, ...]]]]] = []

    def new_series(number: int, desc: str, raw: bool) -> hdr.MammoSeries:
        uid = hdr.make_uid(seed, "mammo", index, procedure_date.isoformat(), "series", number)
        t = hdr.add_seconds(ps.study_time, 60 * (number % 10))
        return hdr.MammoSeries(uid, number, desc, raw, t)

    std_views = [(lat, view, ()) for lat, view in _VIEW_ORDER]
    if per_view:
        for n, (lat, view, mods) in enumerate(std_views, start=1):
            series_list.append((new_series(n, f"{lat} {view}", False), [(lat, view, mods)]))
    else:
        series_list.append((new_series(1, "Screening Mammography", False), std_views))
    for n, spec in enumerate(extra_views, start=11):
        lat, view, mods = _parse_extra(spec)
        desc = " ".join([lat, view, *mods])
        series_list.append((new_series(n, desc, False), [(lat, view, mods)]))
    if for_processing:
        series_list.append((new_series(71, "RAW FOR PROCESSING", True), std_views))

    for series, items in series_list:
        sdir = study_dir / f"{series.series_number:03d}_{_safe(series.description)}"
        for inst, (lat, view, mods) in enumerate(items, start=1):
            base_view = "CC" if view in ("CC", "XCCL") else "MLO"
            plan = plans[lat]
            geom = plan.cc if base_view == "CC" else plan.mlo
            rng_x = _rng(seed, index, 30, series.series_number, inst)
            if series.for_processing:
                canon_img = raws[(lat, base_view)]
            elif view == "XCCL":
                k = min(rows * sp / 300.0, cols * sp / 244.0)
                shift = 22.0 * k
                geom = replace(
                    geom,
                    apex=(geom.apex[0] * 0.95, geom.apex[1] + shift),
                    nipple=(geom.nipple[0] * 0.95, geom.nipple[1] + shift),
                )
                canon_img, _ = ph.render_breast(geom, rng_x)
            elif mods:
                canon_img = _spot_mag(canon[(lat, base_view)], geom, mods, rng_x)
            else:
                canon_img = canon[(lat, base_view)]
            o, flip = orient(lat, view)
            if series.for_processing:
                phot = MONO2
                stored = np.clip(np.rint(canon_img * 16000.0), 0, 16383).astype(np.uint16)
                bits_here, win_list, voi_here = 14, [], None
            else:
                phot = photometric
                stored = _stored(canon_img, maxval, photometric)
                bits_here, win_list = bits, _windows(maxval, photometric, n_windows)
                voi_here = "SIGMOID" if voi == "SIGMOID" else None
            if flip:
                stored = stored[:, ::-1]
            is_mlo = base_view == "MLO"
            angle = (45.0 + float(rng_hdr.uniform(-8, 8))) if is_mlo else 0.0
            if is_mlo and lat == "L":
                angle = -angle
            mag = 1.8 if "MAG" in mods else mag_base
            paddle = "SPOT" if "SPOT" in mods else ("MAG" if "MAG" in mods else "24x30 CONTACT")
            base_minutes += float(rng_hdr.uniform(0.6, 1.6))
            acq_time = hdr.add_seconds(ps.study_time, round(60.0 * base_minutes))
            sop_uid = hdr.make_uid(
                seed, "mammo", index, procedure_date.isoformat(), series.series_number, inst
            )
            th = thickness[lat] * (1.08 if is_mlo else 1.0) * (0.8 if "SPOT" in mods else 1.0)
            img = hdr.MammoImage(
                sop_uid=sop_uid,
                instance_number=inst,
                laterality=lat,
                view=view,
                modifiers=mods,
                code_scheme=scheme,
                orientation=o,
                spacing=sp,
                bits_stored=bits_here,
                photometric=phot,
                windows=win_list,
                voi_function=voi_here,
                acquisition_time=acq_time,
                angle_deg=angle,
                magnification=mag,
                sid_mm=sid,
                anode=anode,
                filter=filt,
                include_pixel_spacing=include_ps,
                paddle=paddle,
                **tech(th),
            )
            ds = hdr.mammo_dataset(ps, series, img, rows, cols)
            path = sdir / f"{inst}.dcm"
            ts = hdr.write_dataset(ds, stored, path, transfer_syntax)
            modifier = "+".join(mods) if mods else None
            files.append(
                GeneratedFile(
                    path=path,
                    study_uid=ps.study_uid,
                    series_uid=series.series_uid,
                    sop_uid=sop_uid,
                    kind="mammo",
                    view=view,
                    laterality=lat,
                    role=None,
                    b_value=None,
                    temporal_position=None,
                    slice_index=None,
                    transfer_syntax=ts,
                    photometric=phot,
                    for_processing=series.for_processing,
                    modifier=modifier,
                    series_number=series.series_number,
                    instance_number=inst,
                    series_description=series.description,
                )
            )
            if not series.for_processing and not mods and view in ("CC", "MLO"):
                views_truth[f"{lat}{view}"] = _view_truth(
                    geom, plan, lat, view, o, flip, sop_uid, cols
                )
            else:
                reason = (
                    "FOR PROCESSING"
                    if series.for_processing
                    else (f"view modifier {modifier}" if modifier else f"non-screening view {view}")
                )
                excluded.append({"sop_uid": sop_uid, "image": f"{lat}{view}", "reason": reason})

    breasts = {side: _breast_truth(plans[side], faults[side]) for side in ("R", "L")}
    failed = [
        f"{side}:{k}" for side, b in breasts.items() for k, ok in b["checks"].items() if not ok
    ]
    strict_keys = (
        "pectoral_reaches_pnl",
        "cc_within_10mm_of_mlo",
        "imf_visible",
        "nipple_in_profile",
    )
    lenient_keys = (
        "pectoral_within_10mm_of_pnl",
        "cc_within_10mm_of_mlo",
        "imf_visible",
        "nipple_in_profile",
    )
    truth = {
        "kind": "mammo",
        "quality": quality,
        "density": density_letter,
        "pixel_spacing_mm": sp,
        "image_size": [rows, cols],
        "measurement_plane": "detector (ImagerPixelSpacing; not magnification corrected)",
        "magnification_factor": round(mag_base, 4),
        "photometric": photometric,
        "transfer_syntax": str(transfer_syntax),
        "code_scheme": scheme,
        "voi_lut_function": voi,
        "windows": n_windows,
        "bits_stored": bits,
        "series_per_view": per_view,
        "pixel_spacing_tag": include_ps,
        "mirrored": mirrored,
        "for_processing_series": for_processing,
        "extra_views": list(extra_views),
        "orientation_convention": (
            "PatientOrientation[0] = direction of increasing column, [1] = increasing row; "
            "first value P => chest wall at the right image edge"
        ),
        "views": views_truth,
        "excluded_from_audit": excluded,
        "breasts": breasts,
        "failed_criteria": failed,
        "positioning_pass": all(b["checks"][k] for b in breasts.values() for k in strict_keys),
        "positioning_pass_lenient": all(
            b["checks"][k] for b in breasts.values() for k in lenient_keys
        ),
    }
    return GeneratedStudy(
        study_uid=ps.study_uid,
        patient_id=ps.patient_id,
        kind="mammo",
        procedure_date=procedure_date,
        technologist=technologist,
        files=files,
        truth=truth,
        patient_name=ps.patient_name,
        accession_number=ps.accession,
        index=index,
        study_dir=study_dir,
    )


def _px(geom: ph.BreastView, x: float, y: float, flip: bool, cols: int) -> list[float]:
    r, c = geom.to_pixel(x, y)
    if flip:
        c = cols - 1 - c
    return [round(r, 2), round(c, 2)]


def _view_truth(
    geom: ph.BreastView,
    plan: ph.BreastPlan,
    lat: str,
    view: str,
    orientation: list[str],
    flip: bool,
    sop_uid: str,
    cols: int,
) -> dict:
    nx, ny = geom.nipple
    t: dict[str, Any] = {
        "sop_uid": sop_uid,
        "laterality": lat,
        "view": view,
        "patient_orientation": "\\".join(orientation),
        "chest_wall_side": "right" if flip else "left",
        "nipple_rc": _px(geom, nx, ny, flip, cols),
        "nipple_in_profile": geom.nipple_in_profile,
        "skin_apex_rc": _px(geom, *geom.apex, flip, cols),
    }
    if view == "CC":
        t["pnl_mm"] = round(plan.truth["pnl_cc_mm"], 2)
        t["pnl_end_rc"] = _px(geom, 0.0, ny, flip, cols)
        t["pectoral_visible"] = geom.cc_pectoral is not None
    else:
        m = plan.truth["mlo"]
        assert geom.pectoral is not None
        pw, pl = geom.pectoral
        t["pnl_mm"] = round(m["pnl_mm"], 2)
        t["pnl_end_rc"] = _px(geom, *m["pnl_end"], flip, cols)
        t["pnl_ends_at"] = m["pnl_ends_at"]
        t["pnl_to_pectoral_line_mm"] = round(m["pnl_to_pectoral_line_mm"], 2)
        t["pectoral_edge_rc"] = [_px(geom, pw, 0.0, flip, cols), _px(geom, 0.0, pl, flip, cols)]
        t["pectoral_to_pnl_mm"] = round(m["pectoral_to_pnl_mm"], 2)
        t["imf_visible"] = geom.imf_visible
        t["imf_rc"] = _px(geom, 0.0, geom.imf_y, flip, cols) if geom.imf_visible else None
    return t


def _breast_truth(plan: ph.BreastPlan, fault: dict) -> dict:
    m = plan.truth["mlo"]
    pnl_mlo = plan.truth["pnl_mlo_mm"]
    pnl_cc = plan.truth["pnl_cc_mm"]
    s = m["pectoral_to_pnl_mm"]
    nip = {"CC": plan.cc.nipple_in_profile, "MLO": plan.mlo.nipple_in_profile}
    checks = {
        "pectoral_reaches_pnl": s <= 0.0,
        "pectoral_within_10mm_of_pnl": s <= 10.0,
        "cc_within_10mm_of_mlo": abs(pnl_mlo - pnl_cc) <= 10.0,
        "imf_visible": plan.mlo.imf_visible,
        "nipple_in_profile": all(nip.values()),
    }
    return {
        "pnl_mlo_mm": round(pnl_mlo, 2),
        "pnl_cc_mm": round(pnl_cc, 2),
        "pnl_diff_mm": round(pnl_mlo - pnl_cc, 2),
        "pectoral_to_pnl_mm": round(s, 2),
        "imf_visible": plan.mlo.imf_visible,
        "nipple_in_profile": nip,
        "cc_within_10mm_of_mlo": checks["cc_within_10mm_of_mlo"],
        "cc_pectoral_visible": plan.cc.cc_pectoral is not None,
        "faults": {k: v for k, v in fault.items()},
        "checks": checks,
    }


# --------------------------------------------------------------------------------------------
# Prostate MR
# --------------------------------------------------------------------------------------------

#: Per-vendor protocol choices (deliberately not all PI-RADS compliant: see ``truth``).
_MR_PROTOCOLS: dict[str, dict[str, Any]] = {
    "standard": {
        "b": (50, 800, 1400),
        "calc": 2000,
        "field": 3.0,
        "t2": {"fov": 180, "acq": (384, 307), "thick": 3.0, "gap": 0.0},
        "dwi": {"fov": 200, "acq": (100, 80), "thick": 3.0, "gap": 0.0},
        "dce": {"fov": 240, "acq": (160, 128), "thick": 3.0, "dt": 7.0},
    },
    "siemens": {
        "b": (50, 800, 1400),
        "calc": 2000,
        "field": 3.0,
        "t2": {"fov": 160, "acq": (400, 320), "thick": 3.0, "gap": 0.0},
        "dwi": {"fov": 200, "acq": (110, 88), "thick": 3.5, "gap": 0.0},
        "dce": {"fov": 260, "acq": (192, 154), "thick": 3.0, "dt": 7.0},
    },
    "ge": {
        "b": (0, 800, 1500),
        "calc": None,
        "field": 3.0,
        "t2": {"fov": 200, "acq": (320, 256), "thick": 3.0, "gap": 0.0},
        "dwi": {"fov": 240, "acq": (128, 96), "thick": 4.0, "gap": 0.5},
        "dce": {"fov": 240, "acq": (160, 128), "thick": 3.0, "dt": 10.0},
    },
    "philips": {
        "b": (0, 100, 1000),
        "calc": None,
        "field": 1.5,
        "t2": {"fov": 180, "acq": (336, 256), "thick": 3.5, "gap": 0.0},
        "dwi": {"fov": 220, "acq": (112, 90), "thick": 4.0, "gap": 0.0},
        "dce": {"fov": 240, "acq": (144, 120), "thick": 3.0, "dt": 16.0},
    },
}


def _mr_names(vendor: str, bvals: Sequence[int]) -> dict[str, str]:
    bs = "_".join(str(b) for b in bvals)
    if vendor == "ge":
        return {
            "T2W": "Ax T2 FRFSE",
            "DWI": "Ax DWI b" + " ".join(str(b) for b in bvals),
            "ADC": "Apparent Diffusion Coefficient (mm2/s)",
            "CALC": "Ax DWI calc",
            "DCE": "Ax DCE DISCO",
        }
    if vendor == "philips":
        return {
            "T2W": "T2W_TSE_ax",
            "DWI": f"DWI_b{bs}",
            "ADC": f"DWI_b{bs}_ADC",
            "CALC": f"DWI_b{bs}_CALC",
            "DCE": "DCE_THRIVE",
        }
    return {
        "T2W": "t2_tse_tra",
        "DWI": f"ep_b{bs}_TRACEW",
        "ADC": f"ep_b{bs}_ADC",
        "CALC": f"ep_b{bs}_CALC_BVAL",
        "DCE": "t1_vibe_fs_tra_dyn",
    }


def _slice_z(n: int, spacing: float, centre: float) -> np.ndarray:
    return centre + (np.arange(n) - (n - 1) / 2.0) * spacing


def _auto_window(img: np.ndarray) -> tuple[float, float]:
    """Per-image window like a scanner's auto-window: 0 .. 99.5th percentile."""
    hi = max(float(np.percentile(img, 99.5)), 2.0)
    return (round(hi / 2.0), round(hi))


def _u12(a: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(a), 0, 4095).astype(np.uint16)


def generate_mr_study(
    out_dir: Path | str,
    *,
    seed: int,
    index: int,
    procedure_date: date,
    vendor: str = "standard",
    size_scale: float = 1.0,
    dce_time_points: int = 24,
    technologist: str | None = None,
    slices: int = 20,
    dce_slices: int = 12,
    lesion: bool | None = None,
) -> GeneratedStudy:
    """Write one multiparametric prostate MR (T2W, DWI, ADC, [calc. high b], DCE).

    ``vendor`` picks where the DWI b-value lives: "standard" (0018,9087), "siemens" (0019,100C),
    "ge" (0043,1039 first value + 10^9 flag) or "philips" (2001,1003). Matrices are 256 (T2W)
    and 128 (DWI, DCE) times ``size_scale``. Numbering is deliberately not spatial: T2W and DCE
    instance numbers run head to foot, DWI is b-major, ADC is interleaved, and file names are a
    random permutation in every series except the calculated-b one.
    """
    if vendor not in hdr.VENDORS:
        raise ValueError(f"vendor must be one of {hdr.VENDORS}, not {vendor!r}")
    if dce_time_points < 2 or slices < 2 or dce_slices < 1:
        raise ValueError("need >= 2 slices and >= 2 DCE time points")
    out_dir = Path(out_dir)
    proto = _MR_PROTOCOLS[vendor]
    rng_plan = _rng(seed, index, 51)
    rng_hdr = _rng(seed, index, 53)
    ps = _patient_study(seed, index, "mr", procedure_date, technologist, rng_hdr)
    has_lesion = bool(rng_plan.random() < 0.6) if lesion is None else lesion
    anat = ph.PelvisAnatomy(
        prostate_scale=float(rng_plan.uniform(0.9, 1.25)),
        tz_scale=float(rng_plan.uniform(1.0, 1.3)),
        lesion=(
            (
                float(rng_plan.choice([-1.0, 1.0]) * rng_plan.uniform(7, 13)),
                float(rng_plan.uniform(13, 18)),
                float(rng_plan.uniform(-8, 4)),
                float(rng_plan.uniform(5, 8)),
            )
            if has_lesion
            else None
        ),
    )
    bvals = [int(b) for b in proto["b"]]
    calc_b = proto["calc"]
    names = _mr_names(vendor, bvals)
    frame_uid = hdr.make_uid(seed, "mr", index, procedure_date.isoformat(), "for")
    study_dir = out_dir / ps.patient_id / f"{procedure_date:%Y%m%d}_MR_{ps.accession}"
    center_y = 5.0
    files: list[GeneratedFile] = []
    series_truth: dict[str, dict] = {}
    ge = vendor == "ge"

    def series(
        role_key: str, number: int, minutes: float, prm: dict, matrix: int, **kw: Any
    ) -> hdr.MRSeries:
        uid = hdr.make_uid(seed, "mr", index, procedure_date.isoformat(), "series", number)
        gap = prm.get("gap", 0.0)
        return hdr.MRSeries(
            series_uid=uid,
            series_number=number,
            description=names[role_key],
            slice_thickness=prm["thick"],
            slice_spacing=prm["thick"] + gap,
            fov_mm=float(prm["fov"]),
            rows=matrix,
            cols=matrix,
            acq_freq=prm["acq"][0],
            acq_phase=prm["acq"][1],
            series_time=hdr.add_seconds(ps.study_time, 60.0 * minutes),
            frame_of_reference=frame_uid,
            field_strength=proto["field"],
            **kw,
        )

    def emit(
        s: hdr.MRSeries,
        role: str,
        items: list[dict],
        order_note: str,
        shuffle_names: bool = True,
        calculated: bool = False,
    ) -> None:
        """Write a series; ``items`` carry pixels, slice index, z, b, tp, instance, time."""
        sdir = study_dir / f"{s.series_number:03d}_{_safe(s.description)}"
        names_ = np.arange(1, len(items) + 1)
        if shuffle_names:
            names_ = rng_hdr.permutation(names_)
        constant = hdr.mr_series_dataset(ps, s, vendor)
        encoder: hdr.SeriesEncoder | None = None
        for it, fname in zip(items, names_, strict=True):
            sop = hdr.make_uid(
                seed,
                "mr",
                index,
                procedure_date.isoformat(),
                s.series_number,
                it["instance"],
            )
            inst = hdr.mr_instance_dataset(
                s,
                vendor,
                sop_uid=sop,
                instance_number=it["instance"],
                z_mm=it["z"],
                center_y=center_y,
                acquisition_time=it["time"],
                window=_auto_window(it["pixels"]),
                b_value=it.get("b"),
                temporal_position=it.get("tp"),
                trigger_time_ms=it.get("trigger"),
            )
            if encoder is None:
                encoder = hdr.SeriesEncoder(constant, inst, hdr.MR_IMAGE)
            path = sdir / f"{int(fname)}.dcm"
            ts = encoder.write(inst, it["pixels"], path)
            files.append(
                GeneratedFile(
                    path=path,
                    study_uid=ps.study_uid,
                    series_uid=s.series_uid,
                    sop_uid=sop,
                    kind="mr",
                    view=None,
                    laterality=None,
                    role=role,
                    b_value=float(it["b"]) if it.get("b") is not None else None,
                    temporal_position=it.get("tp"),
                    slice_index=it["k"],
                    transfer_syntax=ts,
                    photometric=MONO2,
                    for_processing=False,
                    modifier=None,
                    series_number=s.series_number,
                    instance_number=it["instance"],
                    series_description=s.description,
                    calculated=calculated,
                )
            )
        acq_res = (s.fov_mm / s.acq_freq, s.fov_mm / s.acq_phase)
        series_truth[s.description] = {
            "role": role,
            "series_uid": s.series_uid,
            "series_number": s.series_number,
            "images": len(items),
            "slice_thickness_mm": s.slice_thickness,
            "spacing_between_slices_mm": s.slice_spacing,
            "gap_mm": round(s.slice_spacing - s.slice_thickness, 3),
            "fov_mm": s.fov_mm,
            "matrix": [s.rows, s.cols],
            "pixel_spacing_mm": round(s.fov_mm / s.rows, 6),
            "acquisition_matrix_freq_phase": [s.acq_freq, s.acq_phase],
            "acquired_resolution_mm": {
                "frequency": round(acq_res[0], 4),
                "phase": round(acq_res[1], 4),
            },
            "tr_ms": s.tr_ms,
            "te_ms": s.te_ms,
            "flip_deg": s.flip_deg,
            "instance_order": order_note,
            "calculated": calculated,
        }

    # ---- T2W ------------------------------------------------------------------------------
    m_t2 = max(16, round(256 * size_scale))
    t2 = series(
        "T2W",
        3,
        3.0,
        proto["t2"],
        m_t2,
        image_type=["ORIGINAL", "PRIMARY", "OTHER"] if ge else ["ORIGINAL", "PRIMARY", "M", "ND"],
        scanning_sequence="SE",
        sequence_variant="SK\\SP",
        scan_options="PFP" if not ge else "FAST_GEMS",
        acquisition_type="2D",
        sequence_name="frfse2d" if ge else "*tse2d1_25",
        tr_ms=float(round(rng_hdr.uniform(4000, 6000))),
        te_ms=float(round(rng_hdr.uniform(95, 110))),
        flip_deg=160.0,
        echo_train=25,
        averages=2.0,
        phase_dir="ROW",
        bandwidth=200.0,
    )
    z_t2 = _slice_z(slices, t2.slice_spacing, 3.0)
    sp_t2 = t2.fov_mm / m_t2
    bias = ph.coil_bias(m_t2, m_t2)
    items = []
    rng_px = _rng(seed, index, 60)
    for k, z in enumerate(z_t2):
        lab = ph.pelvis_labels(m_t2, m_t2, sp_t2, float(z), anat, center_y)
        tex = ph.smooth_field(rng_px, (m_t2, m_t2), 3.0 / sp_t2)
        tex2 = ph.smooth_field(rng_px, (m_t2, m_t2), 1.5 / sp_t2)
        sig = ph.T2_SIGNAL[lab] * (1.0 + 0.05 * tex)
        sig = np.where(lab == ph.TZ, sig * (1.0 + 0.22 * tex2), sig)
        img = ph.rician(rng_px, sig * bias, 15.0)
        items.append({"k": k, "z": float(z), "pixels": _u12(img), "instance": slices - k})
    for it in items:  # acquisition order = instance order
        it["time"] = hdr.add_seconds(t2.series_time, 4.0 * it["instance"])
    emit(t2, "T2W", items, "descending z (head to foot)")

    # ---- DWI + ADC (+ calculated high b) --------------------------------------------------
    m_dw = max(8, round(128 * size_scale))
    dwi_kw: dict[str, Any] = {
        "scanning_sequence": "EP",
        "sequence_variant": "SK\\SP" if not ge else "NONE",
        "scan_options": "FS" if not ge else "EPI_GEMS\\FS",
        "acquisition_type": "2D",
        "tr_ms": float(round(rng_hdr.uniform(4000, 5500))),
        "te_ms": float(round(rng_hdr.uniform(62, 88))),
        "flip_deg": 90.0,
        "echo_train": 1,
        "averages": 4.0,
        "phase_dir": "COL",
        "bandwidth": 1800.0,
    }
    dwi_type = (
        ["ORIGINAL", "PRIMARY", "OTHER"] if ge else ["ORIGINAL", "PRIMARY", "DIFFUSION", "TRACEW"]
    )
    dwi = series(
        "DWI",
        5,
        9.0,
        proto["dwi"],
        m_dw,
        image_type=dwi_type,
        sequence_name="epi2" if ge else "*ep_b1400t",
        **dwi_kw,
    )
    adc = series(
        "ADC",
        6,
        9.0,
        proto["dwi"],
        m_dw,
        image_type=["DERIVED", "PRIMARY", "DIFFUSION", "ADC"],
        sequence_name="epi2" if ge else "*ep_b50_1400",
        **dwi_kw,
    )
    z_dw = _slice_z(slices, dwi.slice_spacing, 3.0)
    sp_dw = dwi.fov_mm / m_dw
    bias = ph.coil_bias(m_dw, m_dw)
    b_arr = np.array(bvals, dtype=np.float32)
    bm = b_arr - b_arr.mean()
    dwi_items, adc_items, calc_items = [], [], []
    interleave = list(range(0, slices, 2)) + list(range(1, slices, 2))
    rng_px = _rng(seed, index, 61)
    for k, z in enumerate(z_dw):
        lab = ph.pelvis_labels(m_dw, m_dw, sp_dw, float(z), anat, center_y)
        tex = ph.smooth_field(rng_px, (m_dw, m_dw), 2.0)
        s0 = ph.DWI_S0[lab] * (1.0 + 0.05 * tex) * bias
        adc_true = ph.ADC_TRUE[lab] * (1.0 + 0.04 * tex) * 1e-6
        stack = []
        for bi, b in enumerate(bvals):
            img = ph.rician(rng_px, s0 * np.exp(-b * adc_true), 12.0)
            stack.append(img)
            inst = bi * slices + (slices - k)
            dwi_items.append({"k": k, "z": float(z), "pixels": _u12(img), "b": b, "instance": inst})
        logs = np.log(np.maximum(np.stack(stack), 1.0))
        slope = np.tensordot(bm, logs - logs.mean(axis=0), axes=1) / float((bm * bm).sum())
        adc_fit = np.clip(-slope * 1e6, 0.0, 4095.0)
        mask = stack[0] > 40.0
        adc_img = np.where(mask, adc_fit, 0.0)
        adc_items.append(
            {"k": k, "z": float(z), "pixels": _u12(adc_img), "instance": interleave.index(k) + 1}
        )
        if calc_b:
            intercept = logs.mean(axis=0) + slope * float(b_arr.mean())
            calc = np.exp(intercept + slope * calc_b) * mask
            calc_items.append(
                {"k": k, "z": float(z), "pixels": _u12(calc), "b": calc_b, "instance": k + 1}
            )
    for it in dwi_items:
        it["time"] = hdr.add_seconds(dwi.series_time, 2.0 * it["instance"])
    for it in adc_items:
        it["time"] = adc.series_time
    emit(dwi, "DWI", dwi_items, "b-value major, descending z within each b")
    emit(adc, "ADC", adc_items, "interleaved (even spatial slices first)")
    if calc_b:
        calc_s = series(
            "CALC",
            7,
            9.0,
            proto["dwi"],
            m_dw,
            image_type=["DERIVED", "PRIMARY", "DIFFUSION", "CALC_BVAL", "TRACEW"],
            sequence_name="*ep_b2000t",
            **dwi_kw,
        )
        for it in calc_items:
            it["time"] = calc_s.series_time
        emit(
            calc_s,
            "DWI",
            calc_items,
            "ascending z (matches space)",
            shuffle_names=False,
            calculated=True,
        )

    # ---- DCE ------------------------------------------------------------------------------
    prm = proto["dce"]
    dt = float(prm["dt"])
    m_dce = max(8, round(128 * size_scale))
    dce = series(
        "DCE",
        9,
        16.0,
        {**prm, "gap": 0.0},
        m_dce,
        image_type=["ORIGINAL", "PRIMARY", "OTHER"] if ge else ["ORIGINAL", "PRIMARY", "M", "ND"],
        scanning_sequence="GR",
        sequence_variant="SP\\SS" if not ge else "SS",
        scan_options="FS" if not ge else "FAST_GEMS\\FS",
        acquisition_type="3D",
        sequence_name="disco3d" if ge else "*fl3d1",
        tr_ms=float(round(rng_hdr.uniform(3.6, 4.6), 2)),
        te_ms=float(round(rng_hdr.uniform(1.3, 1.8), 2)),
        flip_deg=12.0,
        echo_train=1,
        averages=1.0,
        phase_dir="ROW",
        bandwidth=400.0,
        contrast_agent="Gadobutrol",
        n_temporal=dce_time_points,
    )
    z_dce = _slice_z(dce_slices, dce.slice_spacing, 2.0)
    sp_dce = dce.fov_mm / m_dce
    bias = ph.coil_bias(m_dce, m_dce)
    arrival = 2.0 * dt + 5.0
    rng_px = _rng(seed, index, 62)
    pre = []
    labs = []
    for z in z_dce:
        lab = ph.pelvis_labels(m_dce, m_dce, sp_dce, float(z), anat, center_y)
        tex = ph.smooth_field(rng_px, (m_dce, m_dce), 2.0)
        labs.append(lab)
        pre.append(ph.T1_SIGNAL[lab] * (1.0 + 0.04 * tex) * bias)
    dce_items = []
    curves: dict[str, list[float]] = {}
    for tp in range(1, dce_time_points + 1):
        t = (tp - 1) * dt
        enh = np.array(
            [ph.dce_enhancement(lab_id, t, arrival) for lab_id in range(ph.N_LABELS)],
            dtype=np.float32,
        )
        for name, lab_id in (("artery", ph.VESSEL), ("pz", ph.PZ), ("lesion", ph.LESION)):
            curves.setdefault(name, []).append(round(float(enh[lab_id]), 4))
        for k, z in enumerate(z_dce):
            img = ph.rician(rng_px, pre[k] * (1.0 + enh[labs[k]]), 8.0)
            dce_items.append(
                {
                    "k": k,
                    "z": float(z),
                    "pixels": _u12(img),
                    "tp": tp,
                    "trigger": t * 1000.0,
                    "time": hdr.add_seconds(dce.series_time, t),
                    "instance": (tp - 1) * dce_slices + (dce_slices - k),
                }
            )
    emit(dce, "DCE", dce_items, "temporal position major, descending z within each")

    truth = {
        "kind": "mr",
        "vendor": vendor,
        "manufacturer": hdr.MR_MANUFACTURER[vendor],
        "b_value_tag": hdr.B_VALUE_TAGS[vendor],
        "b_values": bvals,
        "calculated_b_values": [calc_b] if calc_b else [],
        "field_strength_t": proto["field"],
        "series": series_truth,
        "dce": {
            "temporal_resolution_s": dt,
            "time_points": dce_time_points,
            "observation_s": dt * (dce_time_points - 1),
            "slices": dce_slices,
            "contrast_arrival_s": arrival,
            "contrast_agent": "Gadobutrol",
            "enhancement_curves": curves,
        },
        "lesion": (
            dict(zip(("x_mm", "y_mm", "z_mm", "radius_mm"), anat.lesion, strict=True))
            if anat.lesion
            else None
        ),
        "slice_index_convention": "0 = lowest ImagePositionPatient z (most inferior)",
        "adc_units": "1e-6 mm2/s (stored directly, no rescale)",
    }
    return GeneratedStudy(
        study_uid=ps.study_uid,
        patient_id=ps.patient_id,
        kind="mr",
        procedure_date=procedure_date,
        technologist=technologist,
        files=files,
        truth=truth,
        patient_name=ps.patient_name,
        accession_number=ps.accession,
        index=index,
        study_dir=study_dir,
    )


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
