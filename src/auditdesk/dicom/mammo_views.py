"""Mammography: view, laterality, modifiers, intent and screening status from a header.

Specification: domain.md section 7.1. Every fact carries its source so a reviewer can see why;
nothing raises on an odd header.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from pydicom.dataset import Dataset

from auditdesk.dicom import codes
from auditdesk.dicom.bvalues import (
    as_text,
    first_item,
    get_value,
    sequence_items,
)
from auditdesk.dicom.header_text import DictMixin, multi_text, upper_text

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
# Mammography
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MammoInfo(DictMixin):
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
    parts = [p for p in multi_text(get_value(ds, "PatientOrientation")) if p]
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
        value = upper_text(get_value(item, "FrameLaterality"))
        if value in _LATERALITIES:
            return value
    return None


def _presentation_intent(ds: Dataset) -> str | None:
    value = upper_text(get_value(ds, "PresentationIntentType"))
    if value in (FOR_PRESENTATION, FOR_PROCESSING):
        return value
    sop = _sop_class(ds)
    return MAMMO_SOP_CLASSES.get(sop) or _OTHER_SOP_INTENT.get(sop)


def _image_type(ds: Dataset) -> tuple[str, ...]:
    return multi_text(get_value(ds, "ImageType"))


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
        modality = upper_text(get_value(ds, "Modality"))
        sop = _sop_class(ds)
        if modality == "MG" or sop in MAMMO_SOP_CLASSES:
            return True
        if modality not in _HOST_MODALITIES and not sop.startswith(_SECONDARY_CAPTURE_PREFIX):
            return False
        if upper_text(get_value(ds, "BodyPartExamined")) == "BREAST":
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
        (upper_text(get_value(ds, "ImageLaterality")), "ImageLaterality"),
        (_frame_laterality(ds), "FrameLaterality"),
        (upper_text(get_value(ds, "Laterality")), "Laterality"),
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
