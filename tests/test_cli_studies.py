"""``auditdesk studies merge|split|unmerge|unsplit|suggest|history`` as a script uses them: study
ids and dates out, one sentence on refusal, no patient ID or accession without --phi."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import pytest

from auditdesk.cli import main
from study_group_files import four_view_exam

DAY = dt.date(2025, 3, 4)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse and refusals exit
        code = exc.code if isinstance(exc.code, int) else 1
        if isinstance(exc.code, str):
            print(exc.code, file=sys.stderr)
    out, err = capsys.readouterr()
    return code, out, err


def test_suggest_merge_history_unmerge_and_split(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    data = tmp_path / "data"
    four_view_exam(data, index=1, day=DAY, patient_id="SECRETPID", accession="SECRETACC",
                   view_in_patient_id=True)  # fmt: skip
    assert run(capsys, "--db", url, "import", str(data))[0] == 0

    code, out, _ = run(capsys, "--db", url, "studies")
    assert code == 0 and out.count("merge suggested with") == 4
    code, out, _ = run(capsys, "--db", url, "studies", "suggest", "--json")
    (group,) = json.loads(out)
    ids = [str(i) for i in group["study_ids"]]
    assert len(ids) == 4 and group["procedure_date"] == "2025-03-04"
    code, out, _ = run(capsys, "--db", url, "studies", "suggest")
    assert f"auditdesk studies merge {' '.join(ids)}" in out

    code, out, err = run(
        capsys, "--db", url, "studies", "merge", *ids, "--reviewer", "Alice Tech",
        "--reason", "film digitised one image per study",
    )  # fmt: skip
    assert code == 0, err
    assert "4 images, RCC LCC RMLO LMLO" in out and "2025-03-04" in out
    studies = json.loads(run(capsys, "--db", url, "studies", "--json")[1])
    assert len(studies) == 1 and studies[0]["n_images"] == 4
    merged = str(studies[0]["id"])

    code, out, _ = run(capsys, "--db", url, "studies", "history", "--json")
    (row,) = json.loads(out)
    assert row["action"] == "merge" and row["reviewer"] == "Alice Tech"
    assert row["reason"] == "film digitised one image per study"
    assert [str(i) for i in row["source_study_ids"]] == ids and row["undone_at"] is None

    # Split one image off, refuse to unmerge while the split stands, then take both back.
    image = str(studies[0]["series"][0]["images"][0]["id"])
    code, out, err = run(
        capsys, "--db", url, "studies", "split", merged, "--images", image, "--reviewer", "Bob"
    )
    assert code == 0, err
    new = json.loads(run(capsys, "--db", url, "studies", "--json")[1])
    assert sorted(s["n_images"] for s in new) == [1, 3]
    split_off = next(str(s["id"]) for s in new if s["n_images"] == 1)
    code, _out, err = run(capsys, "--db", url, "studies", "unmerge", merged, "--reviewer", "Bob")
    assert code == 1 and "first" in err and err.count("\n") == 1
    assert run(capsys, "--db", url, "studies", "unsplit", split_off, "--reviewer", "Bob")[0] == 0
    code, out, err = run(capsys, "--db", url, "studies", "unmerge", merged, "--reviewer", "Bob")
    assert code == 0, err
    restored = [str(s["id"]) for s in json.loads(run(capsys, "--db", url, "studies", "--json")[1])]
    assert len(restored) == 4 and merged not in restored
    code, out, _ = run(capsys, "--db", url, "studies", "history")
    assert out.count("undone") == 2 and "Alice Tech: merged studies" in out

    # Refusals are one sentence; nothing printed carries the patient ID or accession.
    one = restored[0]
    code, _out, err = run(capsys, "--db", url, "studies", "merge", one, "--reviewer", "A")
    assert code == 1 and "at least two" in err
    code, _out, err = run(capsys, "--db", url, "studies", "split", one, "--images", "999")
    assert code == 1 and f"Image 999 is not in study {one};" in err
    for argv in (("studies",), ("studies", "--json"), ("studies", "suggest", "--json"),
                 ("studies", "history", "--json")):  # fmt: skip
        _code, out, err = run(capsys, "--db", url, *argv)
        assert "SECRETPID" not in out + err and "SECRETACC" not in out + err
