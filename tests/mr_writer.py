"""Write small but complete MR files with pydicom (file meta, pixels, private creators), so the
tests read them back exactly as the index reads a scanner's files."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

MR_STORAGE = "1.2.840.10008.5.1.4.1.1.4"
ENHANCED_MR_STORAGE = "1.2.840.10008.5.1.4.1.1.4.1"
AXIAL = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
SAGITTAL = (0.0, 1.0, 0.0, 0.0, 0.0, -1.0)
CORONAL = (1.0, 0.0, 0.0, 0.0, 0.0, -1.0)


def csa2(fields: dict[str, tuple[str, list[str]]]) -> bytes:
    """A Siemens CSA2 ("SV10") header: {name: (VR, items)}.

    Layout (nibabel.nicom.csareader, NA-MIC DWI wiki): "SV10" + 04 03 02 01, uint32 n_tags,
    uint32 77; per tag: name char[64], int32 VM, char[4] VR, int32 SyngoDT, int32 n_items,
    int32 77; per item: int32[4] with the item length in [1] (CSA2), then the text padded to a
    multiple of 4 bytes.
    """
    out = bytearray(b"SV10\x04\x03\x02\x01")
    out += struct.pack("<2I", len(fields), 77)
    for name, (vr, items) in fields.items():
        out += name.encode().ljust(64, b"\x00")
        vm = len(items)  # values; readers expect items past VM to be empty
        out += struct.pack("<i4s3i", vm, vr.encode().ljust(4, b"\x00"), 3, len(items), 77)
        for item in items:
            data = item.encode() + b"\x00"
            out += struct.pack("<4i", len(data), len(data), 77, len(data))
            out += data + b"\x00" * ((4 - len(data) % 4) % 4)
    return bytes(out)


def add_private(
    ds: Dataset, group: int, creator: str, offset: int, vr: str, value: Any, block: int = 0x10
) -> None:
    """A private element with its Private Creator in ``block`` (gggg,00bb)."""
    ds.add_new((group << 16) | block, "LO", creator)
    ds.add_new((group << 16) | (block << 8) | offset, vr, value)


def mr_dataset(
    study_uid: str,
    series_uid: str,
    instance: int,
    z: float = 0.0,
    orientation: tuple[float, ...] = AXIAL,
    size: int = 16,
    **attrs: Any,
) -> Dataset:
    """A classic MR image header with pixels; ``attrs`` are set by keyword."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = MR_STORAGE
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    sop = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = sop
    ds.SOPClassUID = MR_STORAGE
    ds.SOPInstanceUID = sop
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.Modality = "MR"
    ds.PatientID = "SYNTH"
    ds.StudyDate = "20250101"
    ds.InstanceNumber = instance
    ds.ImageOrientationPatient = list(orientation)
    normal = np.cross(orientation[:3], orientation[3:])
    ds.ImagePositionPatient = [float(v) for v in (np.array([-50.0, -50.0, 0.0]) + normal * z)]
    ds.PixelSpacing = [1.0, 1.0]
    ds.Rows = ds.Columns = size
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    ds.PixelData = (np.arange(size * size, dtype=np.uint16) % 97 * (instance + 1)).tobytes()
    for key, value in attrs.items():
        setattr(ds, key, value)
    return ds


def write(ds: Dataset, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pydicom.dcmwrite(path, ds, enforce_file_format=True)
    return path


def read(path: Path) -> Dataset:
    """As the index reads a file: header only."""
    return pydicom.dcmread(path, stop_before_pixels=True, force=True)


def write_prostate_with_localizer(folder: Path) -> None:
    """One study: a 3-plane localizer, a T2W TSE and a FLAIR (SE\\IR, TI 2500)."""
    study = generate_uid()
    loc, t2, flair = generate_uid(), generate_uid(), generate_uid()
    for i, plane in enumerate([AXIAL, SAGITTAL, CORONAL]):
        write(mr_dataset(study, loc, i + 1, orientation=plane, SeriesNumber=1,
                         SeriesDescription="3-pl loc", ScanningSequence="GR",
                         RepetitionTime=7.0, EchoTime=3.0), folder / f"loc{i}.dcm")  # fmt: skip
    for i in range(4):
        write(mr_dataset(study, t2, i + 1, z=3.0 * i, SeriesNumber=2,
                         SeriesDescription="t2_tse_tra", ScanningSequence="SE",
                         RepetitionTime=4500.0, EchoTime=100.0),
              folder / f"t2_{i}.dcm")  # fmt: skip
        write(mr_dataset(study, flair, i + 1, z=3.0 * i, SeriesNumber=3,
                         ScanningSequence=["SE", "IR"], InversionTime=2500.0,
                         SequenceName="*tir2d1_19", RepetitionTime=9000.0,
                         EchoTime=101.0), folder / f"flair{i}.dcm")  # fmt: skip
