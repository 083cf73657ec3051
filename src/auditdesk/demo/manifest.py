"""What the demo generator wrote: per-file and per-study records and ``manifest.json``.

The result types are shared by both modality writers, the collection builders and the demo
audits (which read a manifest back to know the ground truth), so they live apart from any one
writer; reading a manifest must not pull in the pixel synthesis.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from auditdesk.demo import headers as hdr


@dataclass
class GeneratedFile:
    """One written DICOM file and what it is meant to be (the indexer's expected answer)."""

    path: Path
    study_uid: str
    series_uid: str
    sop_uid: str
    kind: str  # "mammo" | "mr"
    view: str | None  # CC | MLO | XCCL (mammo)
    laterality: str | None  # R | L (mammo)
    role: str | None  # T2W | DWI | ADC | DCE (MR)
    b_value: float | None
    temporal_position: int | None
    slice_index: int | None  # true spatial order, 0 = most inferior
    transfer_syntax: str
    photometric: str
    for_processing: bool
    modifier: str | None  # SPOT | MAG | SPOT+MAG (mammo extra views)
    series_number: int = 0
    instance_number: int = 0
    series_description: str = ""
    calculated: bool = False  # MR: synthesised (CALC_BVAL) high-b image


@dataclass
class GeneratedStudy:
    """One study (a 4-view screening mammogram or a multiparametric prostate MR)."""

    study_uid: str
    patient_id: str
    kind: str
    procedure_date: date
    technologist: str | None
    files: list[GeneratedFile]
    truth: dict
    patient_name: str = ""
    accession_number: str = ""
    index: int = 0
    study_dir: Path | None = None


_FILE_FIELDS = tuple(f.name for f in fields(GeneratedFile))
_STUDY_FIELDS = tuple(f.name for f in fields(GeneratedStudy))


@dataclass
class Manifest:
    """What was generated, with ground truth; ``manifest.json`` at ``root``."""

    root: Path
    studies: list[GeneratedStudy]
    seed: int
    params: dict = field(default_factory=dict)

    def to_json(self) -> str:
        """JSON text; file paths relative to ``root`` so the folder can be moved."""
        root = Path(self.root)

        # Flat records: a field-by-field dict gives the JSON ``asdict`` would, without deep-copying
        # every study's thousand file records first (most of the manifest's writing time).
        def enc_file(f: GeneratedFile) -> dict:
            d = {name: getattr(f, name) for name in _FILE_FIELDS}
            d["path"] = _rel(f.path, root)
            return d

        studies = []
        for s in self.studies:
            d = {name: getattr(s, name) for name in _STUDY_FIELDS if name != "files"}
            d["procedure_date"] = s.procedure_date.isoformat()
            d["study_dir"] = _rel(s.study_dir, root) if s.study_dir else None
            d["files"] = [enc_file(f) for f in s.files]
            studies.append(d)
        doc = {
            "format": "auditdesk-demo-manifest",
            "version": 1,
            "seed": self.seed,
            "params": self.params,
            "marker": hdr.MARKER,
            "studies": studies,
        }
        return json.dumps(doc, indent=1, sort_keys=False, default=_json_default)

    def write(self, path: Path | str | None = None) -> Path:
        """Write ``manifest.json`` (default: in ``root``)."""
        target = Path(path) if path is not None else Path(self.root) / "manifest.json"
        if target.is_dir():
            target = target / "manifest.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(self.to_json(), encoding="utf-8")
        return target

    @classmethod
    def read(cls, path: Path | str) -> Manifest:
        """Load a manifest (file or folder); the root is the folder the manifest lives in."""
        p = Path(path)
        if p.is_dir():
            p = p / "manifest.json"
        doc = json.loads(p.read_text(encoding="utf-8"))
        root = p.parent
        studies = []
        for d in doc["studies"]:
            files = [GeneratedFile(**{**f, "path": root / f["path"]}) for f in d["files"]]
            kw = {k: v for k, v in d.items() if k != "files"}
            kw["procedure_date"] = date.fromisoformat(kw["procedure_date"])
            kw["study_dir"] = root / kw["study_dir"] if kw.get("study_dir") else None
            studies.append(GeneratedStudy(files=files, **kw))
        return cls(root=root, studies=studies, seed=doc["seed"], params=doc.get("params", {}))


def _rel(p: Path | None, root: Path) -> str | None:
    if p is None:
        return None
    try:
        return Path(p).relative_to(root).as_posix()
    except ValueError:
        return Path(p).as_posix()


def _json_default(o: Any) -> Any:
    if isinstance(o, Path):
        return o.as_posix()
    if isinstance(o, date):
        return o.isoformat()
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, tuple):
        return list(o)
    raise TypeError(f"not JSON serialisable: {type(o)}")
