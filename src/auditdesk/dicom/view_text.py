"""Mammography view and side named in free text: descriptions, protocol names, identifiers.

Real archives spell views every way ("R CC", "LMLO", "L-MLO", "right cc", "P_00001_LEFT_CC")
and sites have their own words ("OBL" for MLO, French "DROIT"). Free text is the least trusted
evidence (see :mod:`auditdesk.dicom.mammo_views`), so parsing is conservative: views count only
as whole tokens, single letters R/L only next to a view, and a text that names both sides gives
no side at all.

Local spellings are a site setting (``auditdesk.qi.site.SiteSettings.view_spellings``): lines such
as ``OBL = MLO`` or ``DROIT = R``, parsed here so the classifier in a worker process needs no
database. Each spelling is replaced by its meaning before the text is read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

#: View tokens (lat prefix optional): CC is only matched as a whole token ("R CC", "RCC",
#: "L_CC"), never inside "ACCESSION" or "SUCCESS".
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

#: Meanings a local spelling may have: a side, a view, or both ("R", "MLO", "R MLO").
SPELLING_VIEWS: Final = ("CC", "MLO", "ML", "LM", "LMO", "XCCL", "XCCM", "FB", "SIO", "ISO")
_PHRASE: Final = re.compile(r"^[A-Z0-9][A-Z0-9 _\-]{0,39}$")
MAX_SPELLINGS: Final = 100

#: Parsed local spellings: (upper-case phrase, replacement text), longest phrase first.
Spellings = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class TextHints:
    """What one text says. ``both_sides``: it names R and L, so it gives no side."""

    view: str | None = None
    laterality: str | None = None
    modifiers: tuple[str, ...] = ()
    tomo: bool = False
    specimen: bool = False
    both_sides: bool = False


def _tokens(text: str) -> list[str]:
    return [t for t in re.split(r"[^A-Z0-9]+", text.upper()) if t]


def _meaning(text: str) -> str | None:
    """Normalised meaning ("R MLO", "CC", "L") of a spelling, None when it is not one."""
    lat: str | None = None
    view: str | None = None
    for tok in _tokens(text):
        side = _LATERALITY_WORDS.get(tok, tok if tok in ("R", "L", "B") else None)
        m = _VIEW_TOKEN.match(tok)
        if side and lat is None:
            lat = side
        elif m and not m["id"] and m["view"] in SPELLING_VIEWS and view is None:
            if m["lat"] and lat is not None:
                return None
            lat, view = lat or m["lat"], m["view"]
        else:
            return None
    return " ".join(p for p in (lat, view) if p) or None


def parse_spellings(text: str | None, *, strict: bool = True) -> Spellings:
    """Parse the site's local spellings: one ``PHRASE = MEANING`` per line (or ``;``-separated).

    MEANING is a side (R, L, B, RIGHT, LEFT), a view (CC, MLO, ML, LM, LMO, XCCL, XCCM, FB, SIO,
    ISO) or both ("R MLO"). With ``strict`` a bad entry raises ValueError with one sentence;
    otherwise it is skipped (the classifier must never fail on a stored setting).
    """
    pairs: dict[str, str] = {}
    for n, raw in enumerate(re.split(r"[;\n]", text or ""), start=1):
        entry = raw.strip()
        if not entry or entry.startswith("#"):
            continue
        phrase, sep, meaning_text = entry.partition("=")
        phrase = re.sub(r"\s+", " ", phrase.strip().upper())
        meaning = _meaning(meaning_text) if sep else None
        problem = None
        if not sep:
            problem = "has no '='"
        elif not _PHRASE.match(phrase):
            problem = "needs a word of letters, digits, spaces, '-' or '_' (at most 40) before '='"
        elif meaning is None:
            problem = "must mean a side (R, L, B), a view (CC, MLO, ML, ...) or both (R MLO)"
        if problem:
            if strict:
                raise ValueError(f"Local view spelling {n} ({entry!r}) {problem}.")
            continue
        assert meaning is not None
        pairs[phrase] = meaning
    if strict and len(pairs) > MAX_SPELLINGS:
        raise ValueError(f"At most {MAX_SPELLINGS} local view spellings, not {len(pairs)}.")
    return tuple(sorted(pairs.items(), key=lambda p: (-len(p[0]), p[0])))


def format_spellings(spellings: Spellings) -> str:
    """The stored form: one ``PHRASE = MEANING`` per line, sorted by phrase."""
    return "\n".join(f"{p} = {m}" for p, m in sorted(spellings))


def apply_spellings(text: str, spellings: Spellings) -> str:
    """Replace each local spelling (a whole word or phrase, any case) by its meaning."""
    if not spellings or not text:
        return text
    table = dict(spellings)
    words = [r"[^A-Z0-9]+".join(map(re.escape, _tokens(p))) for p, _ in spellings]
    pattern = re.compile(r"(?<![A-Z0-9])(" + "|".join(words) + r")(?![A-Z0-9])")

    def repl(m: re.Match[str]) -> str:
        return " " + table[" ".join(_tokens(m[1]))] + " "

    return pattern.sub(repl, text.upper())


def _side_next_to(toks: list[str], i: int) -> str | None:
    if i > 0 and toks[i - 1] in ("R", "L", "B"):
        return toks[i - 1]
    if i + 1 < len(toks) and toks[i + 1] in ("R", "L", "B"):
        return toks[i + 1]
    return None


def text_hints(text: str, spellings: Spellings = ()) -> TextHints:
    """View, laterality and modifier hints from a description such as "L XCCL SPOT".

    Deliberately conservative: "ID" counts as implant-displaced only right after a view token
    ("R CC ID", "RMLOID"), never on its own ("PATIENT ID"); single letters R/L count as
    laterality only next to a view token; a text naming both R and L ("R CC + L CC",
    "RIGHT AND LEFT CC") gives the view but no side.
    """
    toks = _tokens(apply_spellings(text, spellings))
    view: str | None = None
    sides: list[str] = []
    mods: list[str] = []
    tomo = specimen = False
    for i, tok in enumerate(toks):
        m = _VIEW_TOKEN.match(tok)
        if m:
            side = m["lat"] or _side_next_to(toks, i)
            if side:
                sides.append(side)
            if view is None:
                view = _TOKEN_VIEW_MAP.get(m["view"], m["view"])
                if m["view"] == "CV":
                    mods.append("CLEAVAGE")
                if m["id"] or (i + 1 < len(toks) and toks[i + 1] == "ID"):
                    mods.append("IMPLANT_DISPLACED")
            continue
        if tok in _LATERALITY_WORDS:
            sides.append(_LATERALITY_WORDS[tok])
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
    distinct = set(sides)
    both = {"R", "L"} <= distinct
    lat = sides[0] if len(distinct) == 1 else None
    return TextHints(view, lat, tuple(mods), tomo, specimen, both)
