"""A reviewer's confirmation of a guessed mammography view ("please confirm").

A view or side read from free text or an identifier (confidence "low",
:data:`auditdesk.dicom.mammo_views.SOURCE_CONFIDENCE`) is a guess: the worklist and the
checklist form mark it "please confirm" until a reviewer confirms it (this module) or corrects
it (``catalog.set_override``). A confirmation is stored like a correction, in
``classification_overrides`` with who, when and why, keyed by SOP Instance UID so it survives
re-import; its value is the label confirmed ("LCC"), so if a later import reads the image
differently (a new local spelling, say) the new guess asks to be confirmed again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from auditdesk.store.models import ClassificationOverride, Image, Series

CONFIRM_FIELD: Final = "view_confirmed"
PLEASE_CONFIRM: Final = "please confirm"


class ConfirmError(ValueError):
    """A confirmation that cannot be recorded; the message is one sentence for users."""


class _ImageLike(Protocol):
    view: str | None
    laterality: str | None
    view_source: str | None
    laterality_source: str | None
    view_confidence: str | None
    needs_confirmation: bool
    overridden: list[str]


def needs_confirmation(
    confidence: str | None, label: str, overrides: Mapping[str, Any] | None
) -> bool:
    """True while a low-confidence view has neither been corrected nor confirmed as ``label``."""
    if confidence != "low":
        return False
    ovr = overrides or {}
    if "view" in ovr or "laterality" in ovr:
        return False
    return ovr.get(CONFIRM_FIELD) != label


def evidence_text(image: _ImageLike) -> str:
    """Where the view and side came from and how sure that is, for the tree, the hanging overlay
    and ``studies --images``: 'ViewPosition / ImageLaterality · high'. Never holds identifiers
    (identifier sources are only named "identifier text")."""
    if image.view is None and image.laterality is None:
        return ""
    sources = [image.view_source or "none", image.laterality_source or "none"]
    text = sources[0] if sources[0] == sources[1] else " / ".join(sources)
    if image.overridden and {"view", "laterality"} & set(image.overridden):
        return text  # the corrected part's source reads "reviewer"
    confidence = image.view_confidence or "unknown"
    if image.needs_confirmation:
        return f"{text} · {confidence} · {PLEASE_CONFIRM}"
    if confidence == "low":
        return f"{text} · {confidence} · confirmed"
    return f"{text} · {confidence}"


def confirm_view(
    session: Session, image_id: int, reviewer: str, reason: str | None = None
) -> ClassificationOverride:
    """Record that ``reviewer`` checked the image and its automatic view and side are right."""
    if not reviewer.strip():
        raise ConfirmError("A confirmation needs the reviewer's name.")
    image = session.get(Image, image_id)
    if image is None:
        raise ConfirmError(f"No image with id {image_id} in the database.")
    if image.view_source is None:
        raise ConfirmError(f"Image {image_id} is not a mammogram, so it has no view to confirm.")
    if image.view is None or image.laterality is None:
        raise ConfirmError(
            f"Image {image_id} has no automatic view and side to confirm ("
            f"{image.laterality or '?'}{image.view or '?'}); correct it with a view and side."
        )
    row = ClassificationOverride(
        target="image",
        target_uid=image.sop_uid,
        field=CONFIRM_FIELD,
        value=f"{image.laterality}{image.view}",
        reviewer=reviewer.strip(),
        reason=reason,
    )
    session.add(row)
    session.flush()
    return row


def labels_to_confirm(
    session: Session, study_ids: Any, overrides: Mapping[tuple[str, str], Mapping[str, Any]]
) -> dict[int, list[str]]:
    """Per mammography study, the labels ("LCC") of images still marked "please confirm".

    ``study_ids``: a select of study ids (or a list); ``overrides`` as ``catalog._overrides``.
    """
    rows = session.execute(
        select(Series.study_pk, Image.sop_uid, Image.view, Image.laterality)
        .join(Series, Series.id == Image.series_pk)
        .where(Series.study_pk.in_(study_ids), Image.view_confidence == "low")
    )
    found: dict[int, list[str]] = {}
    for study_pk, sop_uid, view, laterality in rows:
        label = f"{laterality or '?'}{view or '?'}"
        if needs_confirmation("low", label, overrides.get(("image", sop_uid))):
            found.setdefault(study_pk, []).append(label)
    return {pk: sorted(labels) for pk, labels in found.items()}
