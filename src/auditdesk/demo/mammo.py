"""Synthetic screening mammograms: the 4-view study writer and its positioning ground truth.

Separate from the MR writer and from the collection builders (``generator``) because it is a
self-contained responsibility: fault scenarios, presentation/stored pixel conversion, spot and
magnification views, and the measured truth (PNL, pectoral, IMF, nipple) each file carries.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
from pydicom.uid import ExplicitVRLittleEndian, JPEG2000Lossless

from auditdesk.demo import headers as hdr
from auditdesk.demo import phantoms as ph
from auditdesk.demo.common import MONO1, MONO2, _patient_study, _rng, _safe
from auditdesk.demo.manifest import GeneratedFile, GeneratedStudy

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
_VIEW_ORDER = (("R", "CC"), ("L", "CC"), ("R", "MLO"), ("L", "MLO"))
_FIELD_OF_VIEW_MM = (300.0, 244.0)  # rows x columns of a 24 x 30 cm detector


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
