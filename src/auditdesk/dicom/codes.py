"""Coded-entry tables for mammography views and view modifiers (pure data, no Qt, no I/O).

Why tables and not ``if`` chains: the same view arrives under three coding schemes (legacy SNOMED-RT
as ``SRT`` or ``SNM3``, current SNOMED CT as ``SCT``) and sometimes only as Code Meaning text, and
the mapping has to be reviewable against the standard line by line.

Sources (see /work/shared/reference/domain.md section 7.1):

* DICOM PS3.16 CID 4014 "View for Mammography" and CID 4015 "View Modifier for Mammography"
  (legacy SRT codes, ACR MQCM 1999 abbreviations):
  https://dicom.nema.org/Dicom/2013/output/chtml/part16/sect_CID_4014.html and
  https://dicom.nema.org/Dicom/2013/output/chtml/part16/sect_CID_4015.html
* SNOMED CT (``SCT``) equivalents: marked [3P] in domain.md (seen in generator code); they agree
  with the FHIR rendering of the same context groups (value sets ``dicom-cid-4014`` and
  ``dicom-cid-4015``, version 20090717, repository bvdh/dicom-terminology-in-fhir). Re-check against
  the current PS3.16 before relying on an SCT code that is not in that rendering.
"""

from __future__ import annotations

import re
from types import MappingProxyType
from typing import Final

#: Coding scheme designators that name the same legacy SNOMED-RT code system. PS3.16 uses ``SRT``;
#: older equipment (e.g. the GE Senographe and Siemens Mammomat files in shared/data) writes
#: ``SNM3``. domain.md 7.1: "treat coding scheme designators SRT and SNM3 as equivalent".
SCHEME_ALIASES: Final = MappingProxyType(
    {
        "SRT": "SRT",
        "SNM3": "SRT",
        "SNOMED-RT": "SRT",
        "SCT": "SCT",
        "SNOMED-CT": "SCT",
        "SNOMED CT": "SCT",
        "SNOMED": "SCT",
    }
)

#: (normalised scheme, code value) -> view abbreviation (ACR MQCM 1999 equivalents of CID 4014).
#:
#: Deprecated codes kept on purpose because old objects still carry them (PS3.16 CID 4014 notes):
#: ``Y-X1770``/``Y-X1771`` were the first codes for XCCL/XCCM; ``R-102CF`` (SCT 399265009)
#: "cranio-caudal exaggerated" had no direction. We map R-102CF to XCCL, the direction
#: that is performed far more often; either way it is not a screening view, so the choice only
#: changes the label the reviewer sees.
VIEW_CODES: Final = MappingProxyType(
    {
        # CID 4014, legacy SNOMED-RT (SRT == SNM3)
        ("SRT", "R-10224"): "ML",
        ("SRT", "R-10226"): "MLO",
        ("SRT", "R-10228"): "LM",
        ("SRT", "R-10230"): "LMO",
        ("SRT", "R-10242"): "CC",
        ("SRT", "R-10244"): "FB",
        ("SRT", "R-102D0"): "SIO",
        ("SRT", "R-40AAA"): "ISO",
        ("SRT", "R-1024A"): "XCCL",
        ("SRT", "R-1024B"): "XCCM",
        ("SRT", "G-8310"): "SPECIMEN",
        # deprecated SRT-era codes (CID 4014 notes)
        ("SRT", "Y-X1770"): "XCCL",
        ("SRT", "Y-X1771"): "XCCM",
        ("SRT", "R-102CF"): "XCCL",
        # SNOMED CT equivalents [3P per domain.md; match the FHIR rendering of CID 4014]
        ("SCT", "399260004"): "ML",
        ("SCT", "399368009"): "MLO",
        ("SCT", "399352003"): "LM",
        ("SCT", "399099002"): "LMO",
        ("SCT", "399162004"): "CC",
        ("SCT", "399196006"): "FB",
        ("SCT", "399188001"): "SIO",
        ("SCT", "441555000"): "ISO",
        ("SCT", "399192008"): "XCCL",
        ("SCT", "399101009"): "XCCM",
        ("SCT", "127457009"): "SPECIMEN",
        ("SCT", "399265009"): "XCCL",  # deprecated "cranio-caudal exaggerated", see above
    }
)

#: Code Meaning text -> view, for objects whose code value or scheme is unusable (private schemes,
#: typos, blank designators). Keys are normalised with :func:`normalise_meaning`, so
#: "Medio-Lateral Oblique", "mediolateral oblique" and "MEDIO_LATERAL OBLIQUE" all match.
#: Meanings are the PS3.16 CID 4014 texts plus the common SNOMED CT wording variants.
_VIEW_MEANINGS_RAW: Final = {
    "medio-lateral": "ML",
    "medio-lateral oblique": "MLO",
    "latero-medial": "LM",
    "latero-medial oblique": "LMO",
    "cranio-caudal": "CC",
    "caudo-cranial (from below)": "FB",
    "caudo-cranial": "FB",
    "from below": "FB",
    "superolateral to inferomedial oblique": "SIO",
    "inferomedial to superolateral oblique": "ISO",
    "cranio-caudal exaggerated laterally": "XCCL",
    "cranio-caudal exaggerated medially": "XCCM",
    "exaggerated cranio-caudal laterally": "XCCL",
    "exaggerated cranio-caudal medially": "XCCM",
    "cranio-caudal exaggerated": "XCCL",  # deprecated R-102CF wording, see VIEW_CODES
    "exaggerated cranio-caudal": "XCCL",
    "tissue specimen from breast": "SPECIMEN",
    "tissue specimen": "SPECIMEN",
    "specimen": "SPECIMEN",
}

#: Modifier names used throughout AuditDesk (stable identifiers stored in the database).
MODIFIER_NAMES: Final = (
    "CLEAVAGE",
    "AXILLARY_TAIL",
    "ROLLED_LATERAL",
    "ROLLED_MEDIAL",
    "ROLLED_INFERIOR",
    "ROLLED_SUPERIOR",
    "IMPLANT_DISPLACED",
    "MAGNIFICATION",
    "SPOT",
    "TANGENTIAL",
    "NIPPLE_IN_PROFILE",
    "ANTERIOR_COMPRESSION",
    "INFRAMAMMARY_FOLD",
    "AXILLARY_TISSUE",
)

#: (normalised scheme, code value) -> modifier name, from PS3.16 CID 4015 (SRT codes) and the SCT
#: equivalents in the FHIR rendering of CID 4015 (version 20090717) [3P]. ACR MQCM 1999
#: abbreviations in the comments.
MODIFIER_CODES: Final = MappingProxyType(
    {
        ("SRT", "R-102D2"): "CLEAVAGE",  # CV
        ("SRT", "R-102D1"): "AXILLARY_TAIL",  # AT
        ("SRT", "R-102D3"): "ROLLED_LATERAL",  # RL
        ("SRT", "R-102D4"): "ROLLED_MEDIAL",  # RM
        ("SRT", "R-102CA"): "ROLLED_INFERIOR",  # RI
        ("SRT", "R-102C9"): "ROLLED_SUPERIOR",  # RS
        ("SRT", "R-102D5"): "IMPLANT_DISPLACED",  # ID
        ("SRT", "R-102D6"): "MAGNIFICATION",  # M
        ("SRT", "R-102D7"): "SPOT",  # S
        ("SRT", "R-102C2"): "TANGENTIAL",  # TAN
        ("SRT", "R-40AB3"): "NIPPLE_IN_PROFILE",  # NP
        ("SRT", "P2-00161"): "ANTERIOR_COMPRESSION",  # AC
        ("SRT", "R-40ABE"): "INFRAMAMMARY_FOLD",  # IMF
        ("SRT", "R-40AB2"): "AXILLARY_TISSUE",  # AX
        ("SCT", "399161006"): "CLEAVAGE",
        ("SCT", "399011000"): "AXILLARY_TAIL",
        ("SCT", "399197002"): "ROLLED_LATERAL",
        ("SCT", "399226006"): "ROLLED_MEDIAL",
        ("SCT", "414493004"): "ROLLED_INFERIOR",
        ("SCT", "415670009"): "ROLLED_SUPERIOR",
        ("SCT", "399209000"): "IMPLANT_DISPLACED",
        ("SCT", "399163009"): "MAGNIFICATION",
        ("SCT", "399055006"): "SPOT",
        ("SCT", "399110001"): "TANGENTIAL",
        ("SCT", "442581004"): "NIPPLE_IN_PROFILE",
        ("SCT", "441752004"): "ANTERIOR_COMPRESSION",
        ("SCT", "442593008"): "INFRAMAMMARY_FOLD",
        ("SCT", "442580003"): "AXILLARY_TISSUE",
    }
)

#: Code Meaning text (CID 4015 wording plus common variants) -> modifier name.
_MODIFIER_MEANINGS_RAW: Final = {
    "cleavage": "CLEAVAGE",
    "axillary tail": "AXILLARY_TAIL",
    "rolled lateral": "ROLLED_LATERAL",
    "rolled medial": "ROLLED_MEDIAL",
    "rolled inferior": "ROLLED_INFERIOR",
    "rolled superior": "ROLLED_SUPERIOR",
    "implant displaced": "IMPLANT_DISPLACED",
    "magnification": "MAGNIFICATION",
    "magnified": "MAGNIFICATION",
    "spot compression": "SPOT",
    "spot": "SPOT",
    "tangential": "TANGENTIAL",
    "nipple in profile": "NIPPLE_IN_PROFILE",
    "anterior compression": "ANTERIOR_COMPRESSION",
    "infra-mammary fold": "INFRAMAMMARY_FOLD",
    "inframammary fold": "INFRAMAMMARY_FOLD",
    "axillary tissue": "AXILLARY_TISSUE",
}

_PAREN = re.compile(r"\([^)]*\)")
_SNOMED_SUFFIX = re.compile(r"\b(view|projection|qualifier value)\b")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def normalise_meaning(text: str) -> str:
    """Reduce a Code Meaning to letters and digits, so spelling variants of one term collide.

    Parenthesised qualifiers and the SNOMED CT words "view"/"projection" are dropped first:
    "Cranio-caudal projection (qualifier value)" and "cranio-caudal" give the same key.
    """
    t = str(text).lower()
    t = _PAREN.sub(" ", t)
    t = _SNOMED_SUFFIX.sub(" ", t)
    return _NON_ALNUM.sub("", t)


VIEW_MEANINGS: Final = MappingProxyType(
    {normalise_meaning(k): v for k, v in _VIEW_MEANINGS_RAW.items()}
)
MODIFIER_MEANINGS: Final = MappingProxyType(
    {normalise_meaning(k): v for k, v in _MODIFIER_MEANINGS_RAW.items()}
)


def normalise_scheme(scheme: str | None) -> str:
    """Map a Coding Scheme Designator to "SRT"/"SCT" (unknown designators come back upper-cased)."""
    s = (scheme or "").strip().upper()
    return SCHEME_ALIASES.get(s, s)


def _lookup_code(
    table: MappingProxyType[tuple[str, str], str], scheme: str | None, code: str | None
) -> str | None:
    value = (code or "").strip().upper()
    if not value:
        return None
    found = table.get((normalise_scheme(scheme), value))
    if found is not None:
        return found
    # Blank or unknown designator: accept the code only when it means one thing in every scheme
    # (SRT codes "R-…" and SCT digits never collide, so this is safe in practice).
    hits = {v for (_s, c), v in table.items() if c == value}
    return hits.pop() if len(hits) == 1 else None


def view_from_code(scheme: str | None, code: str | None) -> str | None:
    """View abbreviation for a CID 4014 code, or None."""
    return _lookup_code(VIEW_CODES, scheme, code)


def view_from_meaning(meaning: str | None) -> str | None:
    """View abbreviation for a CID 4014 Code Meaning (case/hyphen-insensitive), or None."""
    if not meaning:
        return None
    return VIEW_MEANINGS.get(normalise_meaning(meaning))


def modifier_from_code(scheme: str | None, code: str | None) -> str | None:
    """Modifier name for a CID 4015 code, or None."""
    return _lookup_code(MODIFIER_CODES, scheme, code)


def modifier_from_meaning(meaning: str | None) -> str | None:
    """Modifier name for a CID 4015 Code Meaning (case/hyphen-insensitive), or None."""
    if not meaning:
        return None
    return MODIFIER_MEANINGS.get(normalise_meaning(meaning))
