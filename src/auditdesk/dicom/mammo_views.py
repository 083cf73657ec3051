"""Mammography: view, laterality, modifiers, intent and screening status from a header.

Specification: domain.md section 7.1. Every fact carries its source so a reviewer can see why;
nothing raises on an odd header.
"""

from __future__ import annotations

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
from auditdesk.dicom.digitised import is_digitised_film
from auditdesk.dicom.header_text import DictMixin, multi_text, upper_text
from auditdesk.dicom.view_text import Spellings, TextHints, text_hints

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


#: How far a source is trusted (issue 13): header tags made for the purpose, a Patient Orientation
#: that holds only a view, then free text and identifiers (guesses a reviewer should confirm).
CONFIDENCES: Final = ("high", "medium", "low", "none")
_RANK: Final = {c: i for i, c in enumerate(CONFIDENCES)}
IDENTIFIER_TEXT: Final = "identifier text"
ORIENTATION_GEOMETRY: Final = "orientation geometry"
SOURCE_CONFIDENCE: Final = {
    "ViewCodeSequence": "high",
    "ViewPosition": "high",
    "ImageLaterality": "high",
    "FrameLaterality": "high",
    "Laterality": "high",
    "PatientOrientation": "medium",
    "SeriesDescription": "low",
    "ProtocolName": "low",
    "ProcessingDescription": "low",
    "ImageComments": "low",
    ORIENTATION_GEOMETRY: "low",
    IDENTIFIER_TEXT: "low",
    "none": "none",
}


@dataclass(frozen=True)
class MammoInfo(DictMixin):
    """What the header says about one mammography image, with where each fact came from.

    ``view_source`` / ``laterality_source``: the attribute that gave the value
    ("ViewCodeSequence", "ViewPosition", "PatientOrientation" (a one-value view), "ImageLaterality",
    "FrameLaterality", "Laterality", "SeriesDescription", "ProtocolName", "ProcessingDescription",
    "ImageComments", "orientation geometry" (row/column letters),
    "identifier text" (Patient ID / Study ID; the identifier itself is never kept) or "none").
    ``view_confidence`` is the lower of the two sources' confidence (:data:`SOURCE_CONFIDENCE`);
    "low" means a reviewer should confirm. ``view_conflict`` names sources that disagreed with
    the one used. ``exclusion_reason`` is None exactly when ``is_screening_view`` is True.
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
    view_confidence: str = "none"
    view_conflict: str | None = None
    digitised: bool = False


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


_TEXT_FIELDS: Final = (
    ("SeriesDescription", "SeriesDescription"),
    ("ProtocolName", "ProtocolName"),
    ("AcquisitionDeviceProcessingDescription", "ProcessingDescription"),
    ("ImageComments", "ImageComments"),
)
_IDENTIFIER_FIELDS: Final = ("PatientID", "StudyID")


def _description_texts(ds: Dataset) -> list[str]:
    """Free-text fields that name the view, most specific first."""
    return [t for t, _ in _labelled_texts(ds)]


def _labelled_texts(ds: Dataset) -> list[tuple[str, str]]:
    """(text, source label) of the free-text fields, most specific first."""
    found = ((as_text(get_value(ds, k)), label) for k, label in _TEXT_FIELDS)
    return [(t, label) for t, label in found if t]


def _orientation_view(ds: Dataset) -> str | None:
    """A Patient Orientation holding only a view ("CC", "MLO"; one value), as digitisers and
    some converters write it instead of row/column directions."""
    parts = [p for p in multi_text(get_value(ds, "PatientOrientation")) if p]
    if len(parts) != 1:
        return None
    hint = text_hints(parts[0])
    return hint.view if hint.view and not hint.laterality else None


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


def _is_tomo(ds: Dataset, hints: Iterable[TextHints]) -> bool:
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
    mammography view (Hologic stores tomosynthesis slices as CT). A digitised breast film
    (:func:`~auditdesk.dicom.digitised.is_digitised_film`) is a mammogram.
    """
    try:
        modality = upper_text(get_value(ds, "Modality"))
        sop = _sop_class(ds)
        if modality == "MG" or sop in MAMMO_SOP_CLASSES or is_digitised_film(ds):
            return True
        if modality not in _HOST_MODALITIES and not sop.startswith(_SECONDARY_CAPTURE_PREFIX):
            return False
        if upper_text(get_value(ds, "BodyPartExamined")) == "BREAST":
            return True
        if _coded_view(ds)[0] is not None:
            return True
        if text_hints(as_text(get_value(ds, "ViewPosition"))).view is not None:
            return True
        if any("TOMO" in v for v in _image_type(ds)):
            return any(text_hints(t).view for t in _description_texts(ds))
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


def classify_mammo(ds: Dataset, spellings: Spellings = ()) -> MammoInfo:
    """View, laterality, modifiers and screening eligibility of one mammography image.

    Order of evidence (domain.md 7.1, 8.9; issue 13): View Code Sequence (code + scheme, then
    Code Meaning) > View Position > a one-value Patient Orientation ("CC") > description tokens
    (Series Description, Protocol Name, processing description, image comments; with the site's
    local ``spellings``) > Patient Orientation geometry > identifier text (Patient ID, Study
    ID). Laterality: Image Laterality > Frame Laterality (tomosynthesis functional groups) >
    series Laterality > View Position text ("RCC") > descriptions > geometry > identifiers.
    The first source wins; any later one that disagrees is named in ``view_conflict``. Never
    raises.
    """
    try:
        return _classify_mammo(ds, spellings)
    except Exception as exc:  # a header odd enough to break the rules above
        return MammoInfo(exclusion_reason=f"Header could not be classified ({type(exc).__name__}).")


def _first(candidates: list[tuple[str | None, str]]) -> tuple[str | None, str]:
    known = [(v, s) for v, s in candidates if v is not None]
    return known[0] if known else (None, "none")


def _conflict(what: str, candidates: list[tuple[str | None, str]], chosen: str | None) -> str:
    """'laterality: ImageLaterality R used; SeriesDescription says L' or ''. Geometry and
    identifier guesses are left out: rotated images contradict the first all the time, and an
    identifier may hold a site prefix such as "CC-0012" on every image."""
    if chosen is None:
        return ""
    used = next(s for v, s in candidates if v == chosen)
    others = [
        f"{s} says {v}"
        for v, s in candidates
        if v is not None and v != chosen and s not in (ORIENTATION_GEOMETRY, IDENTIFIER_TEXT)
    ]
    return f"{what}: {used} {chosen} used; " + "; ".join(others) if others else ""


def _confidence(*sources: str) -> str:
    known = [SOURCE_CONFIDENCE.get(s, "low") for s in sources if s != "none"]
    return max(known, key=_RANK.__getitem__) if known else "none"


def _classify_mammo(ds: Dataset, spellings: Spellings) -> MammoInfo:
    labelled = _labelled_texts(ds)
    hints = [(text_hints(t, spellings), label) for t, label in labelled]
    ident_hints = [
        text_hints(as_text(get_value(ds, k)), spellings)
        for k in _IDENTIFIER_FIELDS
        if as_text(get_value(ds, k))
    ]
    ident = next((h for h in ident_hints if h.view or h.laterality), TextHints())
    coded_view, modifiers = _coded_view(ds)
    vp_hint = text_hints(as_text(get_value(ds, "ViewPosition")))
    po_view, po_lat = _orientation_hints(ds)
    view_candidates: list[tuple[str | None, str]] = [
        (coded_view, "ViewCodeSequence"),
        (vp_hint.view, "ViewPosition"),
        (_orientation_view(ds), "PatientOrientation"),
        *((h.view or ("SPECIMEN" if h.specimen else None), label) for h, label in hints),
        (po_view, ORIENTATION_GEOMETRY),
        (ident.view, IDENTIFIER_TEXT),
    ]
    view, view_source = _first(view_candidates)
    if view_source == "ViewPosition":
        modifiers.extend(vp_hint.modifiers)
    for h, _label in hints:
        modifiers.extend(h.modifiers)
    mods = _unique_sorted_modifiers(modifiers)

    lat_candidates: list[tuple[str | None, str]] = [
        (upper_text(get_value(ds, "ImageLaterality")), "ImageLaterality"),
        (_frame_laterality(ds), "FrameLaterality"),
        (upper_text(get_value(ds, "Laterality")), "Laterality"),
        (vp_hint.laterality, "ViewPosition"),
        *((h.laterality, label) for h, label in hints),
        (po_lat, ORIENTATION_GEOMETRY),
        (ident.laterality, IDENTIFIER_TEXT),
    ]
    valid = [(v, s) for v, s in lat_candidates if v in _LATERALITIES]
    known = [(v, s) for v, s in valid if v != "U"]  # "unpaired" says nothing about the side
    laterality, laterality_source = (known or valid or [(None, "none")])[0]
    conflicts = [
        _conflict("view", view_candidates, view),
        _conflict("laterality", known, laterality if laterality != "U" else None),
    ]
    both_sides = [label for h, label in hints if h.both_sides]
    if both_sides:
        conflicts.append(f"{', '.join(both_sides)} names both sides")

    intent = _presentation_intent(ds)
    tomo = _is_tomo(ds, [h for h, _ in hints])
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
        view_confidence=_confidence(view_source, laterality_source),
        view_conflict="; ".join(c for c in conflicts if c) or None,
        digitised=is_digitised_film(ds),
    )
