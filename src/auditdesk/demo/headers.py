"""DICOM header builders for the synthetic demo data (mammography and prostate MR).

Why a separate module: the headers are what AuditDesk's indexer, classifiers and PI-RADS checks
read, so they carry the realistic details (view codes in two coding schemes, vendor b-value
tags, window/VOI variants, shuffled instance numbers) while the pixel synthesis stays in
``phantoms``. Every patient is a pseudonym ("DEMO^PATIENT-0007"), every institution/device string
says DEMO, and the Patient Comments / Study Description carry :data:`MARKER`.
"""

from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_data_element, write_file_meta_info
from pydicom.filewriter import write_dataset as pydicom_write_dataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.tag import BaseTag
from pydicom.uid import ExplicitVRLittleEndian, JPEG2000Lossless, MRImageStorage

MARKER = "AuditDesk synthetic demo data"
MANUFACTURER = "AuditDesk Demo"

MG_FOR_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.2"
MG_FOR_PROCESSING = "1.2.840.10008.5.1.4.1.1.1.2.1"
MR_IMAGE = str(MRImageStorage)

_UID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:auditdesk:demo-generator")


def make_uid(seed: int, *parts: object) -> str:
    """A 2.25 UID from a name-based (SHA-1, version 5) UUID of the seed and the object's identity.

    Why not ``generate_uid(prefix=None, entropy_srcs=...)``: pydicom ignores ``entropy_srcs``
    when ``prefix`` is None and returns a random UUID, so files would differ on every run.
    A UUID-derived OID under 2.25 is what PS3.5 B.2 describes, and uuid5 makes it repeatable.
    """
    name = "\x1f".join([str(seed), *map(str, parts)])
    return f"2.25.{uuid.uuid5(_UID_NAMESPACE, name).int}"


#: Deterministic implementation UID, so regenerated files are byte-identical.
IMPLEMENTATION_UID = make_uid(0, "implementation")
IMPLEMENTATION_VERSION = "AUDITDESK_DEMO1"


# --------------------------------------------------------------------------------------------
# Code tables (CID 4014 views, CID 4015 modifiers) in the SCT and legacy SRT schemes
# --------------------------------------------------------------------------------------------

VIEW_CODES: dict[str, dict[str, tuple[str, str]]] = {
    "CC": {"SCT": ("399162004", "cranio-caudal"), "SRT": ("R-10242", "cranio-caudal")},
    "MLO": {
        "SCT": ("399368009", "medio-lateral oblique"),
        "SRT": ("R-10226", "medio-lateral oblique"),
    },
    "ML": {"SCT": ("399260004", "medio-lateral"), "SRT": ("R-10224", "medio-lateral")},
    "XCCL": {
        "SCT": ("399192008", "cranio-caudal exaggerated laterally"),
        "SRT": ("R-1024A", "cranio-caudal exaggerated laterally"),
    },
}
MODIFIER_CODES: dict[str, dict[str, tuple[str, str]]] = {
    "SPOT": {"SCT": ("399055006", "Spot Compression"), "SRT": ("R-102D7", "Spot Compression")},
    "MAG": {"SCT": ("399163009", "Magnification"), "SRT": ("R-102D6", "Magnification")},
}
BREAST_CODE = {"SCT": ("76752008", "Breast"), "SRT": ("T-04000", "Breast")}

#: Conventional Patient Orientation for the standard hanging (chest wall toward the patient's
#: own side of the display: right breast faces left, left breast faces right). First value =
#: direction of increasing column index, second = direction of increasing row index.
PATIENT_ORIENTATION = {
    ("R", "CC"): ("P", "L"),
    ("L", "CC"): ("A", "R"),
    ("R", "MLO"): ("P", "FL"),
    ("L", "MLO"): ("A", "FR"),
    ("R", "ML"): ("P", "F"),
    ("L", "ML"): ("A", "F"),
}


def patient_orientation(laterality: str, view: str, mirrored: bool = False) -> list[str]:
    """Patient Orientation for a view; ``mirrored`` stores the image left-right flipped."""
    base_view = "CC" if view in ("CC", "XCCL") else view
    first, second = PATIENT_ORIENTATION[(laterality, base_view)]
    if mirrored:
        first = "A" if first == "P" else "P"
    return [first, second]


def chest_wall_side(orientation_first: str) -> str:
    """Image edge holding the chest wall: columns increase toward P => chest wall on the right."""
    return "right" if orientation_first == "P" else "left"


def _code_item(value: str, scheme: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue = value
    item.CodingSchemeDesignator = scheme
    item.CodeMeaning = meaning
    return item


# --------------------------------------------------------------------------------------------
# Patient / study
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PatientStudy:
    """Patient and study level values shared by every file of one study."""

    seed: int
    index: int
    study_uid: str
    patient_name: str
    patient_id: str
    birth_date: date
    sex: str
    age_years: int
    accession: str
    study_date: date
    study_time: str  # HHMMSS
    study_description: str
    technologist: str | None
    institution: str
    station: str
    referring: str = "DEMO^REFERRER"


def pseudonym(index: int) -> tuple[str, str, str]:
    """(PatientName, PatientID, AccessionNumber) for a demo index; never real-looking."""
    return f"DEMO^PATIENT-{index:04d}", f"DEMO-{index:04d}", f"DEMOACC{index:04d}"


def new_dataset(
    sop_class: str, sop_uid: str, transfer_syntax: str = ExplicitVRLittleEndian
) -> Dataset:
    """Dataset with file meta filled deterministically (no per-run implementation values)."""
    ds = Dataset()
    ds.file_meta = _file_meta(sop_class, sop_uid, transfer_syntax)
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = sop_uid
    return ds


def add_patient_study(
    ds: Dataset, ps: PatientStudy, modality: str, manufacturer: str = MANUFACTURER
) -> None:
    """Patient, general study and equipment modules."""
    ds.StudyDate = ps.study_date.strftime("%Y%m%d")
    ds.StudyTime = ps.study_time
    ds.AccessionNumber = ps.accession
    ds.Modality = modality
    ds.Manufacturer = manufacturer
    ds.InstitutionName = ps.institution
    ds.ReferringPhysicianName = ps.referring
    ds.StationName = ps.station
    ds.StudyDescription = ps.study_description
    if ps.technologist is not None:
        ds.OperatorsName = ps.technologist
    ds.PatientName = ps.patient_name
    ds.PatientID = ps.patient_id
    ds.PatientBirthDate = ps.birth_date.strftime("%Y%m%d")
    ds.PatientSex = ps.sex
    ds.PatientAge = f"{ps.age_years:03d}Y"
    ds.PatientComments = f"{MARKER} - not a real patient"
    ds.DeviceSerialNumber = f"DEMO{ps.seed % 10000:04d}"
    ds.SoftwareVersions = "auditdesk-demo 1"
    ds.StudyInstanceUID = ps.study_uid
    ds.StudyID = str(ps.index)


def dicom_dt(d: date, hhmmss: str) -> str:
    """DT value from a date and a TM value (fraction kept, padded to microseconds)."""
    whole, _, frac = hhmmss.partition(".")
    return f"{d:%Y%m%d}{whole}.{(frac or '0')[:6].ljust(6, '0')}"


def add_seconds(hhmmss: str, seconds: float) -> str:
    """Clock time plus an offset, wrapping at midnight (demo studies never span days)."""
    base = datetime.strptime(hhmmss[:6], "%H%M%S")
    total = (base.hour * 3600 + base.minute * 60 + base.second + seconds) % 86400
    h, rem = divmod(total, 3600)
    m, s = divmod(rem, 60)
    frac = s - int(s)
    out = f"{int(h):02d}{int(m):02d}{int(s):02d}"
    if frac > 1e-6:
        out += f".{int(frac * 1e6):06d}"
    return out


# --------------------------------------------------------------------------------------------
# Mammography
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MammoSeries:
    """Series-level values of a mammography series (FOR PRESENTATION or FOR PROCESSING)."""

    series_uid: str
    series_number: int
    description: str
    for_processing: bool
    series_time: str


@dataclass(frozen=True)
class MammoImage:
    """Per-image values of one mammogram (the pixel array is passed separately)."""

    sop_uid: str
    instance_number: int
    laterality: str
    view: str  # CC | MLO | ML | XCCL
    modifiers: tuple[str, ...]  # e.g. ("SPOT", "MAG")
    code_scheme: str  # SCT | SRT
    orientation: list[str]
    spacing: float
    bits_stored: int
    photometric: str
    windows: list[tuple[float, float, str]]  # (center, width, explanation); empty => no VOI
    voi_function: str | None
    acquisition_time: str
    kvp: float
    mas: int
    exposure_time_ms: int
    tube_current_ma: int
    thickness_mm: float
    force_n: float
    angle_deg: float
    magnification: float
    sid_mm: float
    anode: str
    filter: str
    organ_dose_dgy: float
    entrance_dose_mgy: float
    include_pixel_spacing: bool
    paddle: str


def mammo_dataset(
    ps: PatientStudy, series: MammoSeries, img: MammoImage, rows: int, cols: int
) -> Dataset:
    """Digital Mammography X-Ray Image (For Presentation or For Processing) header."""
    sop_class = MG_FOR_PROCESSING if series.for_processing else MG_FOR_PRESENTATION
    ds = new_dataset(sop_class, img.sop_uid)
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    ds.InstanceCreationDate = ps.study_date.strftime("%Y%m%d")
    ds.InstanceCreationTime = img.acquisition_time
    ds.SeriesDate = ps.study_date.strftime("%Y%m%d")
    ds.ContentDate = ps.study_date.strftime("%Y%m%d")
    ds.AcquisitionDateTime = dicom_dt(ps.study_date, img.acquisition_time)
    ds.SeriesTime = series.series_time
    ds.ContentTime = img.acquisition_time
    ds.PresentationIntentType = "FOR PROCESSING" if series.for_processing else "FOR PRESENTATION"
    add_patient_study(ds, ps, "MG")
    ds.ManufacturerModelName = "Demo FFDM"
    ds.SeriesDescription = series.description
    ds.ProtocolName = "Screening Mammography"
    ds.BodyPartExamined = "BREAST"
    ds.KVP = f"{img.kvp:.0f}"
    ds.DistanceSourceToDetector = f"{img.sid_mm:.1f}"
    ds.DistanceSourceToPatient = f"{img.sid_mm / img.magnification:.1f}"
    ds.EstimatedRadiographicMagnificationFactor = f"{img.magnification:.4f}"
    ds.ExposureTime = str(img.exposure_time_ms)
    ds.XRayTubeCurrent = str(img.tube_current_ma)
    ds.Exposure = str(img.mas)
    ds.ExposureInuAs = str(img.mas * 1000)
    ds.FilterMaterial = img.filter
    ds.AnodeTargetMaterial = img.anode
    ds.Grid = "IN" if "MAG" not in img.modifiers else "NONE"
    ds.FocalSpots = "0.1" if "MAG" in img.modifiers else "0.3"
    ds.BodyPartThickness = f"{img.thickness_mm:.0f}"
    ds.CompressionForce = f"{img.force_n:.0f}"
    ds.PaddleDescription = img.paddle
    ds.OrganDose = f"{img.organ_dose_dgy:.4f}"
    ds.EntranceDoseInmGy = f"{img.entrance_dose_mgy:.3f}"
    ds.ImagerPixelSpacing = [f"{img.spacing:.6g}", f"{img.spacing:.6g}"]
    ds.DetectorType = "DIRECT"
    ds.PositionerType = "MAMMOGRAPHIC"
    ds.PositionerPrimaryAngle = f"{img.angle_deg:.0f}"
    ds.ViewPosition = img.view
    ds.SeriesInstanceUID = series.series_uid
    ds.SeriesNumber = series.series_number
    ds.AcquisitionNumber = 1
    ds.InstanceNumber = img.instance_number
    ds.PatientOrientation = img.orientation
    ds.ImageLaterality = img.laterality
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = img.photometric
    ds.Rows = rows
    ds.Columns = cols
    if img.include_pixel_spacing:
        ds.PixelSpacing = [f"{img.spacing:.6g}", f"{img.spacing:.6g}"]
    ds.BitsAllocated = 16
    ds.BitsStored = img.bits_stored
    ds.HighBit = img.bits_stored - 1
    ds.PixelRepresentation = 0
    ds.PixelIntensityRelationship = "LOG"
    # -1: higher values = less X-ray intensity (dense tissue bright in MONOCHROME2).
    raw_like = series.for_processing or img.photometric == "MONOCHROME1"
    ds.PixelIntensityRelationshipSign = 1 if raw_like else -1
    ds.RescaleIntercept = "0"
    ds.RescaleSlope = "1"
    ds.RescaleType = "US"
    if img.windows:
        ds.WindowCenter = [f"{c:.0f}" for c, _, _ in img.windows]
        ds.WindowWidth = [f"{w:.0f}" for _, w, _ in img.windows]
        ds.WindowCenterWidthExplanation = [e for _, _, e in img.windows]
        if img.voi_function:
            ds.VOILUTFunction = img.voi_function
    ds.LossyImageCompression = "00"
    ds.BurnedInAnnotation = "NO"
    ds.QualityControlImage = "NO"
    ds.BreastImplantPresent = "NO"
    ds.PartialView = "NO"
    if not series.for_processing:
        ds.PresentationLUTShape = "INVERSE" if img.photometric == "MONOCHROME1" else "IDENTITY"
    scheme = img.code_scheme
    region = Dataset()
    code, meaning = BREAST_CODE[scheme]
    region.CodeValue, region.CodingSchemeDesignator, region.CodeMeaning = code, scheme, meaning
    ds.AnatomicRegionSequence = DicomSequence([region])
    code, meaning = VIEW_CODES[img.view][scheme]
    view_item = _code_item(code, scheme, meaning)
    view_item.ViewModifierCodeSequence = DicomSequence(
        [_code_item(*_mod(m, scheme)) for m in img.modifiers]
    )
    ds.ViewCodeSequence = DicomSequence([view_item])
    return ds


def _mod(modifier: str, scheme: str) -> tuple[str, str, str]:
    code, meaning = MODIFIER_CODES[modifier][scheme]
    return code, scheme, meaning


# --------------------------------------------------------------------------------------------
# MR
# --------------------------------------------------------------------------------------------

VENDORS = ("standard", "siemens", "ge", "philips")
#: Manufacturer strings: all start with "AuditDesk Demo" (clearly synthetic) but name the
#: vendor whose private-tag convention the file follows, as a reader keyed on Manufacturer needs.
MR_MANUFACTURER = {
    "standard": "AuditDesk Demo",
    "siemens": "AuditDesk Demo (SIEMENS-style tags)",
    "ge": "AuditDesk Demo (GE MEDICAL SYSTEMS-style tags)",
    "philips": "AuditDesk Demo (Philips-style tags)",
}
#: Where each convention stores the diffusion b-value (documented for tests and readers).
B_VALUE_TAGS = {
    "standard": {"tag": "(0018,9087)", "vr": "FD", "creator": None},
    "siemens": {"tag": "(0019,100C)", "vr": "IS", "creator": "SIEMENS MR HEADER"},
    "ge": {"tag": "(0043,1039)", "vr": "IS", "creator": "GEMS_PARM_01", "flag": 1_000_000_000},
    "philips": {"tag": "(2001,1003)", "vr": "FL", "creator": "Philips Imaging DD 001"},
}
GE_B_FLAG = 1_000_000_000


def set_b_value(ds: Dataset, vendor: str, b_value: float) -> None:
    """Write the b-value where the vendor convention puts it (and nowhere else)."""
    if vendor == "standard":
        ds.DiffusionBValue = float(b_value)
        ds.DiffusionDirectionality = "ISOTROPIC" if b_value > 0 else "NONE"
    elif vendor == "siemens":
        block = ds.private_block(0x0019, "SIEMENS MR HEADER", create=True)
        block.add_new(0x0C, "IS", str(round(b_value)))
    elif vendor == "ge":
        block = ds.private_block(0x0043, "GEMS_PARM_01", create=True)
        block.add_new(0x39, "IS", [str(GE_B_FLAG + round(b_value)), "0", "0", "0"])
    elif vendor == "philips":
        block = ds.private_block(0x2001, "Philips Imaging DD 001", create=True)
        block.add_new(0x03, "FL", float(b_value))
    else:
        raise ValueError(f"unknown vendor convention {vendor!r}")


@dataclass(frozen=True)
class MRSeries:
    """Series-level MR values (one acquisition protocol)."""

    series_uid: str
    series_number: int
    description: str
    image_type: list[str]
    scanning_sequence: str
    sequence_variant: str
    scan_options: str
    acquisition_type: str
    sequence_name: str
    tr_ms: float
    te_ms: float
    flip_deg: float
    echo_train: int
    averages: float
    slice_thickness: float
    slice_spacing: float
    fov_mm: float
    rows: int
    cols: int
    acq_freq: int
    acq_phase: int
    phase_dir: str  # ROW | COL
    bandwidth: float
    series_time: str
    frame_of_reference: str
    field_strength: float
    contrast_agent: str | None = None
    n_temporal: int | None = None


def mr_series_dataset(ps: PatientStudy, series: MRSeries, vendor: str) -> Dataset:
    """Everything in a classic MR Image header that is the same for all images of a series."""
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = list(series.image_type)
    ds.InstanceCreationDate = ps.study_date.strftime("%Y%m%d")
    ds.SOPClassUID = MR_IMAGE
    ds.SeriesDate = ps.study_date.strftime("%Y%m%d")
    ds.AcquisitionDate = ps.study_date.strftime("%Y%m%d")
    ds.ContentDate = ps.study_date.strftime("%Y%m%d")
    ds.SeriesTime = series.series_time
    add_patient_study(ds, ps, "MR", MR_MANUFACTURER[vendor])
    ds.ManufacturerModelName = f"Demo MR {series.field_strength:g}T"
    ds.SeriesDescription = series.description
    ds.ProtocolName = series.description
    ds.BodyPartExamined = "PROSTATE"
    ds.ScanningSequence = series.scanning_sequence.split("\\")
    ds.SequenceVariant = series.sequence_variant.split("\\")
    ds.ScanOptions = series.scan_options.split("\\") if series.scan_options else ""
    ds.MRAcquisitionType = series.acquisition_type
    ds.SequenceName = series.sequence_name
    ds.SliceThickness = f"{series.slice_thickness:g}"
    ds.RepetitionTime = f"{series.tr_ms:g}"
    ds.EchoTime = f"{series.te_ms:g}"
    ds.NumberOfAverages = f"{series.averages:g}"
    ds.ImagingFrequency = f"{42.577478 * series.field_strength:.6f}"
    ds.ImagedNucleus = "1H"
    ds.EchoNumbers = "1"
    ds.MagneticFieldStrength = f"{series.field_strength:g}"
    ds.SpacingBetweenSlices = f"{series.slice_spacing:g}"
    ds.EchoTrainLength = str(series.echo_train)
    ds.PercentSampling = "100"
    ds.PercentPhaseFieldOfView = "100"
    ds.PixelBandwidth = f"{series.bandwidth:g}"
    ds.ReceiveCoilName = "DEMO_BODY_18"
    if series.phase_dir == "ROW":
        ds.AcquisitionMatrix = [series.acq_freq, 0, 0, series.acq_phase]
    else:
        ds.AcquisitionMatrix = [0, series.acq_freq, series.acq_phase, 0]
    ds.InPlanePhaseEncodingDirection = series.phase_dir
    ds.FlipAngle = f"{series.flip_deg:g}"
    ds.PatientPosition = "FFS"
    if series.contrast_agent:
        ds.ContrastBolusAgent = series.contrast_agent
        ds.ContrastBolusRoute = "IV"
        ds.ContrastBolusVolume = "7.5"
    ds.SeriesInstanceUID = series.series_uid
    ds.SeriesNumber = series.series_number
    ds.ImageOrientationPatient = ["1", "0", "0", "0", "1", "0"]
    ds.FrameOfReferenceUID = series.frame_of_reference
    ds.PositionReferenceIndicator = ""
    if series.n_temporal:
        ds.NumberOfTemporalPositions = series.n_temporal
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = series.rows
    ds.Columns = series.cols
    sp = series.fov_mm / series.rows
    ds.PixelSpacing = [f"{sp:.6g}", f"{sp:.6g}"]
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    return ds


def mr_instance_dataset(
    series: MRSeries,
    vendor: str,
    *,
    sop_uid: str,
    instance_number: int,
    z_mm: float,
    center_y: float,
    acquisition_time: str,
    window: tuple[float, float],
    b_value: float | None = None,
    temporal_position: int | None = None,
    trigger_time_ms: float | None = None,
) -> Dataset:
    """The per-image part of an MR header (position, numbering, times, b-value, window)."""
    ds = Dataset()
    ds.InstanceCreationTime = acquisition_time
    ds.SOPInstanceUID = sop_uid
    ds.AcquisitionTime = acquisition_time
    ds.ContentTime = acquisition_time
    if trigger_time_ms is not None:
        ds.TriggerTime = f"{trigger_time_ms:g}"
    if b_value is not None:
        set_b_value(ds, vendor, b_value)
    ds.AcquisitionNumber = temporal_position if temporal_position is not None else 1
    ds.InstanceNumber = instance_number
    sp = series.fov_mm / series.rows
    x0 = -(series.cols - 1) / 2 * sp
    y0 = center_y - (series.rows - 1) / 2 * sp
    ds.ImagePositionPatient = [f"{x0:.4f}", f"{y0:.4f}", f"{z_mm:.4f}"]
    if temporal_position is not None:
        ds.TemporalPositionIdentifier = temporal_position
    ds.SliceLocation = f"{z_mm:.4f}"
    ds.WindowCenter = f"{window[0]:.0f}"
    ds.WindowWidth = f"{window[1]:.0f}"
    return ds


def merge(constant: Dataset, instance: Dataset) -> Dataset:
    """A full dataset from the constant and per-image parts (the plain, slow path)."""
    out = Dataset()
    for elem in constant:
        out.add(elem)
    for elem in instance:
        out.add(elem)
    return out


class SeriesEncoder:
    """Writes many images of one series fast: the constant header is encoded once.

    Why: pydicom spends ~5-8 ms per small file building and encoding ~80 elements; a demo or an
    index-benchmark corpus has thousands of MR slices. The constant elements are split into
    runs between the per-image tags and pre-encoded as Explicit VR Little Endian bytes; each
    image then encodes only its dozen varying elements. The result is byte-for-byte what
    ``dcmwrite`` produces for the merged dataset (checked by the tests).
    """

    def __init__(self, constant: Dataset, first_instance: Dataset, sop_class: str) -> None:
        self.sop_class = sop_class
        self.varying = frozenset(first_instance.keys())
        self.parts: list[bytes | BaseTag] = []
        run = Dataset()
        for tag in sorted(set(constant.keys()) | self.varying):
            if tag in self.varying:
                if len(run):
                    self.parts.append(_encode(run))
                    run = Dataset()
                self.parts.append(tag)
            else:
                run.add(constant[tag])
        if len(run):
            self.parts.append(_encode(run))
        self.constant = constant

    def write(self, instance: Dataset, pixels: np.ndarray, path: Path) -> str:
        """Write one image; falls back to the plain path if its tag set differs."""
        sop_uid = str(instance.SOPInstanceUID)
        if frozenset(instance.keys()) != self.varying:
            ds = merge(self.constant, instance)
            ds.file_meta = _file_meta(self.sop_class, sop_uid, ExplicitVRLittleEndian)
            return write_dataset(ds, pixels, path)
        fp = DicomBytesIO()
        fp.is_little_endian = True
        fp.is_implicit_VR = False
        fp.write(b"\x00" * 128 + b"DICM")
        write_file_meta_info(
            fp, _file_meta(self.sop_class, sop_uid, ExplicitVRLittleEndian), enforce_standard=True
        )
        for part in self.parts:
            if isinstance(part, bytes):
                fp.write(part)
            else:
                write_data_element(fp, instance[part])
        data = np.ascontiguousarray(pixels, dtype="<u2").tobytes()
        fp.write(struct.pack("<HH2sHI", 0x7FE0, 0x0010, b"OW", 0, len(data)))
        fp.write(data)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(fp.getvalue())
        return str(ExplicitVRLittleEndian)


def _encode(ds: Dataset) -> bytes:
    fp = DicomBytesIO()
    fp.is_little_endian = True
    fp.is_implicit_VR = False
    pydicom_write_dataset(fp, ds)
    return fp.getvalue()


def _file_meta(sop_class: str, sop_uid: str, transfer_syntax: str) -> FileMetaDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = transfer_syntax
    meta.ImplementationClassUID = IMPLEMENTATION_UID
    meta.ImplementationVersionName = IMPLEMENTATION_VERSION
    return meta


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


def write_dataset(
    ds: Dataset, pixels: np.ndarray, path: Path, transfer_syntax: str = ExplicitVRLittleEndian
) -> str:
    """Attach uint16 pixels, encode if asked (JPEG 2000 lossless only) and write a Part 10 file.

    Returns the transfer syntax actually written.
    """
    arr = np.ascontiguousarray(pixels, dtype=np.uint16)
    ds.PixelData = arr.tobytes()
    ds["PixelData"].VR = "OW"
    if transfer_syntax == JPEG2000Lossless:
        # generate_instance_uid=False: pydicom would otherwise assign a new random SOP UID.
        ds.compress(JPEG2000Lossless, arr, encoding_plugin="pylibjpeg", generate_instance_uid=False)
    elif transfer_syntax != ExplicitVRLittleEndian:
        raise ValueError(f"unsupported transfer syntax {transfer_syntax}")
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return str(ds.file_meta.TransferSyntaxUID)
