"""Classification from header-only datasets: mammography views and prostate MR series roles.

Core module (no Qt). Inputs are ``pydicom.dcmread(path, stop_before_pixels=True, force=True)``
datasets; pixel data is never touched. Real-world headers are messy, so nothing here raises on an
odd header: unknown values come back as None/"none" with a reason the reviewer can read, and the
reviewer can always override (the override is stored by the caller, see domain.md 7.2).

Specification: /work/shared/reference/domain.md section 7 (7.1 mammography, 7.2 prostate MR).
Results are frozen dataclasses with ``to_dict``/``from_dict`` so the indexer can keep them in a JSON
column and classify a series later without re-reading files.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import re
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, Final, Self

from pydicom.dataset import Dataset

from auditdesk.dicom import codes
from auditdesk.dicom.bvalues import (
    as_float,
    as_floats,
    as_int,
    as_text,
    first_item,
    frame_b_values,
    get_element,
    get_value,
    normalise_b_value,
    sequence_items,
)

__all__ = [
    "VIEWS",
    "MRImageInfo",
    "MRSeriesInfo",
    "MammoInfo",
    "classify_mammo",
    "classify_mr_series",
    "image_plane",
    "is_mammography",
    "mr_image_info",
    "procedure_date",
    "procedure_datetime",
    "slice_order",
    "technologist",
]

#: View abbreviations (ACR MQCM 1999 equivalents of PS3.16 CID 4014, plus SPECIMEN for G-8310).
VIEWS: Final = ("CC", "MLO", "ML", "LM", "LMO", "XCCL", "XCCM", "FB", "SIO", "ISO", "SPECIMEN")

#: Views that make up a screening positioning audit (domain.md 8.3: RCC, LCC, RMLO, LMLO).
SCREENING_VIEWS: Final = frozenset({"CC", "MLO"})

#: Modifiers that take an image out of a screening positioning audit (domain.md 7.1, CID 4015:
#: "exclude spot/mag/ID images from screening positioning audits").
EXCLUDING_MODIFIERS: Final = ("SPOT", "MAGNIFICATION", "IMPLANT_DISPLACED")

FOR_PRESENTATION: Final = "FOR PRESENTATION"
FOR_PROCESSING: Final = "FOR PROCESSING"

#: Mammography SOP classes and the presentation intent each implies (domain.md 7.1 table).
MAMMO_SOP_CLASSES: Final = {
    "1.2.840.10008.5.1.4.1.1.1.2": FOR_PRESENTATION,  # Digital Mammography X-Ray, Presentation
    "1.2.840.10008.5.1.4.1.1.1.2.1": FOR_PROCESSING,  # Digital Mammography X-Ray, Processing
    "1.2.840.10008.5.1.4.1.1.13.1.3": FOR_PRESENTATION,  # Breast Tomosynthesis Image
    "1.2.840.10008.5.1.4.1.1.13.1.4": FOR_PRESENTATION,  # Breast Projection X-Ray, Presentation
    "1.2.840.10008.5.1.4.1.1.13.1.5": FOR_PROCESSING,  # Breast Projection X-Ray, Processing
}
BREAST_TOMOSYNTHESIS_SOP: Final = "1.2.840.10008.5.1.4.1.1.13.1.3"

#: Other SOP classes a mammogram turns up in, with the intent implied when the tag is missing.
#: Secondary capture, CR and CT objects are by construction processed, viewable images.
_OTHER_SOP_INTENT: Final = {
    "1.2.840.10008.5.1.4.1.1.1": FOR_PRESENTATION,  # CR Image
    "1.2.840.10008.5.1.4.1.1.1.1": FOR_PRESENTATION,  # DX, For Presentation
    "1.2.840.10008.5.1.4.1.1.1.1.1": FOR_PROCESSING,  # DX, For Processing
    "1.2.840.10008.5.1.4.1.1.2": FOR_PRESENTATION,  # CT Image (Hologic tomo slices)
    "1.2.840.10008.5.1.4.1.1.7": FOR_PRESENTATION,  # Secondary Capture
    "1.2.840.10008.5.1.4.1.1.7.1": FOR_PRESENTATION,
    "1.2.840.10008.5.1.4.1.1.7.2": FOR_PRESENTATION,
    "1.2.840.10008.5.1.4.1.1.7.3": FOR_PRESENTATION,
    "1.2.840.10008.5.1.4.1.1.7.4": FOR_PRESENTATION,
}
_SECONDARY_CAPTURE_PREFIX: Final = "1.2.840.10008.5.1.4.1.1.7"

#: Modalities under which a mammogram may be filed by converters, digitisers and tomo workstations
#: (the WG04 mammogram is RG, the Hologic tomo slice is CT). MR/US/NM are never mammograms here.
_HOST_MODALITIES: Final = frozenset({"", "CT", "RG", "DX", "CR", "OT", "SC"})

_LATERALITIES: Final = frozenset({"R", "L", "B", "U"})


# --------------------------------------------------------------------------------------------
# Serialisation
# --------------------------------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _from_json(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_from_json(v) for v in value)
    return value


class _DictMixin:
    """to_dict/from_dict for frozen dataclasses whose fields are JSON scalars or tuples."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (tuples become lists, non-finite floats None)."""
        return {f.name: _jsonable(getattr(self, f.name)) for f in fields(self)}  # type: ignore[arg-type]

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Self:
        """Inverse of ``to_dict``; unknown keys are ignored and missing ones take defaults, so
        rows written by an older or newer AuditDesk still load."""
        names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        return cls(**{k: _from_json(v) for k, v in dict(d).items() if k in names})


# --------------------------------------------------------------------------------------------
# Mammography
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MammoInfo(_DictMixin):
    """What the header says about one mammography image, with where each fact came from.

    ``view_source``: "ViewCodeSequence", "ViewPosition", "SeriesDescription" (any free text:
    Series Description, Protocol Name, processing description, image comments),
    "PatientOrientation" (low-confidence heuristic) or "none". ``laterality_source`` uses the
    same text label for side letters found in free text (including a View Position like "RCC").
    ``exclusion_reason`` is None exactly when ``is_screening_view`` is True.
    """

    view: str | None = None
    view_source: str = "none"
    laterality: str | None = None
    laterality_source: str = "none"
    modifiers: tuple[str, ...] = ()
    presentation_intent: str | None = None
    is_tomosynthesis: bool = False
    is_screening_view: bool = False
    exclusion_reason: str | None = None
    lossy: bool = False


def _upper(value: Any) -> str:
    return as_text(value).upper()


def _multi_text(value: Any) -> tuple[str, ...]:
    """A CS/LO value of any multiplicity as a tuple of upper-case stripped strings."""
    if value is None:
        return ()
    if isinstance(value, (str, bytes, bytearray)):
        return tuple(p.strip().upper() for p in as_text(value).split("\\"))
    try:
        return tuple(_upper(v) for v in value)
    except TypeError:
        return (_upper(value),)


def _sop_class(ds: Dataset) -> str:
    return as_text(get_value(ds, "SOPClassUID"))


def _view_from_code_item(item: Dataset) -> str | None:
    code = as_text(get_value(item, "CodeValue")) or as_text(get_value(item, "LongCodeValue"))
    scheme = as_text(get_value(item, "CodingSchemeDesignator"))
    return codes.view_from_code(scheme, code) or codes.view_from_meaning(
        as_text(get_value(item, "CodeMeaning"))
    )


def _modifier_from_code_item(item: Dataset) -> str | None:
    code = as_text(get_value(item, "CodeValue")) or as_text(get_value(item, "LongCodeValue"))
    scheme = as_text(get_value(item, "CodingSchemeDesignator"))
    return codes.modifier_from_code(scheme, code) or codes.modifier_from_meaning(
        as_text(get_value(item, "CodeMeaning"))
    )


def _view_code_items(ds: Dataset) -> list[Dataset]:
    """View Code Sequence items: top level, else in the Shared Functional Groups (multi-frame)."""
    items = sequence_items(ds, "ViewCodeSequence")
    if not items:
        items = sequence_items(first_item(ds, "SharedFunctionalGroupsSequence"), "ViewCodeSequence")
    return items


def _coded_view(ds: Dataset) -> tuple[str | None, list[str]]:
    """(view, modifiers) from the View Code Sequence and its View Modifier Code Sequence."""
    view: str | None = None
    modifiers: list[str] = []
    for item in _view_code_items(ds):
        if view is None:
            view = _view_from_code_item(item)
        for mod_item in sequence_items(item, "ViewModifierCodeSequence"):
            mod = _modifier_from_code_item(mod_item)
            if mod:
                modifiers.append(mod)
    # Some writers put the modifier sequence at top level instead of nesting it.
    for mod_item in sequence_items(ds, "ViewModifierCodeSequence"):
        mod = _modifier_from_code_item(mod_item)
        if mod:
            modifiers.append(mod)
    return view, modifiers


# Text tokens. Descriptions are split on anything that is not a letter or digit, so "CC" is only
# recognised as a whole token ("R CC", "RCC", "L_CC"), never inside "ACCESSION" or "SUCCESS".
_VIEW_TOKEN: Final = re.compile(
    r"^(?P<lat>R|L|B)?(?P<view>XCCL|XCCM|XCC|LMO|MLO|CC|ML|LM|FB|SIO|ISO|CV)(?P<id>ID)?$"
)
_TOKEN_VIEW_MAP: Final = {"XCC": "XCCL", "CV": "CC"}  # XCC: see codes.VIEW_CODES on R-102CF
_LATERALITY_WORDS: Final = {"RIGHT": "R", "LEFT": "L", "BILATERAL": "B"}
_MAG_TOKENS: Final = frozenset({"MAG", "MAGN", "MAGNIFICATION", "MAGNIFIED", "MAGNIFY"})
_SPOT_TOKENS: Final = frozenset({"SPOT", "SPOTCOMPRESSION"})
_BOTH_TOKENS: Final = frozenset({"SPOTMAG", "MAGSPOT"})
_ROLLED: Final = {
    "LATERAL": "ROLLED_LATERAL",
    "MEDIAL": "ROLLED_MEDIAL",
    "INFERIOR": "ROLLED_INFERIOR",
    "SUPERIOR": "ROLLED_SUPERIOR",
}


@dataclass(frozen=True)
class _TextHints:
    view: str | None = None
    laterality: str | None = None
    modifiers: tuple[str, ...] = ()
    tomo: bool = False
    specimen: bool = False


def _tokens(text: str) -> list[str]:
    return [t for t in re.split(r"[^A-Z0-9]+", text.upper()) if t]


def _text_hints(text: str) -> _TextHints:
    """View, laterality and modifier hints from a description such as "L XCCL SPOT".

    Deliberately conservative: "ID" counts as implant-displaced only right after a view token
    ("R CC ID", "RMLOID"), never on its own ("PATIENT ID"); single letters R/L count as
    laterality only next to a view token.
    """
    toks = _tokens(text)
    view: str | None = None
    lat: str | None = None
    mods: list[str] = []
    tomo = specimen = False
    words_lat: set[str] = set()
    for i, tok in enumerate(toks):
        m = _VIEW_TOKEN.match(tok)
        if m and view is None:
            view = _TOKEN_VIEW_MAP.get(m["view"], m["view"])
            if m["view"] == "CV":
                mods.append("CLEAVAGE")
            if m["lat"]:
                lat = m["lat"]
            elif i > 0 and toks[i - 1] in ("R", "L", "B"):
                lat = toks[i - 1]
            elif i + 1 < len(toks) and toks[i + 1] in ("R", "L", "B"):
                lat = toks[i + 1]
            if m["id"] or (i + 1 < len(toks) and toks[i + 1] == "ID"):
                mods.append("IMPLANT_DISPLACED")
            continue
        if tok in _LATERALITY_WORDS:
            words_lat.add(_LATERALITY_WORDS[tok])
        elif tok in _SPOT_TOKENS:
            mods.append("SPOT")
        elif tok in _MAG_TOKENS:
            mods.append("MAGNIFICATION")
        elif tok in _BOTH_TOKENS:
            mods.extend(("SPOT", "MAGNIFICATION"))
        elif tok in ("EKLUND", "IMPLANTDISPLACED") or (
            tok == "IMPLANT" and i + 1 < len(toks) and toks[i + 1].startswith("DISPLACE")
        ):
            mods.append("IMPLANT_DISPLACED")
        elif tok == "CLEAVAGE":
            mods.append("CLEAVAGE")
        elif tok == "TANGENTIAL":
            mods.append("TANGENTIAL")
        elif tok == "ROLLED" and i + 1 < len(toks) and toks[i + 1] in _ROLLED:
            mods.append(_ROLLED[toks[i + 1]])
        elif tok.startswith("TOMO") or tok == "DBT":
            tomo = True
        elif tok.startswith("SPECIMEN"):
            specimen = True
    if lat is None and len(words_lat) == 1:
        lat = words_lat.pop()
    return _TextHints(view, lat, tuple(mods), tomo, specimen)


def _description_texts(ds: Dataset) -> list[str]:
    """Free-text fields that name the view, most specific first."""
    keys = (
        "SeriesDescription",
        "ProtocolName",
        "AcquisitionDeviceProcessingDescription",
        "ImageComments",
    )
    return [t for t in (as_text(get_value(ds, k)) for k in keys) if t]


def _orientation_hints(ds: Dataset) -> tuple[str | None, str | None]:
    """(view, laterality) guessed from Patient Orientation (0020,0020). LOW CONFIDENCE.

    Used only when nothing else names the view or side. Reasoning: a CC image lies in the axial
    plane, so both directions are made of A/P/R/L only; an MLO column runs obliquely towards the
    feet and the midline (e.g. "P\\FL"). Laterality assumes the usual mirror hanging (chest wall
    toward the middle): rows of a right breast run posterior ("P\\L", "P\\FL"), of a left breast
    anterior ("A\\R", "A\\FR"); a contradicting column letter gives no answer. Pure F/H columns
    could be ML, LM or MLO, so they give no view. Rotated or flipped images fool all of this,
    hence the separate source label.
    """
    parts = [p for p in _multi_text(get_value(ds, "PatientOrientation")) if p]
    if len(parts) != 2 or not set("".join(parts)) <= set("APRLHF"):
        return None, None
    row, col = parts
    view: str | None = None
    if set(row + col) <= set("APRL"):
        if (set(row) & set("AP") and set(col) & set("RL")) or (
            set(row) & set("RL") and set(col) & set("AP")
        ):
            view = "CC"
    elif set(col) & set("HF") and set(col) & set("RL"):
        view = "MLO"
    lat: str | None = None
    if row in ("A", "P"):
        side = "L" if row == "A" else "R"
        opposite_col = "R" if side == "L" else "L"
        col_rl = set(col) & set("RL")
        if not col_rl or col_rl == {opposite_col}:
            lat = side
    return view, lat


def _frame_laterality(ds: Dataset) -> str | None:
    """Frame Laterality (0020,9072) from the Frame Anatomy Sequence (shared, else first frame),
    or flattened at top level; this is where breast tomosynthesis keeps the side."""
    candidates = [
        first_item(first_item(ds, "SharedFunctionalGroupsSequence"), "FrameAnatomySequence"),
        first_item(first_item(ds, "PerFrameFunctionalGroupsSequence"), "FrameAnatomySequence"),
        first_item(ds, "FrameAnatomySequence"),
        ds,
    ]
    for item in candidates:
        value = _upper(get_value(item, "FrameLaterality"))
        if value in _LATERALITIES:
            return value
    return None


def _presentation_intent(ds: Dataset) -> str | None:
    value = _upper(get_value(ds, "PresentationIntentType"))
    if value in (FOR_PRESENTATION, FOR_PROCESSING):
        return value
    sop = _sop_class(ds)
    return MAMMO_SOP_CLASSES.get(sop) or _OTHER_SOP_INTENT.get(sop)


def _image_type(ds: Dataset) -> tuple[str, ...]:
    return _multi_text(get_value(ds, "ImageType"))


def _is_tomo(ds: Dataset, hints: Iterable[_TextHints]) -> bool:
    if _sop_class(ds) == BREAST_TOMOSYNTHESIS_SOP:
        return True
    if any("TOMO" in v for v in _image_type(ds)):
        return True
    return any(h.tomo for h in hints)


def is_mammography(ds: Dataset) -> bool:
    """True for mammograms, including those filed under another modality or SOP class.

    MG modality or an MG/breast SOP class is enough. A CT/RG/DX/CR/OT/SC object (or any secondary
    capture) also counts when Body Part Examined is BREAST, when its View Code Sequence or View
    Position is a mammography view, or when its ImageType says TOMO and its description names a
    mammography view (Hologic stores tomosynthesis slices as CT).
    """
    try:
        modality = _upper(get_value(ds, "Modality"))
        sop = _sop_class(ds)
        if modality == "MG" or sop in MAMMO_SOP_CLASSES:
            return True
        if modality not in _HOST_MODALITIES and not sop.startswith(_SECONDARY_CAPTURE_PREFIX):
            return False
        if _upper(get_value(ds, "BodyPartExamined")) == "BREAST":
            return True
        if _coded_view(ds)[0] is not None:
            return True
        if _text_hints(as_text(get_value(ds, "ViewPosition"))).view is not None:
            return True
        if any("TOMO" in v for v in _image_type(ds)):
            return any(_text_hints(t).view for t in _description_texts(ds))
        return False
    except Exception:
        return False


def _unique_sorted_modifiers(mods: Iterable[str]) -> tuple[str, ...]:
    order = {name: i for i, name in enumerate(codes.MODIFIER_NAMES)}
    return tuple(sorted(set(mods), key=lambda m: (order.get(m, len(order)), m)))


_MODIFIER_REASONS: Final = {
    "SPOT": "Spot compression view",
    "MAGNIFICATION": "Magnification view",
    "IMPLANT_DISPLACED": "Implant-displaced (Eklund) view",
}


def _exclusion(
    view: str | None,
    modifiers: tuple[str, ...],
    intent: str | None,
    stereo: bool,
    tomo: bool,
) -> str | None:
    """First reason (in order of how fundamental it is) why an image is not a screening view."""
    if view is None:
        return "View could not be determined from the header."
    if view == "SPECIMEN":
        return "Specimen radiograph, not a patient view."
    if view not in SCREENING_VIEWS:
        return f"{view} is an additional view; screening audits use CC and MLO."
    if stereo:
        return "Stereotactic (biopsy) image: ImageType contains STEREO."
    for mod in EXCLUDING_MODIFIERS:
        if mod in modifiers:
            return f"{_MODIFIER_REASONS[mod]}, not a screening view."
    if intent == FOR_PROCESSING:
        return "FOR PROCESSING image (raw detector data, not for reading)."
    if intent != FOR_PRESENTATION:
        return "Presentation intent unknown (not marked FOR PRESENTATION)."
    if tomo:
        return "Tomosynthesis image; positioning audits use the 2D images."
    return None


def classify_mammo(ds: Dataset) -> MammoInfo:
    """View, laterality, modifiers and screening eligibility of one mammography image.

    Order of evidence (domain.md 7.1, 8.9): View Code Sequence (code + scheme, then Code Meaning)
    > View Position > description tokens > Patient Orientation heuristic; laterality from Image
    Laterality > Frame Laterality (tomosynthesis functional groups) > series Laterality >
    description > Patient Orientation. Never raises.
    """
    try:
        return _classify_mammo(ds)
    except Exception as exc:  # a header odd enough to break the rules above
        return MammoInfo(exclusion_reason=f"Header could not be classified ({type(exc).__name__}).")


def _classify_mammo(ds: Dataset) -> MammoInfo:
    hints = [_text_hints(t) for t in _description_texts(ds)]
    coded_view, modifiers = _coded_view(ds)
    vp_hint = _text_hints(as_text(get_value(ds, "ViewPosition")))
    view_source = "none"
    view: str | None = None
    if coded_view is not None:
        view, view_source = coded_view, "ViewCodeSequence"
    elif vp_hint.view is not None:
        view, view_source = vp_hint.view, "ViewPosition"
        modifiers.extend(vp_hint.modifiers)
    else:
        text_view = next((h.view for h in hints if h.view), None)
        if text_view is None and any(h.specimen for h in hints):
            text_view = "SPECIMEN"
        if text_view is not None:
            view, view_source = text_view, "SeriesDescription"
    po_view, po_lat = _orientation_hints(ds)
    if view is None and po_view is not None:
        view, view_source = po_view, "PatientOrientation"
    for h in hints:
        modifiers.extend(h.modifiers)
    mods = _unique_sorted_modifiers(modifiers)

    candidates: list[tuple[str | None, str]] = [
        (_upper(get_value(ds, "ImageLaterality")), "ImageLaterality"),
        (_frame_laterality(ds), "FrameLaterality"),
        (_upper(get_value(ds, "Laterality")), "Laterality"),
        (vp_hint.laterality, "SeriesDescription"),
        (next((h.laterality for h in hints if h.laterality), None), "SeriesDescription"),
        (po_lat, "PatientOrientation"),
    ]
    valid = [(v, s) for v, s in candidates if v in _LATERALITIES]
    known = [(v, s) for v, s in valid if v != "U"]  # "unpaired" says nothing about the side
    laterality, laterality_source = (known or valid or [(None, "none")])[0]

    intent = _presentation_intent(ds)
    tomo = _is_tomo(ds, hints)
    stereo = any("STEREO" in v for v in _image_type(ds))
    reason = _exclusion(view, mods, intent, stereo, tomo)
    lossy = as_text(get_value(ds, "LossyImageCompression")) == "01"
    return MammoInfo(
        view=view,
        view_source=view_source,
        laterality=laterality,
        laterality_source=laterality_source,
        modifiers=mods,
        presentation_intent=intent,
        is_tomosynthesis=tomo,
        is_screening_view=reason is None,
        exclusion_reason=reason,
        lossy=lossy,
    )


# --------------------------------------------------------------------------------------------
# Technologist and procedure date
# --------------------------------------------------------------------------------------------


def _person_name_text(value: Any) -> str | None:
    """One PN value as "Family, Given Middle" (or whatever part is present), None if blank.

    The alphabetic group is used; ideographic/phonetic groups (after "=") only when it is empty.
    Placeholders made only of punctuation ("----", "^^") count as blank.
    """
    groups = as_text(value).split("=")
    text = next((g for g in groups if re.search(r"\w", g)), groups[0])
    parts = [re.sub(r"\s+", " ", p).strip() for p in text.split("^")]
    parts += [""] * (5 - len(parts))
    family, given, middle, prefix, suffix = parts[:5]
    first = " ".join(p for p in (prefix, given, middle) if p)
    name = f"{family}, {first}" if family and first else family or first
    if suffix:
        name = f"{name} {suffix}".strip()
    return name if re.search(r"\w", name) else None


def technologist(ds: Dataset) -> str | None:
    """Operators' Name (0008,1070) as plain text ("Smith, Jane", or raw initials "JS").

    Several operators are joined with "; ". Blank, de-identified-to-punctuation or missing gives
    None: AuditDesk then relies on the manual technologist-mapping table (domain.md 7.1).
    """
    elem = get_element(ds, 0x00081070)
    if elem is None or elem.value is None:
        return None
    value = elem.value
    if isinstance(value, (bytes, bytearray)):
        values: list[Any] = as_text(value).split("\\")
    elif isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        values = list(value)
    else:
        values = [value]  # str or PersonName (which iterates over characters)
    names = [n for n in (_person_name_text(v) for v in values) if n]
    return "; ".join(dict.fromkeys(names)) or None


_DATE_RE: Final = re.compile(r"^(\d{4})[.\-/]?(\d{2})[.\-/]?(\d{2})$")
_TIME_RE: Final = re.compile(r"^(\d{2})(?::?(\d{2})(?::?(\d{2})(?:\.(\d{1,6})\d*)?)?)?$")
_DT_RE: Final = re.compile(r"^(\d{8})(\d{2,6}(?:\.\d{1,6}\d*)?)?(?:[+-]\d{4})?$")


def _parse_date(value: Any) -> dt.date | None:
    """DA value ("20240131"; ACR-NEMA "2024.01.31" tolerated) as a date, None if malformed."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    m = _DATE_RE.match(as_text(value))
    if not m:
        return None
    try:
        d = dt.date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None
    return d if d.year >= 1900 else None


def _parse_time(value: Any) -> dt.time | None:
    """TM value ("HHMMSS.FFFFFF", "HHMM", "HH"; "HH:MM:SS" tolerated), None if malformed."""
    if isinstance(value, dt.datetime):
        return value.time()
    if isinstance(value, dt.time):
        return value
    m = _TIME_RE.match(as_text(value))
    if not m:
        return None
    hour, minute, second = int(m[1]), int(m[2] or 0), int(m[3] or 0)
    micro = int((m[4] or "0").ljust(6, "0"))
    second = min(second, 59)  # leap second "60" is legal in TM
    try:
        return dt.time(hour, minute, second, micro)
    except ValueError:
        return None


def _parse_datetime(value: Any) -> dt.datetime | None:
    """DT value ("YYYYMMDDHHMMSS.FFFFFF&ZZXX") as a naive datetime; the offset is ignored."""
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None)
    m = _DT_RE.match(as_text(value))
    if not m:
        return None
    d = _parse_date(m[1])
    if d is None:
        return None
    t = _parse_time(m[2]) if m[2] else dt.time(0)
    return dt.datetime.combine(d, t) if t is not None else None


_DATE_SOURCES: Final = (
    ("StudyDate", "StudyTime", None),
    ("AcquisitionDate", "AcquisitionTime", "AcquisitionDateTime"),
    ("ContentDate", "ContentTime", None),
    ("SeriesDate", "SeriesTime", None),
)


def procedure_datetime(ds: Dataset) -> dt.datetime | None:
    """When the exam was done: Study Date/Time, else Acquisition, Content, Series Date/Time.

    The first source with a valid date wins; a missing or malformed time on that source gives
    midnight (the date is what weekly reporting needs). Malformed values are skipped, never
    raised.
    """
    for date_kw, time_kw, datetime_kw in _DATE_SOURCES:
        d = _parse_date(get_value(ds, date_kw))
        if d is None and datetime_kw is not None:
            whole = _parse_datetime(get_value(ds, datetime_kw))
            if whole is not None:
                return whole
        if d is not None:
            t = _parse_time(get_value(ds, time_kw)) or dt.time(0)
            return dt.datetime.combine(d, t)
    return None


def procedure_date(ds: Dataset) -> dt.date | None:
    """Date part of :func:`procedure_datetime` (the key for weekly submissions, domain.md 8.4)."""
    when = procedure_datetime(ds)
    return when.date() if when is not None else None


# --------------------------------------------------------------------------------------------
# MR: per-image facts
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MRImageInfo(_DictMixin):
    """Per-file facts needed to classify an MR series later without re-reading the file.

    For Enhanced MR (multi-frame) objects the scalar fields describe the first frame and the
    ``frame_*`` tuples hold one value per frame; for classic objects those tuples are empty.
    ``b_values`` has one value per frame when every frame has one, otherwise the frames that do.
    """

    b_values: tuple[float, ...] = ()
    b_value_source: str | None = None
    image_type: tuple[str, ...] = ()
    frame_types: tuple[str, ...] = ()
    scanning_sequence: str | None = None
    sequence_variant: str | None = None
    sequence_name: str | None = None
    series_description: str | None = None
    protocol_name: str | None = None
    manufacturer: str | None = None
    repetition_time_ms: float | None = None
    echo_time_ms: float | None = None
    flip_angle: float | None = None
    temporal_position: int | None = None
    number_of_temporal_positions: int | None = None
    temporal_resolution_ms: float | None = None
    trigger_time_ms: float | None = None
    acquisition_time: float | None = None
    contrast_agent: str | None = None
    image_position: tuple[float, ...] | None = None
    image_orientation: tuple[float, ...] | None = None
    slice_position_mm: float | None = None
    n_frames: int = 1
    instance_number: int | None = None
    pixel_spacing: tuple[float, ...] | None = None
    slice_thickness: float | None = None
    spacing_between_slices: float | None = None
    acquisition_matrix: tuple[int, ...] | None = None
    rows: int | None = None
    columns: int | None = None
    mr_acquisition_type: str | None = None
    frame_slice_positions: tuple[float, ...] = ()
    frame_temporal_positions: tuple[int, ...] = ()
    frame_acquisition_times: tuple[float, ...] = ()


def _text_or_none(value: Any) -> str | None:
    text = as_text(value)
    return text or None


def _vector(value: Any, n: int) -> tuple[float, ...] | None:
    nums = as_floats(value)
    return tuple(nums) if nums is not None and len(nums) == n else None


def _normal(orientation: Sequence[float] | None) -> tuple[float, float, float] | None:
    if orientation is None or len(orientation) != 6:
        return None
    r = orientation[:3]
    c = orientation[3:]
    n = (r[1] * c[2] - r[2] * c[1], r[2] * c[0] - r[0] * c[2], r[0] * c[1] - r[1] * c[0])
    norm = math.sqrt(sum(x * x for x in n))
    if not norm or not math.isfinite(norm):
        return None
    return (n[0] / norm, n[1] / norm, n[2] / norm)


def _slice_position(
    position: Sequence[float] | None, orientation: Sequence[float] | None
) -> float | None:
    normal = _normal(orientation)
    if position is None or normal is None or len(position) != 3:
        return None
    return float(sum(p * n for p, n in zip(position, normal, strict=True)))


def _seconds(t: dt.time | None) -> float | None:
    if t is None:
        return None
    return t.hour * 3600 + t.minute * 60 + t.second + t.microsecond / 1e6


def _datetime_seconds(value: Any) -> float | None:
    whole = _parse_datetime(value)
    return _seconds(whole.time()) if whole is not None else None


def _fg(item: Dataset | None, shared: Dataset | None, keyword: str) -> Dataset | None:
    """A functional-group macro item: per-frame first, then shared (PS3.3 C.7.6.16)."""
    return first_item(item, keyword) or first_item(shared, keyword)


def _enhanced_scanning_sequence(ds: Dataset, shared: Dataset | None) -> str | None:
    """Scanning Sequence equivalent for Enhanced MR, which codes it differently:
    Echo Pulse Sequence SPIN/GRADIENT/BOTH -> SE/GR, Echo Planar Pulse Sequence YES -> EP,
    MR Modifier Inversion Recovery YES -> IR."""
    parts: list[str] = []
    if _upper(get_value(ds, "EchoPlanarPulseSequence")) == "YES":
        parts.append("EP")
    echo = _upper(get_value(ds, "EchoPulseSequence"))
    if echo in ("SPIN", "BOTH"):
        parts.append("SE")
    if echo in ("GRADIENT", "BOTH"):
        parts.append("GR")
    modifier = first_item(shared, "MRModifierSequence")
    if _upper(get_value(modifier, "InversionRecovery")) == "YES":
        parts.append("IR")
    return "\\".join(parts) or None


def _contrast_agent(ds: Dataset) -> str | None:
    agent = _text_or_none(get_value(ds, "ContrastBolusAgent"))
    if agent:
        return agent
    item = first_item(ds, "ContrastBolusAgentSequence")
    return _text_or_none(get_value(item, "CodeMeaning")) if item is not None else None


def mr_image_info(ds: Dataset) -> MRImageInfo:
    """Collect the facts :func:`classify_mr_series` needs from one MR header. Never raises."""
    try:
        return _mr_image_info(ds)
    except Exception:
        return MRImageInfo()


def _mr_image_info(ds: Dataset) -> MRImageInfo:
    shared = first_item(ds, "SharedFunctionalGroupsSequence")
    per_frame = sequence_items(ds, "PerFrameFunctionalGroupsSequence")
    first = per_frame[0] if per_frame else None

    b_list, b_source = frame_b_values(ds)
    b_values = tuple(b for b in b_list if b is not None)

    frame_types: list[str] = []
    for item in [shared, *per_frame]:
        ft = first_item(item, "MRImageFrameTypeSequence")
        for token in _multi_text(get_value(ft, "FrameType")):
            if token and token not in frame_types:
                frame_types.append(token)

    timing = _fg(first, shared, "MRTimingAndRelatedParametersSequence")
    echo = _fg(first, shared, "MREchoSequence")
    measures = _fg(first, shared, "PixelMeasuresSequence")
    content = first_item(first, "FrameContentSequence")

    scanning = "\\".join(t for t in _multi_text(get_value(ds, "ScanningSequence")) if t) or None
    if scanning is None and per_frame:
        scanning = _enhanced_scanning_sequence(ds, shared)

    position = _vector(get_value(ds, "ImagePositionPatient"), 3)
    if position is None:
        position = _vector(
            get_value(_fg(first, shared, "PlanePositionSequence"), "ImagePositionPatient"), 3
        )
    orientation = _vector(get_value(ds, "ImageOrientationPatient"), 6)
    if orientation is None:
        orientation = _vector(
            get_value(_fg(first, shared, "PlaneOrientationSequence"), "ImageOrientationPatient"), 6
        )
    slice_pos = _slice_position(position, orientation)
    if slice_pos is None:
        slice_pos = as_float(get_value(ds, "SliceLocation"))

    frame_positions: list[float] = []
    frame_temporal: list[int] = []
    frame_times: list[float] = []
    for item in per_frame:
        pos = _vector(
            get_value(_fg(item, shared, "PlanePositionSequence"), "ImagePositionPatient"), 3
        )
        ori = _vector(
            get_value(_fg(item, shared, "PlaneOrientationSequence"), "ImageOrientationPatient"), 6
        )
        sp = _slice_position(pos, ori)
        if sp is not None:
            frame_positions.append(sp)
        fc = first_item(item, "FrameContentSequence")
        tp = as_int(get_value(fc, "TemporalPositionIndex"))
        if tp is not None:
            frame_temporal.append(tp)
        secs = _datetime_seconds(get_value(fc, "FrameAcquisitionDateTime"))
        if secs is not None:
            frame_times.append(secs)
    # Per-frame tuples are only useful when complete (aligned with the frames).
    n_pf = len(per_frame)
    frame_positions = frame_positions if len(frame_positions) == n_pf else []
    frame_temporal = frame_temporal if len(frame_temporal) == n_pf else []
    frame_times = frame_times if len(frame_times) == n_pf else []

    temporal_position = as_int(get_value(ds, "TemporalPositionIdentifier"))
    if temporal_position is None and content is not None:
        temporal_position = as_int(get_value(content, "TemporalPositionIndex"))
    acq_time = _seconds(_parse_time(get_value(ds, "AcquisitionTime")))
    if acq_time is None:
        acq_time = _datetime_seconds(get_value(ds, "AcquisitionDateTime"))
    if acq_time is None and frame_times:
        acq_time = frame_times[0]

    matrix_values = as_floats(get_value(ds, "AcquisitionMatrix"))
    matrix = (
        tuple(int(v) for v in matrix_values)
        if matrix_values is not None and len(matrix_values) == 4
        else None
    )
    n_frames = n_pf or as_int(get_value(ds, "NumberOfFrames")) or 1

    def first_float(*candidates: Any) -> float | None:
        for c in candidates:
            f = as_float(c)
            if f is not None:
                return f
        return None

    return MRImageInfo(
        b_values=b_values,
        b_value_source=b_source,
        image_type=_multi_text(get_value(ds, "ImageType")),
        frame_types=tuple(frame_types),
        scanning_sequence=scanning,
        sequence_variant="\\".join(t for t in _multi_text(get_value(ds, "SequenceVariant")) if t)
        or None,
        sequence_name=_text_or_none(get_value(ds, "SequenceName"))
        or _text_or_none(get_value(ds, "PulseSequenceName")),
        series_description=_text_or_none(get_value(ds, "SeriesDescription")),
        protocol_name=_text_or_none(get_value(ds, "ProtocolName")),
        manufacturer=_text_or_none(get_value(ds, "Manufacturer")),
        repetition_time_ms=first_float(
            get_value(ds, "RepetitionTime"), get_value(timing, "RepetitionTime")
        ),
        echo_time_ms=first_float(get_value(ds, "EchoTime"), get_value(echo, "EffectiveEchoTime")),
        flip_angle=first_float(get_value(ds, "FlipAngle"), get_value(timing, "FlipAngle")),
        temporal_position=temporal_position,
        number_of_temporal_positions=as_int(get_value(ds, "NumberOfTemporalPositions")),
        temporal_resolution_ms=as_float(get_value(ds, "TemporalResolution")),
        trigger_time_ms=as_float(get_value(ds, "TriggerTime")),
        acquisition_time=acq_time,
        contrast_agent=_contrast_agent(ds),
        image_position=position,
        image_orientation=orientation,
        slice_position_mm=slice_pos,
        n_frames=max(1, n_frames),
        instance_number=as_int(get_value(ds, "InstanceNumber")),
        pixel_spacing=_vector(get_value(ds, "PixelSpacing"), 2)
        or _vector(get_value(measures, "PixelSpacing"), 2),
        slice_thickness=first_float(
            get_value(ds, "SliceThickness"), get_value(measures, "SliceThickness")
        ),
        spacing_between_slices=first_float(
            get_value(ds, "SpacingBetweenSlices"), get_value(measures, "SpacingBetweenSlices")
        ),
        acquisition_matrix=matrix,
        rows=as_int(get_value(ds, "Rows")),
        columns=as_int(get_value(ds, "Columns")),
        mr_acquisition_type=_text_or_none(_upper(get_value(ds, "MRAcquisitionType"))),
        frame_slice_positions=tuple(frame_positions),
        frame_temporal_positions=tuple(frame_temporal),
        frame_acquisition_times=tuple(frame_times),
    )


# --------------------------------------------------------------------------------------------
# MR: series role
# --------------------------------------------------------------------------------------------

#: Largest tilt from a cardinal plane still called AXIAL/SAGITTAL/CORONAL. Prostate T2W is often
#: angled to the gland ("axial oblique", domain.md 3.3) and is still read as axial; 35 degrees
#: keeps such series axial while a true double-oblique plane is OBLIQUE.
MAX_PLANE_TILT_DEG: Final = 35.0

#: Slice positions closer than this (mm) are the same position (scanner rounding jitter).
SLICE_POSITION_TOLERANCE_MM: Final = 0.05

#: DCE needs at least this many time points. PI-RADS asks for <= 15 s resolution over >= 2 min
#: (domain.md 3.3), i.e. ~8 or more phases; 3 is the least that is still "dynamic" and not a
#: pre/post pair, so slow or truncated protocols are still recognised.
DCE_MIN_TEMPORAL_POSITIONS: Final = 3

#: T1 gradient-echo limits for DCE (PI-RADS v2 table in domain.md 3.3: "TR < 100 ms, TE < 5 ms").
DCE_MAX_TR_MS: Final = 100.0
DCE_MAX_TE_MS: Final = 5.0

#: T2W spin-echo limits. domain.md 7.2: "SE/TSE, long TR, TE ~80-120 ms"; widened to 70-200 ms so
#: vendor variations are kept, and TR >= 2000 ms (T2 TSE is typically 3000-7000 ms; proton-density
#: and T1 SE use shorter TE and/or TR).
T2W_MIN_TR_MS: Final = 2000.0
T2W_MIN_TE_MS: Final = 70.0
T2W_MAX_TE_MS: Final = 200.0

ROLES: Final = ("T2W", "DWI", "ADC", "DCE", "OTHER")


@dataclass(frozen=True)
class MRSeriesInfo(_DictMixin):
    """Role of an MR series (for PI-QUAL) with the evidence that decided it.

    ``b_values`` are distinct and normalised (see ``bvalues.normalise_b_value``);
    ``n_temporal_positions`` counts time points from Temporal Position Identifier / Number of
    Temporal Positions (frame Temporal Position Index for Enhanced MR) or, failing those, from
    repeated slice positions with distinct acquisition times; ``temporal_resolution_s`` is only
    set for DCE.
    """

    role: str = "OTHER"
    role_reasons: tuple[str, ...] = ()
    b_values: tuple[float, ...] = ()
    n_temporal_positions: int = 0
    temporal_resolution_s: float | None = None
    orientation: str | None = None
    n_slice_positions: int = 0
    n_images: int = 0
    b_value_sources: tuple[str, ...] = ()


def image_plane(orientation: Sequence[float] | None) -> str:
    """AXIAL/SAGITTAL/CORONAL from Image Orientation (Patient), OBLIQUE beyond
    :data:`MAX_PLANE_TILT_DEG`, UNKNOWN without a usable orientation."""
    try:
        normal = _normal(tuple(float(v) for v in orientation) if orientation is not None else None)
    except (TypeError, ValueError):
        normal = None
    if normal is None:
        return "UNKNOWN"
    axis = max(range(3), key=lambda i: abs(normal[i]))
    if abs(normal[axis]) < math.cos(math.radians(MAX_PLANE_TILT_DEG)):
        return "OBLIQUE"
    return ("SAGITTAL", "CORONAL", "AXIAL")[axis]


def _fmt(x: float) -> str:
    return f"{x:g}"


_ADC_IMAGE_TYPE: Final = re.compile(r"(^|_)ADC(_|$)")
_ADC_TEXT: Final = re.compile(r"(?<![A-Z])ADC(?![A-Z])|APPARENT\s+DIFFUSION")
_OTHER_DIFFUSION_MAPS: Final = frozenset({"FA", "EADC", "EXP", "TENSOR", "COLFA"})
_DWI_IMAGE_TYPE: Final = frozenset({"DIFFUSION", "TRACEW", "TRACE", "CALC_BVAL"})
_DWI_TEXT: Final = re.compile(
    r"(?<![A-Z])(DWI|DIFF|DIFFUSION|TRACEW|TRACE|DTI|IVIM|CALC[_ ]?BVAL|EP2D[_ ]?DIFF)(?![A-Z])"
)
_SIEMENS_DWI_SEQ: Final = re.compile(r"(EP|RE)_B\d")
_DCE_TEXT: Final = re.compile(
    r"(?<![A-Z])(DCE|DYN|DYNAMIC|DYNAMICS|PERF|PERFUSION|VIBE|TWIST|DISCO|THRIVE|LAVA|TRICKS)"
    r"(?![A-Z])"
)
# "T2", "T2W", "T2_TSE", "T2FS", "AXT2" but not "T2*", "T2STAR" or "T2 MAP" (relaxometry).
_T2_TEXT: Final = re.compile(
    r"(?:(?<![A-Z0-9])|(?<=AX)|(?<=SAG)|(?<=COR)|(?<=TRA))T2(?!\*|STAR|[_ ]?MAP|\d)"
    r"|(?<![A-Z])(TSE|FSE|BLADE|PROPELLER|HASTE|SPACE|CUBE)(?![A-Z])"
)


def _series_text(images: Sequence[MRImageInfo]) -> tuple[str, str, str]:
    """(upper-case text for matching, text as written, label) used for keyword rules.

    Series Description describes the series; Protocol Name is only used when no description
    exists, because GE writes the exam protocol there (the real GE ADC series in shared/data has
    ProtocolName "PRO DCE W_T1 MAPPING AN/").
    """
    descs = list(dict.fromkeys(im.series_description for im in images if im.series_description))
    if descs:
        return " | ".join(descs).upper(), " | ".join(descs), "SeriesDescription"
    protos = list(dict.fromkeys(im.protocol_name for im in images if im.protocol_name))
    return " | ".join(protos).upper(), " | ".join(protos), "ProtocolName"


def _scan_tokens(images: Sequence[MRImageInfo]) -> set[str]:
    tokens: set[str] = set()
    for im in images:
        tokens.update(t for t in (im.scanning_sequence or "").upper().split("\\") if t)
    return tokens


def _median_or_none(values: Iterable[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None


def _cluster(values: Iterable[float], tol: float = SLICE_POSITION_TOLERANCE_MM) -> list[float]:
    """Distinct values, merging neighbours closer than ``tol`` (first value of each cluster)."""
    out: list[float] = []
    for v in sorted(values):
        if not out or v - out[-1] > tol:
            out.append(v)
    return out


@dataclass(frozen=True)
class _Sample:
    """One frame or image flattened for the temporal analysis."""

    position: float | None
    temporal: int | None
    time: float | None


def _samples(images: Sequence[MRImageInfo]) -> list[_Sample]:
    out: list[_Sample] = []
    for im in images:
        n = len(im.frame_slice_positions) or len(im.frame_temporal_positions)
        if im.n_frames > 1 and n == im.n_frames:
            for i in range(n):
                out.append(
                    _Sample(
                        im.frame_slice_positions[i] if im.frame_slice_positions else None,
                        im.frame_temporal_positions[i] if im.frame_temporal_positions else None,
                        im.frame_acquisition_times[i]
                        if len(im.frame_acquisition_times) == n
                        else im.acquisition_time,
                    )
                )
        else:
            time = im.acquisition_time
            if time is None and im.trigger_time_ms is not None:
                time = im.trigger_time_ms / 1000.0
            out.append(_Sample(im.slice_position_mm, im.temporal_position, time))
    return out


def _cluster_keys(values: Sequence[float | None]) -> list[int | None]:
    """Cluster number of each value (None stays None); neighbours within the tolerance share one,
    so positions that differ by scanner jitter sort and group together."""
    order = sorted((v, i) for i, v in enumerate(values) if v is not None)
    keys: list[int | None] = [None] * len(values)
    cluster = -1
    previous: float | None = None
    for v, i in order:
        if previous is None or v - previous > SLICE_POSITION_TOLERANCE_MM:
            cluster += 1
        keys[i] = cluster
        previous = v
    return keys


def _temporal_analysis(
    images: Sequence[MRImageInfo], samples: Sequence[_Sample]
) -> tuple[int, float | None, str]:
    """(number of time points, median seconds between them or None, how it was found)."""
    tags = [im.number_of_temporal_positions for im in images if im.number_of_temporal_positions]
    ids = {s.temporal for s in samples if s.temporal is not None}
    n_ids = max([len(ids), *tags]) if (ids or tags) else 0

    # Repeated slice positions with distinct times: the k-th time at each position is phase k.
    by_pos: dict[int, list[float]] = {}
    for s, key in zip(samples, _cluster_keys([s.position for s in samples]), strict=True):
        if s.time is not None and key is not None:
            by_pos.setdefault(key, []).append(s.time)
    per_pos = [sorted(set(ts)) for ts in by_pos.values()]
    n_repeat = int(statistics.median([len(ts) for ts in per_pos])) if per_pos else 0

    n = max(n_ids, n_repeat, 1 if samples else 0)
    how = "TemporalPositionIdentifier" if n_ids >= n_repeat else "repeated positions"

    resolution: float | None = None
    tag_res = _median_or_none(im.temporal_resolution_ms for im in images)
    if tag_res is not None and tag_res > 0:
        resolution = tag_res / 1000.0
    elif n >= 2:
        phase_times: list[float] = []
        if len(ids) >= 2:
            firsts: dict[int, float] = {}
            for s in samples:
                if s.temporal is not None and s.time is not None:
                    firsts[s.temporal] = min(s.time, firsts.get(s.temporal, s.time))
            phase_times = [firsts[k] for k in sorted(firsts)]
        elif n_repeat >= 2:
            for k in range(n_repeat):
                kth = [ts[k] for ts in per_pos if len(ts) > k]
                phase_times.append(statistics.median(kth))
        diffs = [b - a for a, b in itertools.pairwise(phase_times) if b - a > 0]
        if diffs:
            resolution = statistics.median(diffs)
    return n, resolution, how


def _role(
    images: Sequence[MRImageInfo],
    b_values: Sequence[float],
    n_temporal: int,
    temporal_how: str,
    images_per_position: float,
) -> tuple[str, list[str]]:
    """Rules in domain.md 7.2 priority, ADC before DWI (ADC maps often keep a b-value)."""
    text, raw_text, text_label = _series_text(images)
    type_tokens: set[str] = set()
    for im in images:
        type_tokens.update(im.image_type)
        type_tokens.update(im.frame_types)
    scan = _scan_tokens(images)
    seq_names = " ".join(sorted({(im.sequence_name or "").upper() for im in images}))
    nonzero_b = [b for b in b_values if b > 0]
    b_text = ", ".join(_fmt(b) for b in b_values)

    # 1. ADC map
    if any(_ADC_IMAGE_TYPE.search(t) for t in type_tokens):
        return "ADC", ["ImageType contains ADC"]
    if text and _ADC_TEXT.search(text):
        if len(b_values) >= 2 and images_per_position > 1:
            reason = f"{text_label} names ADC but b-values {b_text} s/mm² were acquired"
            return "DWI", [reason]
        return "ADC", [f'{text_label} "{raw_text}" names an ADC map']

    # 2. other derived diffusion maps (FA, exponential ADC) are not PI-QUAL series
    other_maps = sorted(type_tokens & _OTHER_DIFFUSION_MAPS)
    if other_maps:
        return "OTHER", [f"derived diffusion map (ImageType {', '.join(other_maps)})"]

    # 3. DWI
    reasons: list[str] = []
    if nonzero_b:
        reasons.append(f"b-values {b_text} s/mm²")
    dwi_types = sorted(type_tokens & _DWI_IMAGE_TYPE)
    if dwi_types:
        reasons.append(f"ImageType contains {', '.join(dwi_types)}")
    if _SIEMENS_DWI_SEQ.search(seq_names):
        reasons.append(f"sequence name {seq_names.strip()}")
    if text and _DWI_TEXT.search(text):
        reasons.append(f"{text_label} names a diffusion series")
    if reasons:
        return "DWI", reasons

    # 4. DCE: several time points plus T1 gradient-echo or contrast evidence
    trs = [im.repetition_time_ms for im in images if im.repetition_time_ms is not None]
    tes = [im.echo_time_ms for im in images if im.echo_time_ms is not None]
    tr = statistics.median(trs) if trs else None
    te = statistics.median(tes) if tes else None
    dce_hints: list[str] = []
    gre = "GR" in scan and "EP" not in scan
    if gre and tr is not None and tr < DCE_MAX_TR_MS and (te is None or te < DCE_MAX_TE_MS):
        te_part = f", TE {_fmt(te)} ms" if te is not None else ""
        dce_hints.append(f"T1 gradient echo (GR, TR {_fmt(tr)} ms{te_part})")
    agents = sorted({im.contrast_agent for im in images if im.contrast_agent})
    if agents:
        dce_hints.append(f'contrast agent "{agents[0]}"')
    if text and _DCE_TEXT.search(text):
        dce_hints.append(f"{text_label} names a dynamic series")
    if n_temporal >= DCE_MIN_TEMPORAL_POSITIONS and dce_hints:
        return "DCE", [f"{n_temporal} temporal positions ({temporal_how})", *dce_hints]

    # 5. T2W
    t2_reasons: list[str] = []
    spin_echo = "SE" in scan and "EP" not in scan
    if (
        spin_echo
        and tr is not None
        and te is not None
        and tr >= T2W_MIN_TR_MS
        and T2W_MIN_TE_MS <= te <= T2W_MAX_TE_MS
    ):
        t2_reasons.append(f"spin echo, TR {_fmt(tr)} ms, TE {_fmt(te)} ms")
    if text and _T2_TEXT.search(text) and "EP" not in scan:
        t2_reasons.append(f"{text_label} names a T2 series")
    if t2_reasons:
        return "T2W", t2_reasons

    # 6. nothing matched: say what was seen, so the reviewer knows why
    seen: list[str] = []
    if dce_hints:
        seen.append(f"dynamic hints but only {n_temporal} temporal position(s)")
    if scan:
        seen.append(f"ScanningSequence {'/'.join(sorted(scan))}")
    if tr is not None:
        seen.append(f"TR {_fmt(tr)} ms" + (f", TE {_fmt(te)} ms" if te is not None else ""))
    types = sorted(
        t for t in type_tokens if t and t not in {"ORIGINAL", "DERIVED", "PRIMARY", "SECONDARY"}
    )
    if types:
        seen.append(f"ImageType {'/'.join(types)}")
    return "OTHER", ["no T2W, DWI, ADC or DCE evidence", *seen]


def classify_mr_series(images: Sequence[MRImageInfo]) -> MRSeriesInfo:
    """Role (T2W/DWI/ADC/DCE/OTHER) of one MR series from its images' facts, with reasons.

    Priority (domain.md 7.2, ADC before DWI): ImageType ADC or an ADC description -> ADC;
    FA/exponential-ADC maps -> OTHER; non-zero b-values, DIFFUSION/TRACEW ImageType, Siemens
    "ep_b" sequence names or diffusion words -> DWI; at least :data:`DCE_MIN_TEMPORAL_POSITIONS`
    time points plus T1-GRE timing, a contrast agent or dynamic words -> DCE; spin echo with
    T2 timing or T2 words -> T2W; otherwise OTHER. Never raises.
    """
    imgs = [im for im in images if isinstance(im, MRImageInfo)]
    if not imgs:
        return MRSeriesInfo(role="OTHER", role_reasons=("no images",))
    try:
        return _classify_mr_series(imgs)
    except Exception as exc:
        return MRSeriesInfo(
            role="OTHER",
            role_reasons=(f"series could not be classified ({type(exc).__name__})",),
            n_images=len(imgs),
        )


def _classify_mr_series(imgs: list[MRImageInfo]) -> MRSeriesInfo:
    b_values = tuple(sorted({normalise_b_value(b) for im in imgs for b in im.b_values}))
    sources = tuple(sorted({im.b_value_source for im in imgs if im.b_value_source}))
    samples = _samples(imgs)
    positions = [s.position for s in samples if s.position is not None]
    n_positions = len(_cluster(positions))
    images_per_position = len(samples) / n_positions if n_positions else float(len(samples))
    n_temporal, resolution, how = _temporal_analysis(imgs, samples)
    role, reasons = _role(imgs, b_values, n_temporal, how, images_per_position)
    if role != "DCE" and how != "TemporalPositionIdentifier":
        # Repeated positions at distinct times in a DWI series are b-values, not time points.
        n_temporal = max(1, len({s.temporal for s in samples if s.temporal is not None}))
    planes = Counter(image_plane(im.image_orientation) for im in imgs)
    planes.pop("UNKNOWN", None)
    orientation = planes.most_common(1)[0][0] if planes else None
    return MRSeriesInfo(
        role=role,
        role_reasons=tuple(reasons),
        b_values=b_values,
        n_temporal_positions=n_temporal,
        temporal_resolution_s=resolution if role == "DCE" else None,
        orientation=orientation,
        n_slice_positions=n_positions,
        n_images=len(imgs),
        b_value_sources=sources,
    )


def slice_order(images: Sequence[MRImageInfo]) -> list[int]:
    """Indices of ``images`` sorted along the slice normal, then temporal position, b-value and
    Instance Number as tie-breakers (file names and Instance Number alone are unreliable: in the
    real GE ADC series file 000004 is instance 6 and 000006 is instance 5). Images without a
    position go last. One entry per image (file): an Enhanced MR object is placed by its first
    frame; its frames keep their stored order (``frame_slice_positions`` has their positions)."""

    position_keys = _cluster_keys([im.slice_position_mm for im in images])

    def key(i: int) -> tuple[Any, ...]:
        im = images[i]
        pos = position_keys[i]
        tp = im.temporal_position
        b = normalise_b_value(im.b_values[0]) if im.b_values else None
        inst = im.instance_number
        return (
            pos is None,
            pos or 0,
            tp is None,
            tp or 0,
            b is None,
            b or 0.0,
            inst is None,
            inst or 0,
            i,
        )

    return sorted(range(len(images)), key=key)
