"""Pixel synthesis for the demo generator: breast and pelvis phantoms in pure numpy.

Why hand-made phantoms: the demo and the test fixtures must be free of real patient data, cheap
to make (no scipy; vectorised numpy, FFT-based smoothing) and carry exact ground truth. The breast
geometry is analytic (half-ellipse outline, straight pectoral edge, point nipple), so the
positioning measurements an auditor makes (PNL lengths, pectoral-to-PNL distance) are known to
the generator in millimetres.

Canonical breast frame (used until the very last step, when the image is mirrored if the chest
wall belongs on the right): x in mm from the chest-wall image edge (x = 0 is that edge), pointing
toward the nipple; y in mm from the top image edge, pointing down. Pixel (r, c) has its centre
at ((c + 0.5) * spacing, (r + 0.5) * spacing).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# --------------------------------------------------------------------------------------------
# Generic helpers
# --------------------------------------------------------------------------------------------


def smoothstep(x: np.ndarray | float, e0: float, e1: float) -> np.ndarray:
    """Hermite ramp 0 -> 1 between e0 and e1 (soft masks without aliasing)."""
    t = np.clip((np.asarray(x, dtype=np.float32) - e0) / (e1 - e0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def smooth_field(
    rng: np.random.Generator, shape: tuple[int, int], sigma_px: float | tuple[float, float]
) -> np.ndarray:
    """Zero-mean, unit-variance Gaussian random field with correlation length ``sigma_px``.

    Spectral synthesis: random coefficients only where the Gaussian low-pass is not negligible,
    a complex inverse FFT down the few non-zero columns, then a zero-padded inverse real FFT
    along the rows. That is a smooth texture with no scipy, cheaper than one full-size 2-D FFT,
    and the upsampling comes free (no blocky nearest-neighbour zoom).
    """
    h, w = shape
    sy, sx = (sigma_px, sigma_px) if np.isscalar(sigma_px) else sigma_px  # type: ignore[misc]
    sy, sx = max(float(sy), 0.3), max(float(sx), 0.3)
    cut = 0.75  # exp(-2 pi^2 (sigma f)^2) < 2e-5 beyond f = cut / sigma
    ky = min(h // 2 + 1, math.ceil(cut / sy * h) + 1)
    kx = min(w // 2 + 1, math.ceil(cut / sx * w) + 1)
    if 2 * ky - 1 >= h:
        rows = np.arange(h)
    else:
        rows = np.concatenate([np.arange(ky), np.arange(h - ky + 1, h)])
    fy = np.fft.fftfreq(h)[rows][:, None]
    fx = np.fft.rfftfreq(w)[:kx][None, :]
    filt = np.exp(-2.0 * math.pi**2 * ((sy * fy) ** 2 + (sx * fx) ** 2))
    coef = rng.standard_normal((rows.size, kx, 2))
    block = np.zeros((h, kx), dtype=np.complex128)
    block[rows] = (coef[..., 0] + 1j * coef[..., 1]) * filt
    block[0, 0] = 0.0  # zero mean
    field = np.fft.irfft(np.fft.ifft(block, axis=0), n=w, axis=1).astype(np.float32)
    std = float(field[::4, ::4].std())
    if std > 0:
        field /= std
    return field


def zoom_crop(img: np.ndarray, center_rc: tuple[float, float], factor: float) -> np.ndarray:
    """Bilinear zoom by ``factor`` about ``center_rc``, same output shape (a magnification view)."""
    h, w = img.shape
    cr = min(max(center_rc[0], h / (2 * factor)), h - h / (2 * factor))
    cc = min(max(center_rc[1], w / (2 * factor)), w - w / (2 * factor))
    r = (np.arange(h, dtype=np.float32) - h / 2 + 0.5) / factor + cr - 0.5
    c = (np.arange(w, dtype=np.float32) - w / 2 + 0.5) / factor + cc - 0.5
    r = np.clip(r, 0, h - 1.001)
    c = np.clip(c, 0, w - 1.001)
    r0 = r.astype(np.int64)
    c0 = c.astype(np.int64)
    fr = (r - r0)[:, None]
    fc = (c - c0)[None, :]
    a = img[r0][:, c0]
    b = img[r0][:, c0 + 1]
    cc_ = img[r0 + 1][:, c0]
    d = img[r0 + 1][:, c0 + 1]
    return (a * (1 - fr) * (1 - fc) + b * (1 - fr) * fc + cc_ * fr * (1 - fc) + d * fr * fc).astype(
        np.float32
    )


# --------------------------------------------------------------------------------------------
# Breast phantom
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BreastView:
    """Analytic geometry of one mammographic view in the canonical frame (mm)."""

    view: str  # "CC" or "MLO"
    rows: int
    cols: int
    spacing: float  # mm per pixel (detector plane)
    apex: tuple[float, float]  # most anterior point of the skin outline (x, y)
    b_up: float  # outline semi-axis above the apex row
    b_low: float  # outline semi-axis below the apex row
    nipple: tuple[float, float]  # the point PNL measurements start from
    nipple_in_profile: bool
    nipple_radius: float
    density_threshold: float  # higher = fattier breast
    pectoral: tuple[float, float] | None = None  # MLO: (width on top edge, length on chest wall)
    cc_pectoral: tuple[float, float, float] | None = None  # CC sliver: (depth, half height, y)
    imf_y: float | None = None  # MLO: y where the lower contour meets the chest wall

    @property
    def height_mm(self) -> float:
        return self.rows * self.spacing

    @property
    def width_mm(self) -> float:
        return self.cols * self.spacing

    @property
    def imf_visible(self) -> bool:
        return self.imf_y is not None and self.imf_y < self.height_mm - 5.0

    def to_pixel(self, x: float, y: float) -> tuple[float, float]:
        """Canonical mm -> (row, canonical column) in pixel-index coordinates."""
        return (y / self.spacing - 0.5, x / self.spacing - 0.5)


def _span(lo_mm: float, hi_mm: float, n: int, sp: float, offset: int = 0) -> slice:
    """Pixel index range covering [lo_mm, hi_mm] (+1 px margin), clipped, relative to offset."""
    a = max(0, math.floor(lo_mm / sp) - 1)
    b = min(n, math.ceil(hi_mm / sp) + 2)
    a, b = a - offset, b - offset
    return slice(max(a, 0), max(b, max(a, 0)))


def render_breast(
    g: BreastView, rng: np.random.Generator, *, with_raw: bool = False
) -> tuple[np.ndarray, np.ndarray | None]:
    """Render a view in the canonical frame.

    Returns ``(presentation, raw)``: presentation is a float32 image in ~[0, 1] that looks like a
    processed MONOCHROME2 mammogram (air ~0, fat mid-grey, dense tissue and muscle bright); raw
    (only with ``with_raw``) is a log-ish detector signal for a FOR PROCESSING image (air
    highest, dense tissue lowest, little contrast) made from the same anatomy.

    Work is confined to the bounding box of the breast, and small features (nipple, muscle,
    abdomen) to their own boxes, which keeps a 1024 x 832 view near 0.1 s.
    """
    h, w, sp = g.rows, g.cols, g.spacing
    ax, ay = g.apex
    rn = g.nipple_radius
    rs = slice(0, h) if g.view == "MLO" else _span(ay - g.b_up, ay + g.b_low, h, sp)
    cs = _span(0.0, ax + rn, w, sp)
    r0, c0 = rs.start, cs.start
    x = ((np.arange(cs.start, cs.stop, dtype=np.float32) + 0.5) * sp)[None, :]
    y = ((np.arange(rs.start, rs.stop, dtype=np.float32) + 0.5) * sp)[:, None]
    bh, bw = y.shape[0], x.shape[1]

    def box(x_lo: float, x_hi: float, y_lo: float, y_hi: float) -> tuple[slice, slice]:
        return (_span(y_lo, y_hi, h, sp, r0), _span(x_lo, x_hi, w, sp, c0))

    b = np.where(y < ay, np.float32(g.b_up), np.float32(g.b_low)).astype(np.float32)
    t = (y - ay) / b  # (bh, 1)
    fx = x / np.float32(ax)  # (1, bw)
    d = fx * fx + t * t
    d -= 1.0
    grad = (fx / np.float32(ax)) ** 2 + (t / b) ** 2
    np.sqrt(grad, out=grad)
    grad *= 2.0
    grad += 1e-6
    np.divide(d, grad, out=d)
    np.negative(d, out=d)  # approx. distance inside the skin outline, mm (negative outside)
    del grad
    alpha = np.clip(d * np.float32(1.0 / sp) + 0.5, 0.0, 1.0)

    # Textures: a coarse field for the glandular islands, thin anisotropic ridges for the
    # fibrous strands that run toward the nipple, and a fine field for the fat lobules.
    coarse = smooth_field(rng, (bh, bw), (7.0 / sp, 11.0 / sp))
    strands = smooth_field(rng, (bh, bw), (1.6 / sp, 9.0 / sp))
    fine = smooth_field(rng, (bh, bw), 1.2 / sp)
    strands *= np.float32(1.0 / 0.45)
    np.square(strands, out=strands)
    np.negative(strands, out=strands)
    ridges = np.exp(strands, out=strands)
    x_skin = ax * np.sqrt(np.clip(1.0 - t * t, 0.0, 1.0))  # (bh, 1)
    env = smoothstep(d, 2.0, 12.0)
    env *= smoothstep(x, 8.0, 30.0)
    env *= 1.0 - 0.5 * smoothstep(x / np.maximum(x_skin, 1.0), 0.85, 1.0)
    env *= smoothstep(1.0 - np.abs(t), 0.03, 0.45)
    drive = coarse + 0.25 * fine
    drive += 0.4 * ridges
    drive -= g.density_threshold
    drive *= -3.0
    np.exp(drive, out=drive)
    drive += 1.0
    gland = np.divide(env, drive, out=env)
    del drive
    gland += 0.08 * ridges * smoothstep(d, 1.0, 6.0) * (1.0 - gland)

    muscle_box: tuple[slice, slice] | None = None
    muscle = None
    if g.pectoral is not None:
        pw, pl = g.pectoral
        muscle_box = box(0.0, pw, 0.0, pl)
        my, mx = y[muscle_box[0]], x[:, muscle_box[1]]
        sd = (1.0 - mx / pw - my / pl) / math.sqrt(1.0 / pw**2 + 1.0 / pl**2)
        muscle = np.clip(sd / sp + 0.5, 0.0, 1.0).astype(np.float32)
    elif g.cc_pectoral is not None:
        dp, hp, yp = g.cc_pectoral
        muscle_box = box(0.0, dp, yp - hp, yp + hp)
        my, mx = y[muscle_box[0]], x[:, muscle_box[1]]
        rr = np.sqrt((mx / dp) ** 2 + ((my - yp) / hp) ** 2)
        muscle = np.clip((1.0 - rr) * dp / sp + 0.5, 0.0, 1.0).astype(np.float32)
    if muscle is not None and muscle_box is not None:
        gland[muscle_box] *= 1.0 - muscle

    tissue = 0.33 + 0.035 * fine
    tissue += 0.44 * gland
    tissue *= 0.78 + 0.22 * smoothstep(d, 0.0, 12.0)
    skin = d * np.float32(1.0 / 0.9)
    np.square(skin, out=skin)
    np.negative(skin, out=skin)
    np.exp(skin, out=skin)
    tissue += 0.12 * skin  # skin line
    del skin
    if muscle is not None and muscle_box is not None:
        mb = muscle_box
        tissue[mb] = tissue[mb] * (1.0 - muscle) + muscle * (
            0.70 + 0.04 * fine[mb] + 0.04 * coarse[mb]
        )

    nx, ny = g.nipple
    blob = None
    blob_box = box(nx - 1.5 * rn, nx + 1.5 * rn, ny - 1.5 * rn, ny + 1.5 * rn)
    if not g.nipple_in_profile:
        # Nipple projected over the breast: a round density inside the outline.
        rblob = np.sqrt((x[:, blob_box[1]] - nx) ** 2 + (y[blob_box[0]] - ny) ** 2)
        blob = np.clip((1.25 * rn - rblob) / sp + 0.5, 0.0, 1.0)
        tissue[blob_box] += 0.17 * blob

    air = np.float32(0.025)
    p = tissue
    p -= air
    p *= alpha
    p += air
    extra = np.zeros((bh, bw), dtype=np.float32)
    if g.nipple_in_profile:
        # Nipple in profile: a small half-disc bump on the skin outline at the apex.
        nb = box(ax - rn, ax + rn, ay - rn, ay + rn)
        rnip = np.sqrt((x[:, nb[1]] - ax) ** 2 + (y[nb[0]] - ay) ** 2)
        a_nip = np.clip((rn - rnip) / sp + 0.5, 0.0, 1.0) * (x[:, nb[1]] > ax - rn)
        a_nip = (a_nip * (1.0 - alpha[nb])).astype(np.float32)
        p[nb] = p[nb] * (1.0 - a_nip) + a_nip * 0.60
        extra[nb] = np.maximum(extra[nb], a_nip)
    if g.view == "MLO" and g.imf_visible and g.imf_y is not None:
        # Upper abdominal wall below an open inframammary fold.
        k = 0.55
        ab = box(0.0, k * (g.height_mm - g.imf_y) + 2.0, g.imf_y, g.height_mm)
        ya, xa = y[ab[0]], x[:, ab[1]]
        d_abd = (k * (ya - g.imf_y - 2.0) - xa) / math.sqrt(1.0 + k * k)
        a_abd = np.clip(d_abd / sp + 0.5, 0.0, 1.0) * (1.0 - alpha[ab])
        abd = 0.46 + 0.03 * fine[ab] + 0.10 * np.exp(-((d_abd / 0.9) ** 2))
        p[ab] = p[ab] * (1.0 - a_abd) + a_abd * abd
        extra[ab] = np.maximum(extra[ab], a_abd)
    body = np.maximum(alpha, extra)

    # Quantum noise: uniform (cheaper than Gaussian, looks the same at this level).
    sq12 = math.sqrt(12.0)
    u_full = rng.random((h, w), dtype=np.float32)
    u_full -= 0.5
    out = u_full * np.float32(sq12 * 0.004)
    out += air
    u_box = u_full[rs, cs]
    p += u_box * (np.float32(sq12 * 0.009) * body)
    out[rs, cs] = p + u_box * np.float32(sq12 * 0.004)

    raw = None
    if with_raw:
        thick = smoothstep(d, 0.0, 10.0) * alpha + 0.4 * extra
        mu = body * 0.5 + thick * (1.7 + 1.5 * gland)
        if muscle is not None and muscle_box is not None:
            mu[muscle_box] += thick[muscle_box] * 0.6 * muscle
        if blob is not None:
            mu[blob_box] += 0.3 * blob
        signal = np.exp(-mu)
        raw_box = np.log1p(30.0 * signal) / math.log1p(30.0)
        raw = 1.0 + u_full * np.float32(sq12 * 0.003)
        raw[rs, cs] = raw_box + u_box * np.float32(sq12 * 0.003)
        raw = raw.astype(np.float32)
    return out.astype(np.float32, copy=False), raw


@dataclass(frozen=True)
class BreastPlan:
    """Both views of one breast plus the exact positioning measurements."""

    cc: BreastView
    mlo: BreastView
    truth: dict


def _mlo_pnl(mlo: BreastView) -> dict:
    """Exact MLO measurements from the analytic geometry.

    PNL (MLO): from the nipple perpendicular to the anterior pectoral edge; it ends on that edge
    when the muscle reaches that far, otherwise on the posterior (chest-wall) image edge, as the
    ACR wording "to the pectoral muscle or the image edge, whichever comes first" asks.
    pectoral_to_pnl_mm: signed distance from the inferior end of the pectoral edge (where it meets
    the chest-wall image edge) to the PNL line, measured along the edge; > 0 means the muscle
    stops that far above the PNL, <= 0 means it reaches (or crosses) the PNL.
    """
    assert mlo.pectoral is not None
    pw, pl = mlo.pectoral
    length = math.hypot(pw, pl)
    ux, uy = -pw / length, pl / length  # along the edge, downward
    nx, ny = mlo.nipple
    t_n = (nx - pw) * ux + ny * uy
    fx, fy = pw + t_n * ux, t_n * uy
    to_line = math.hypot(nx - fx, ny - fy)
    shortfall = t_n - length
    if t_n <= length:
        end = (fx, fy)
        pnl = to_line
        ends_at = "pectoral"
    else:
        # Perpendicular direction toward the edge is (-uy, ux)... scaled to reach x = 0.
        dx, dy = -uy, ux  # unit vector pointing posterior-superior
        k = nx / -dx
        end = (0.0, ny + k * dy)
        pnl = k
        ends_at = "image_edge"
    return {
        "pnl_mm": pnl,
        "pnl_to_pectoral_line_mm": to_line,
        "pnl_end": end,
        "pnl_ends_at": ends_at,
        "pectoral_to_pnl_mm": shortfall,
        "pectoral_foot": (fx, fy),
    }


def plan_breast(
    rng: np.random.Generator,
    rows: int,
    cols: int,
    spacing: float,
    *,
    pectoral: str = "good",
    cc_short: bool = False,
    nipple_profile_cc: bool = True,
    nipple_profile_mlo: bool = True,
    imf_visible: bool = True,
    cc_pectoral_sliver: bool = False,
    density_threshold: float = 0.3,
) -> BreastPlan:
    """Choose CC and MLO geometry for one breast that meets the requested positioning faults.

    ``pectoral``: "good" (muscle reaches 6-35 mm past the PNL), "borderline" (stops 3-9 mm
    above it: fails "reaches", passes the 10 mm tolerance), "short" (stops 15-40 mm above).
    ``cc_short``: CC PNL 14-26 mm shorter than MLO PNL (else within -4..+7 mm of it).
    Thresholds are absolute mm; only the anatomy scales with the field of view.
    """
    hmm, wmm = rows * spacing, cols * spacing
    k = min(hmm / 300.0, wmm / 244.0)
    targets = {"good": (-35.0, -6.0), "borderline": (3.0, 9.0), "short": (15.0, 40.0)}
    lo, hi = targets[pectoral]
    rn = 3.5 * max(k, 0.5)
    chosen = None
    for _ in range(400):
        yn = hmm * rng.uniform(0.50, 0.60)
        xn = rng.uniform(80.0, 118.0) * k
        theta = math.radians(rng.uniform(15.0, 30.0))
        s = rng.uniform(lo, hi)
        si, co = math.sin(theta), math.cos(theta)
        pw = si * (yn * co - xn * si - s) / co**2
        pl = pw / math.tan(theta)
        if imf_visible:
            imf_y = hmm - rng.uniform(25.0, 50.0) * k
        else:
            imf_y = hmm + rng.uniform(20.0, 50.0) * k
        if not (20.0 * k <= pw <= 0.42 * wmm and 40.0 * k <= pl <= min(0.85 * hmm, imf_y - 20 * k)):
            continue
        if nipple_profile_mlo:
            apex = (xn, yn)
        else:  # nipple points down: projects inside, inferior-posterior of the outline apex
            apex = (xn + rng.uniform(9.0, 14.0) * k, yn - rng.uniform(10.0, 16.0) * k)
        ax, ay = apex
        if ax > 0.8 * wmm:
            continue
        x0 = max(pw + rng.uniform(18.0, 35.0) * k, rng.uniform(0.5, 0.7) * ax)
        if x0 > 0.93 * ax:
            continue
        b_up = ay / math.sqrt(1.0 - (x0 / ax) ** 2)
        b_low = imf_y - ay
        if b_low < 40.0 * k:
            continue
        if not nipple_profile_mlo:
            bb = b_low if yn >= ay else b_up
            if (xn / ax) ** 2 + ((yn - ay) / bb) ** 2 > 0.8:
                continue
        chosen = (apex, b_up, b_low, (xn, yn), (pw, pl), imf_y)
        break
    if chosen is None:  # pragma: no cover - only for absurd fields of view
        raise ValueError(f"cannot place an MLO breast in a {hmm:.0f} x {wmm:.0f} mm field")
    apex, b_up, b_low, nipple, pect, imf_y = chosen
    mlo = BreastView(
        view="MLO",
        rows=rows,
        cols=cols,
        spacing=spacing,
        apex=apex,
        b_up=b_up,
        b_low=b_low,
        nipple=nipple,
        nipple_in_profile=nipple_profile_mlo,
        nipple_radius=rn,
        density_threshold=density_threshold,
        pectoral=pect,
        imf_y=imf_y,
    )
    m = _mlo_pnl(mlo)

    diff = rng.uniform(14.0, 26.0) if cc_short else rng.uniform(-4.0, 7.0)
    pnl_cc = m["pnl_mm"] - diff
    yc = hmm / 2 + rng.uniform(-12.0, 12.0) * k
    bcc = min(rng.uniform(78.0, 100.0) * k, hmm / 2 - abs(yc - hmm / 2) - 8.0 * k)
    if nipple_profile_cc:
        cc_apex = (pnl_cc, yc)
        cc_nipple = (pnl_cc, yc)
    else:  # nipple rotated medially or laterally, projected inside the outline
        side = 1.0 if rng.random() < 0.5 else -1.0
        cc_nipple = (pnl_cc, yc + side * rng.uniform(12.0, 18.0) * k)
        cc_apex = (pnl_cc + rng.uniform(8.0, 12.0) * k, yc)
    sliver = None
    if cc_pectoral_sliver:
        sliver = (
            rng.uniform(6.0, 13.0) * k,
            rng.uniform(25.0, 40.0) * k,
            yc + rng.uniform(-15.0, 15.0) * k,
        )
    cc = BreastView(
        view="CC",
        rows=rows,
        cols=cols,
        spacing=spacing,
        apex=cc_apex,
        b_up=bcc * rng.uniform(1.0, 1.08),
        b_low=bcc,
        nipple=cc_nipple,
        nipple_in_profile=nipple_profile_cc,
        nipple_radius=rn,
        density_threshold=density_threshold,
        cc_pectoral=sliver,
    )
    truth = {
        "pnl_mlo_mm": m["pnl_mm"],
        "pnl_cc_mm": pnl_cc,
        "mlo": m,
    }
    return BreastPlan(cc=cc, mlo=mlo, truth=truth)


# --------------------------------------------------------------------------------------------
# Pelvis / prostate phantom (MR)
# --------------------------------------------------------------------------------------------

# Tissue labels of the pelvis phantom.
(AIR, FAT, MUSCLE, MARROW, CORTEX, URINE, RECT_WALL, RECT_LUMEN, PZ, TZ, LESION, VESSEL, SV) = (
    range(13)
)
N_LABELS = 13

#: Per-label T2W signal (arbitrary units, 12-bit range).
T2_SIGNAL = np.array(
    [5, 1100, 380, 750, 40, 2400, 450, 60, 1500, 720, 470, 120, 1700], dtype=np.float32
)
#: Per-label DWI S0 with fat suppression.
DWI_S0 = np.array([0, 60, 450, 120, 10, 1200, 500, 20, 900, 760, 980, 60, 800], dtype=np.float32)
#: Per-label apparent diffusion coefficient, 1e-6 mm^2/s.
ADC_TRUE = np.array(
    [0, 300, 1400, 500, 500, 3000, 1300, 2000, 1750, 1250, 750, 2500, 2000], dtype=np.float32
)
#: Per-label pre-contrast T1 GRE (fat-suppressed) signal.
T1_SIGNAL = np.array(
    [3, 120, 320, 200, 30, 180, 330, 40, 300, 320, 310, 280, 260], dtype=np.float32
)
#: Per-label enhancement (peak fraction, wash-in tau s, wash-out tau s; inf = plateau/persistent).
DCE_KINETICS = {
    FAT: (0.10, 120.0, math.inf),
    MUSCLE: (0.50, 90.0, math.inf),
    MARROW: (0.60, 60.0, 1000.0),
    RECT_WALL: (1.20, 30.0, 600.0),
    PZ: (0.70, 80.0, math.inf),
    TZ: (1.00, 50.0, 900.0),
    LESION: (1.90, 15.0, 250.0),
    SV: (0.40, 120.0, math.inf),
}


@dataclass(frozen=True)
class PelvisAnatomy:
    """Per-patient variation of the pelvis phantom (LPS mm; prostate centre near the origin)."""

    prostate_scale: float = 1.0
    tz_scale: float = 1.0
    lesion: tuple[float, float, float, float] | None = None  # (x, y, z, radius)


def _ell(x: np.ndarray, y: np.ndarray, cx: float, cy: float, ax: float, ay: float) -> np.ndarray:
    return ((x - cx) / ax) ** 2 + ((y - cy) / ay) ** 2 <= 1.0


def pelvis_labels(
    rows: int, cols: int, spacing: float, z: float, anat: PelvisAnatomy, center_y: float = 5.0
) -> np.ndarray:
    """Tissue label map of one axial slice at height ``z`` (mm, + = superior).

    The image grid is centred on (x=0, y=center_y): columns run toward patient left (+x),
    rows toward posterior (+y), as with Image Orientation (Patient) 1\\0\\0\\0\\1\\0.
    """
    x = ((np.arange(cols, dtype=np.float32) - (cols - 1) / 2) * spacing)[None, :]
    y = ((np.arange(rows, dtype=np.float32) - (rows - 1) / 2) * spacing + center_y)[:, None]
    lab = np.zeros((rows, cols), dtype=np.uint8)
    lab[_ell(x, y, 0, 5, 175, 125)] = FAT
    lab[_ell(x, y, 0, 5, 160, 110)] = MUSCLE
    lab[_ell(x, y, 0, 8, 62, 58)] = FAT
    # Femoral heads (spheres), ischia and pubic bones.
    for sx in (-1.0, 1.0):
        dz = z - 5.0
        if abs(dz) < 24.0:
            r = math.sqrt(24.0**2 - dz * dz)
            lab[_ell(x, y, sx * 95, 0, r, r)] = CORTEX
            if r > 4:
                lab[_ell(x, y, sx * 95, 0, r - 3, r - 3)] = MARROW
        if z < -5.0:
            lab[_ell(x, y, sx * 62, 38, 11, 17)] = CORTEX
            lab[_ell(x, y, sx * 62, 38, 8, 14)] = MARROW
        if -25.0 < z < 10.0:
            lab[_ell(x, y, sx * 14, -52, 11, 13)] = CORTEX
            lab[_ell(x, y, sx * 14, -52, 8, 10)] = MARROW
        lab[_ell(x, y, sx * 82, -55, 4.5, 4.5)] = VESSEL
        lab[_ell(x, y, sx * 68, -55, 6, 6)] = VESSEL
    # Bladder (superior), rectum (posterior).
    dzb = (z - 45.0) / 30.0
    if abs(dzb) < 1.0:
        s = math.sqrt(1.0 - dzb * dzb)
        lab[_ell(x, y, 0, -8, 48 * s + 3, 40 * s + 3)] = MUSCLE
        lab[_ell(x, y, 0, -8, 48 * s + 0.1, 40 * s + 0.1)] = URINE
    if z < 40.0:
        cy = 44.0 + 0.1 * z
        lab[_ell(x, y, 0, cy, 17, 17)] = RECT_WALL
        lab[_ell(x, y, 0, cy, 8, 8)] = RECT_LUMEN
    # Seminal vesicles (superior to the gland).
    dzs = (z - 26.0) / 8.0
    if abs(dzs) < 1.0:
        s = math.sqrt(1.0 - dzs * dzs)
        for sx in (-1.0, 1.0):
            lab[_ell(x, y, sx * 17, 22, 15 * s + 0.1, 7 * s + 0.1)] = SV
    # Prostate: peripheral zone by default, transition zone inside, anterior stroma dark.
    ps = anat.prostate_scale
    dzp = z / (21.0 * ps)
    if abs(dzp) < 1.0:
        s = math.sqrt(1.0 - dzp * dzp)
        gland = _ell(x, y, 0, 6, 24 * ps * s, 18 * ps * s)
        lab[gland] = PZ
        tzs = ps * anat.tz_scale
        dzt = (z - 4.0) / (15.0 * tzs)
        if abs(dzt) < 1.0:
            st = math.sqrt(1.0 - dzt * dzt)
            lab[gland & _ell(x, y, 0, 1, 16 * tzs * st, 11 * tzs * st)] = TZ
        lab[gland & (y < 6 - 13 * ps * s) & (lab == PZ)] = MUSCLE
        if anat.lesion is not None:
            lx, ly, lz, lr = anat.lesion
            dzl = z - lz
            if abs(dzl) < lr:
                rl = math.sqrt(lr * lr - dzl * dzl)
                lab[gland & _ell(x, y, lx, ly, rl, rl)] = LESION
    return lab


def rician(
    rng: np.random.Generator, signal: np.ndarray, sigma: float
) -> np.ndarray:  # magnitude-image noise
    """Magnitude of signal plus complex Gaussian noise (what a magnitude MR image shows)."""
    n1 = rng.standard_normal(signal.shape, dtype=np.float32) * sigma
    n2 = rng.standard_normal(signal.shape, dtype=np.float32) * sigma
    return np.sqrt((signal + n1) ** 2 + n2 * n2)


def coil_bias(rows: int, cols: int) -> np.ndarray:
    """Phased-array shading: periphery brighter than the centre (a visible, realistic trait)."""
    yy = np.linspace(-1.0, 1.0, rows, dtype=np.float32)[:, None]
    xx = np.linspace(-1.0, 1.0, cols, dtype=np.float32)[None, :]
    return 0.85 + 0.3 * (0.6 * xx * xx + yy * yy)


def dce_enhancement(label: int, t_s: float, arrival_s: float) -> float:
    """Fractional enhancement of a tissue at time ``t_s`` (contrast arrives at ``arrival_s``)."""
    dt = t_s - arrival_s
    if dt <= 0:
        return 0.0
    if label == VESSEL:  # first-pass peak then recirculation plateau
        tp = 12.0
        peak = 5.0 * (dt / tp) ** 2 * math.exp(2.0 * (1.0 - dt / tp))
        return peak + 1.3 * (1.0 - math.exp(-dt / 20.0))
    kin = DCE_KINETICS.get(label)
    if kin is None:
        return 0.0
    amp, tin, tout = kin
    out = 1.0 if math.isinf(tout) else math.exp(-dt / tout)
    return amp * (1.0 - math.exp(-dt / tin)) * out
