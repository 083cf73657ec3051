"""Suggest which studies are one exam that arrived split (issue 13): one study per image, as
archives of digitised film and some PACS exports send them.

A group is suggested, never merged: mammography studies of the same procedure date that share a
patient (ID compared without trailing side/view words such as ``_LEFT_CC``) or an accession
number, none of them a complete 4-view exam, and whose known views do not repeat (RCC, LCC, RMLO,
LMLO in four studies complement each other; two RCCs are two exams). Images whose view is not
known do not block a suggestion; the reviewer sees the views in the preview before merging.

Patient IDs and accession numbers are compared here and never returned: a suggestion carries
study ids, the date and the views only.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from auditdesk.store.catalog import StudySummary
from auditdesk.store.study_uid_map import normalized_patient_id

__all__ = ["Suggestion", "suggest_groups", "suggestion_of"]

_FOUR = ("RCC", "LCC", "RMLO", "LMLO")


@dataclass(frozen=True)
class Suggestion:
    """Studies that look like one exam, with why (no patient data)."""

    study_ids: tuple[int, ...]
    procedure_date: dt.date
    matched_by: str  # "patient", "accession" or "patient and accession"
    views: dict[int, tuple[str, ...]]  # study id -> view labels found in it

    @property
    def reason(self) -> str:
        """One sentence for the list and the tree's tooltip."""
        labels = [label for ids in self.views.values() for label in ids]
        known = sorted(set(labels) & set(_FOUR), key=_FOUR.index)
        missing = [v for v in _FOUR if v not in labels]
        text = (
            f"{len(self.study_ids)} studies of the same {self.matched_by} on "
            f"{self.procedure_date.isoformat()}"
        )
        if known:
            text += " with views " + ", ".join(known) + " that complement each other"
        else:
            text += " (views not known)"
        if missing:
            text += "; together still missing " + ", ".join(missing)
        return text + "."


def _labels(study: StudySummary) -> tuple[str, ...]:
    """View labels with a known view and side ('RCC', 'LMLO', 'RXCCL', ...)."""
    return tuple(
        sorted(
            {
                img.label
                for series in study.series
                for img in series.images
                if img.view and img.laterality in ("R", "L")
            }
        )
    )


def suggest_groups(studies: list[StudySummary]) -> list[Suggestion]:
    """Groups of studies that look like one exam split into several, oldest date first."""
    candidates = [
        s
        for s in studies
        if s.kind == "mammo" and s.procedure_date is not None and not set(_FOUR) <= set(_labels(s))
    ]
    parent = {s.id: s.id for s in candidates}
    how: dict[int, set[str]] = {s.id: set() for s in candidates}

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for key_name in ("patient", "accession"):
        first: dict[tuple[dt.date, str], int] = {}
        for s in candidates:
            value = (
                normalized_patient_id(s.patient_id)
                if key_name == "patient"
                else (s.accession_number or "").strip().upper() or None
            )
            if value is None:
                continue
            assert s.procedure_date is not None
            key = (s.procedure_date, value)
            if key in first:
                a, b = root(first[key]), root(s.id)
                parent[b] = a
                how[first[key]].add(key_name)
                how[s.id].add(key_name)
            else:
                first[key] = s.id

    groups: dict[int, list[StudySummary]] = {}
    for s in candidates:
        groups.setdefault(root(s.id), []).append(s)
    out = []
    for members in groups.values():
        if len(members) < 2:
            continue
        views = {s.id: _labels(s) for s in members}
        every = [label for labels in views.values() for label in labels]
        if len(every) != len(set(every)):
            continue  # a view repeats: two exams (or a repeat), not one exam split up
        ways = set().union(*(how[s.id] for s in members))
        matched = " and ".join(w for w in ("patient", "accession") if w in ways)
        date = members[0].procedure_date
        assert date is not None
        out.append(
            Suggestion(
                study_ids=tuple(sorted(s.id for s in members)),
                procedure_date=date,
                matched_by=matched,
                views={s.id: views[s.id] for s in sorted(members, key=lambda m: m.id)},
            )
        )
    out.sort(key=lambda g: (g.procedure_date, g.study_ids))
    return out


def suggestion_of(suggestions: list[Suggestion], study_id: int) -> Suggestion | None:
    """The suggestion a study is part of, if any (for the tree's marker)."""
    return next((g for g in suggestions if study_id in g.study_ids), None)
