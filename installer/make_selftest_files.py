"""Make the tiny DICOM files that ``auditdesk --selftest`` decodes (developer tool, run once).

The self-test must prove that the installed codec plug-ins decode real files in every transfer
syntax a site sends us, without needing an encoder at run time (pydicom has none for JPEG
lossless, and JPEG-LS encoding needs pyjpegls, which we do not ship). So the files are made here,
once, and committed as package data (``resources/selftest/``):

* a 4-view screening mammogram (128 x 104, 12 bit) and a 3-slice T2W MR series (64 x 64) from
  the project's synthetic generator (synthetic patients only),
* each written uncompressed, JPEG 2000 lossless (pylibjpeg-openjpeg), JPEG lossless SV1 (the
  small encoder below), JPEG-LS lossless (pyjpegls) and RLE lossless (pydicom's own encoder),
* and every compressed file checked here to decode to exactly the uncompressed pixels.

Usage (pyjpegls is needed here only)::

    .venv/bin/python -m pip install pyjpegls
    .venv/bin/python installer/make_selftest_files.py
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from datetime import date
from pathlib import Path

import numpy as np
import pydicom
from pydicom.encaps import encapsulate
from pydicom.uid import (
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGLosslessSV1,
    JPEGLSLossless,
    RLELossless,
)

from auditdesk.demo.generator import generate_mammo_study, generate_mr_study

OUT = Path(__file__).resolve().parents[1] / "resources" / "selftest"
CODECS = {
    "raw": ExplicitVRLittleEndian,
    "j2k": JPEG2000Lossless,
    "jpegll": JPEGLosslessSV1,
    "jpegls": JPEGLSLossless,
    "rle": RLELossless,
}

# Huffman table for the 17 difference categories (ITU T.81 H.1.2.2): code lengths 3..9, the
# small categories (the common ones) get the short codes; no code is all ones.
_BITS = [0, 0, 6, 2, 2, 2, 2, 2, 1, 0, 0, 0, 0, 0, 0, 0]  # number of codes of length 1..16
_HUFFVAL = list(range(17))


def _huffman_codes() -> dict[int, tuple[int, int]]:
    """Canonical codes (T.81 Annex C): symbol -> (code, length)."""
    codes: dict[int, tuple[int, int]] = {}
    code, k = 0, 0
    for length, count in enumerate(_BITS, start=1):
        for _ in range(count):
            codes[_HUFFVAL[k]] = (code, length)
            code += 1
            k += 1
        code <<= 1
    return codes


def encode_jpeg_lossless_sv1(image: np.ndarray, precision: int) -> bytes:
    """One grey frame as JPEG lossless, process 14, first-order prediction (selection value 1).

    Prediction (T.81 H.1.2.1): first pixel 2**(P-1); first row from the left; first column
    from above; everything else from the left. Differences are coded as category + extra bits.
    """
    rows, cols = image.shape
    px = image.astype(np.int64)
    pred = np.empty_like(px)
    pred[0, 0] = 1 << (precision - 1)
    pred[0, 1:] = px[0, :-1]
    pred[1:, 0] = px[:-1, 0]
    pred[1:, 1:] = px[1:, :-1]
    diff = (px - pred).ravel()
    codes = _huffman_codes()
    bits: list[str] = []
    for d in diff.tolist():
        ssss = 0 if d == 0 else int(abs(d)).bit_length()
        code, length = codes[ssss]
        bits.append(format(code, f"0{length}b"))
        if 0 < ssss < 16:
            extra = d if d > 0 else d - 1
            bits.append(format(extra & ((1 << ssss) - 1), f"0{ssss}b"))
    stream = "".join(bits)
    stream += "1" * (-len(stream) % 8)
    data = bytearray()
    for i in range(0, len(stream), 8):
        byte = int(stream[i : i + 8], 2)
        data.append(byte)
        if byte == 0xFF:
            data.append(0x00)  # byte stuffing
    out = bytearray(b"\xff\xd8")
    out += b"\xff\xc3" + (11).to_bytes(2, "big") + bytes([precision])
    out += rows.to_bytes(2, "big") + cols.to_bytes(2, "big") + bytes([1, 1, 0x11, 0])
    table = bytes([0x00, *_BITS, *_HUFFVAL])
    out += b"\xff\xc4" + (2 + len(table)).to_bytes(2, "big") + table
    out += b"\xff\xda" + (8).to_bytes(2, "big") + bytes([1, 1, 0x00, 1, 0, 0])
    out += data + b"\xff\xd9"
    return bytes(out)


def write_codec(src: Path, dest: Path, codec: str) -> None:
    """Re-encode one uncompressed file and check it decodes to the same pixels."""
    ds = pydicom.dcmread(src)
    arr = ds.pixel_array
    ts = CODECS[codec]
    if codec == "jpegll":
        ds.PixelData = encapsulate([encode_jpeg_lossless_sv1(arr, int(ds.BitsStored))])
        ds["PixelData"].VR = "OB"
        ds.file_meta.TransferSyntaxUID = ts
    elif codec == "j2k":
        ds.compress(ts, arr, encoding_plugin="pylibjpeg", generate_instance_uid=False)
    elif codec == "jpegls":
        ds.compress(ts, arr, encoding_plugin="pyjpegls", generate_instance_uid=False)
    elif codec == "rle":
        ds.compress(ts, arr, encoding_plugin="pydicom", generate_instance_uid=False)
    ds.save_as(dest, enforce_file_format=True)
    back = pydicom.dcmread(dest).pixel_array
    if not np.array_equal(back, arr):
        raise SystemExit(f"{dest.name}: decoded pixels differ from the original")


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        mammo = generate_mammo_study(
            work,
            seed=17,
            index=1,
            procedure_date=date(2026, 1, 5),
            technologist=None,
            size=(128, 104),
            bits_stored=12,
            windows=1,
            series_per_view=False,
        )
        mr = generate_mr_study(
            work,
            seed=17,
            index=2,
            procedure_date=date(2026, 1, 6),
            size_scale=0.25,
            slices=3,
            dce_time_points=2,
            dce_slices=1,
        )
        sources = {f"MG_{f.laterality}{f.view}": f.path for f in mammo.files if f.view}
        t2 = sorted((f for f in mr.files if f.role == "T2W"), key=lambda f: f.slice_index or 0)
        sources |= {f"MR_T2W_{i + 1}": f.path for i, f in enumerate(t2)}
        if len(sources) != 7:
            raise SystemExit(f"expected 4 mammo views and 3 MR slices, got {sorted(sources)}")
        if OUT.exists():
            shutil.rmtree(OUT)
        OUT.mkdir(parents=True)
        for label, path in sorted(sources.items()):
            for codec in CODECS:
                write_codec(path, OUT / f"{codec}_{label}.dcm", codec)
    total = sum(p.stat().st_size for p in OUT.iterdir())
    print(f"wrote {len(list(OUT.iterdir()))} files, {total / 1024:.0f} KiB, to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
