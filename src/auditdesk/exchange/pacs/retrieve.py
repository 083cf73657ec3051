"""Bring studies from a PACS into the data folder and index them as ``auditdesk import`` does.

Layout (no UIDs in names): ``<data>/pacs/<EX-key>/<instance key>.dcm`` for complete studies and
``<data>/pacs/.incoming/<EX-key>/`` while a study is on its way. A study is indexed only when
every instance the PACS listed has arrived: an interrupted, cancelled or failed study is never
half indexed, and its received files stay in ``.incoming`` so the next run fetches only the
rest (resume). Each instance is written to a temporary name and renamed when complete.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from auditdesk.exchange.pacs.nodes import NodeConfig, PacsError
from auditdesk.exchange.pacs.query import StudyMatch
from auditdesk.exchange.pacs.transfer import InstanceRef, TransferCancelledError
from auditdesk.paths import data_dir
from auditdesk.qi.site import exam_key, site_secret
from auditdesk.store.db import Database

INCOMING = ".incoming"
# progress(done images, total images, short text without PHI)
Progress = Callable[[int, int, str], None]


@dataclass
class StudyOutcome:
    key: str
    received: int = 0  # fetched in this run
    already: int = 0  # present from an earlier (interrupted) run, not fetched again
    total: int = 0
    error: str | None = None
    indexed: bool = False


@dataclass
class RetrieveResult:
    studies: list[StudyOutcome] = field(default_factory=list)
    cancelled: bool = False
    imported: Any = None  # the ImportSummary of the completed studies, or None

    @property
    def failed(self) -> list[StudyOutcome]:
        return [s for s in self.studies if s.error]

    def to_dict(self) -> dict[str, Any]:
        return {
            "studies": [vars(s) for s in self.studies],
            "cancelled": self.cancelled,
            "images_received": sum(s.received for s in self.studies),
            "images_already_here": sum(s.already for s in self.studies),
        }


def pacs_dir() -> Path:
    return data_dir() / "pacs"


def _protocol(node: NodeConfig) -> Any:
    if node.protocol == "dicomweb":
        from auditdesk.exchange.pacs import web

        return web
    from auditdesk.exchange.pacs import dimse

    return dimse


class _StudyFolder:
    """Where one study's files go, named by pseudonymous keys derived from the UIDs."""

    def __init__(self, root: Path, secret: bytes, study_uid: str) -> None:
        self.secret = secret
        self.key = exam_key(secret, study_uid)
        self.final = root / self.key
        self.incoming = root / INCOMING / self.key

    def name(self, sop_uid: str) -> str:
        return exam_key(self.secret, sop_uid).removeprefix("EX-") + ".dcm"

    def has(self, sop_uid: str) -> bool:
        name = self.name(sop_uid)
        return (self.final / name).is_file() or (self.incoming / name).is_file()

    def write(self, sop_uid: str, data: bytes) -> None:
        self.incoming.mkdir(parents=True, exist_ok=True)
        target = self.incoming / self.name(sop_uid)
        tmp = target.with_suffix(".part")
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)

    def complete(self) -> None:
        """Move the received files beside any earlier ones; the incoming folder goes."""
        self.final.mkdir(parents=True, exist_ok=True)
        if self.incoming.is_dir():
            for path in self.incoming.glob("*.dcm"):
                os.replace(path, self.final / path.name)
            shutil.rmtree(self.incoming, ignore_errors=True)


def retrieve_studies(
    db: Database,
    node: NodeConfig,
    studies: list[StudyMatch],
    *,
    progress: Progress | None = None,
    cancel: Callable[[], bool] | None = None,
) -> RetrieveResult:
    """Fetch every instance of ``studies`` not yet here, then index each complete study.

    A failure in one study (refused, connection lost, timeout) is recorded on that study with
    one sentence and the next study is tried; Cancel stops after the current image.
    """
    from auditdesk.dicom.index import import_paths

    cancel = cancel or (lambda: False)
    proto = _protocol(node)
    root = pacs_dir()
    with db.transaction() as session:
        secret = site_secret(session)
    result = RetrieveResult()

    plans: list[tuple[_StudyFolder, StudyOutcome, list[InstanceRef]]] = []
    for match in studies:
        folder = _StudyFolder(root, secret, match.study_uid)
        outcome = StudyOutcome(key=folder.key)
        result.studies.append(outcome)
        if cancel():
            result.cancelled = True
            return result
        try:
            refs = proto.list_instances(node, match.study_uid)
        except PacsError as exc:
            outcome.error = str(exc)
            continue
        if not refs:
            outcome.error = f"PACS {node.address} listed no images for this study."
            continue
        outcome.total = len(refs)
        missing = [r for r in refs if not folder.has(r.sop_uid)]
        outcome.already = outcome.total - len(missing)
        plans.append((folder, outcome, missing))

    total = sum(o.total for _f, o, _m in plans)
    done_count = sum(o.already for _f, o, _m in plans)
    if progress:
        progress(done_count, total, "")
    completed: list[Path] = []
    for folder, outcome, missing in plans:

        def sink(study_uid: str, sop_uid: str, data: bytes, _f: _StudyFolder = folder) -> None:
            if exam_key(secret, study_uid) != _f.key:
                raise PacsError("the PACS sent an image of another study")
            _f.write(sop_uid, data)

        def done(ref: InstanceRef, _o: StudyOutcome = outcome) -> None:
            nonlocal done_count
            _o.received += 1
            done_count += 1
            if progress:
                progress(done_count, total, _o.key)

        try:
            proto.fetch(node, missing, sink, done=done, cancel=cancel)
        except TransferCancelledError:
            result.cancelled = True
            break
        except PacsError as exc:
            outcome.error = str(exc)
            continue
        absent = [r for r in missing if not folder.has(r.sop_uid)]
        if absent:
            outcome.error = (
                f"PACS {node.address} reported success but {len(absent)} of "
                f"{outcome.total} images did not arrive; run retrieve again."
            )
            continue
        folder.complete()
        completed.append(folder.final)
    if completed:
        result.imported = import_paths(db, completed)
        for _f, outcome, _m in plans:
            outcome.indexed = _f.final in completed
    return result


__all__ = ["INCOMING", "RetrieveResult", "StudyOutcome", "pacs_dir", "retrieve_studies"]
