"""Synthetic multiparametric prostate MR: the study writer and the per-vendor protocols.

Separate from the mammography writer and the collection builders (``generator``) because the
MR conventions are their own responsibility: four vendor b-value encodings, T2W/DWI/ADC/DCE
series, shuffled instance numbering and the slice-order ground truth.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from auditdesk.demo import headers as hdr
from auditdesk.demo import phantoms as ph
from auditdesk.demo.common import MONO2, _patient_study, _rng, _safe
from auditdesk.demo.manifest import GeneratedFile, GeneratedStudy

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
