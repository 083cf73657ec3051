"""Site settings, pseudonym keys, technologists with aliases, locations and annotations."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from auditdesk.cli import main
from auditdesk.qi import site
from auditdesk.qi.site import (
    SiteError,
    SiteSettings,
    add_alias,
    add_annotation,
    add_location,
    add_technologist,
    delete_annotation,
    exam_key,
    get_site,
    list_annotations,
    list_locations,
    list_technologists,
    location_resolver,
    normalise_operator,
    remove_alias,
    save_site,
    site_secret,
    technologist_resolver,
    unmapped_operator_names,
)
from auditdesk.store.models import Study

UID = "1.2.826.0.1.3680043.10.1.12345"


def _study(session, uid: str, technologist: str | None) -> None:
    session.add(
        Study(
            study_uid=uid, kind="mammo", technologist=technologist, procedure_date=dt.date.today()
        )
    )


def test_normalise_operator() -> None:
    assert normalise_operator("SMITH^JANE") == "smith jane"
    assert normalise_operator("Smith, Jane") == "smith jane"
    assert normalise_operator("  smith ^^ jane. ") == "smith jane"
    assert normalise_operator("SMITH^JANE^^^") == "smith jane"
    assert normalise_operator("") is None
    assert normalise_operator("^ ,") is None
    assert normalise_operator(None) is None


def test_site_defaults_and_save(db) -> None:
    with db.transaction() as s:
        assert get_site(s) == SiteSettings()
        assert get_site(s).checklist_id == "acr-mammo-positioning"
        save_site(
            s,
            SiteSettings(
                site_name=" Riverside Breast Center ",
                site_id="RBC01",
                collaborative="ACR Learning Network",
                goal_pct=85,
                default_location="Main",
                is_demo=True,
            ),
        )
    with db.session() as s:
        got = get_site(s)
    assert got.site_name == "Riverside Breast Center"
    assert got.goal_pct == 85.0 and got.default_location == "Main" and got.is_demo
    with db.transaction() as s:
        got.goal_pct = None
        got.default_location = ""
        save_site(s, got)  # second save updates the one row
    with db.session() as s:
        again = get_site(s)
    assert again.goal_pct is None and again.default_location is None
    assert again.site_id == "RBC01"
    with db.transaction() as s, pytest.raises(SiteError, match="percentage"):
        save_site(s, SiteSettings(goal_pct=120))


def test_exam_key_is_stable_pseudonymous_and_per_site(db) -> None:
    with db.transaction() as s:
        secret = site_secret(s)
    with db.transaction() as s:
        assert site_secret(s) == secret  # created once, then kept
    assert len(secret) == 32
    key = exam_key(secret, UID)
    assert key == exam_key(secret, UID)
    assert key.startswith("EX-") and len(key) == 13
    assert set(key[3:]) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
    assert UID not in key and "12345" not in key
    assert exam_key(secret, UID + "6") != key
    assert exam_key(b"another site's secret 32 bytes!!", UID) != key


def test_technologists_aliases_and_resolver(db) -> None:
    with db.transaction() as s:
        jane = add_technologist(s, "Jane Smith", "JS", location="Main")
        alex = add_technologist(s, "Alex Doe", "AD")
        add_alias(s, jane.id, "J.S.")
        add_alias(s, jane.id, "jsmith")
        with pytest.raises(SiteError, match="already exists"):
            add_technologist(s, "jane smith")
        with pytest.raises(SiteError, match="no technologist"):
            add_alias(s, 999, "x")
        with pytest.raises(SiteError, match="empty"):
            add_alias(s, jane.id, " ^ ")
    with db.session() as s:
        techs = {t.name: t for t in list_technologists(s)}
        resolve = technologist_resolver(s)
    assert techs["Jane Smith"].aliases == ["j s", "jsmith"]
    assert techs["Jane Smith"].location == "Main" and techs["Alex Doe"].location is None
    # Canonical name (either order, any separators) and aliases resolve; others stay as they are.
    assert resolve("SMITH^JANE") == "Jane Smith"
    assert resolve("Smith, Jane") == "Jane Smith"
    assert resolve("jane smith") == "Jane Smith"
    assert resolve("J.S.") == "Jane Smith"
    assert resolve("JSMITH") == "Jane Smith"
    assert resolve("DOE^ALEX") == "Alex Doe"
    assert resolve("Unknown^Person") == "Unknown^Person"
    assert resolve("") is None and resolve(None) is None and resolve(" ^ ") is None

    with db.transaction() as s:
        add_alias(s, alex.id, "jsmith")  # remapping an alias moves it
        remove_alias(s, "J.S.")
        remove_alias(s, "never mapped")
    with db.session() as s:
        resolve = technologist_resolver(s)
    assert resolve("jsmith") == "Alex Doe"
    assert resolve("J.S.") == "J.S."


def test_unmapped_operator_names(db) -> None:
    with db.transaction() as s:
        for i, raw in enumerate(["SMITH^JANE", "Smith, Jane", "J.S.", "J.S.", "KIM^LEE", None]):
            _study(s, f"1.2.3.{i}", raw)
        add_technologist(s, "Jane Smith")
    with db.session() as s:
        assert unmapped_operator_names(s) == [("J.S.", 2), ("KIM^LEE", 1)]
    with db.transaction() as s:
        jane = site.find_technologist(s, "smith^jane")
        assert jane is not None
        add_alias(s, jane.id, "J.S.")
    with db.session() as s:
        assert unmapped_operator_names(s) == [("KIM^LEE", 1)]


def test_locations_and_location_resolver(db) -> None:
    with db.transaction() as s:
        add_location(s, "Main")
        add_location(s, "Main")  # already there: nothing happens
        add_location(s, "Mobile  Unit")
        add_technologist(s, "Jane Smith", location="North")
        add_technologist(s, "Alex Doe")
        save_site(s, SiteSettings(default_location="Main"))
        with pytest.raises(SiteError):
            add_location(s, "  ")
    with db.session() as s:
        assert list_locations(s) == ["Main", "Mobile Unit", "North"]
        where = location_resolver(s)
    assert where("Jane Smith") == "North"
    assert where("Alex Doe") == "Main"
    assert where("SMITH^JANE") == "Main"  # expects a canonical name
    assert where(None) == "Main"


def test_annotations(db) -> None:
    with db.transaction() as s:
        b = add_annotation(s, dt.date(2026, 3, 8), "Poster", pdsa_cycle="PDSA 1", starts_phase=True)
        a = add_annotation(s, dt.date(2026, 2, 1), "Baseline", description="before changes")
        with pytest.raises(SiteError, match="label"):
            add_annotation(s, dt.date(2026, 3, 1), " ")
    with db.session() as s:
        notes = list_annotations(s)
    assert [n.id for n in notes] == [a.id, b.id]
    assert notes[1].starts_phase and notes[1].pdsa_cycle == "PDSA 1"
    assert notes[0].description == "before changes" and not notes[0].starts_phase
    with db.transaction() as s:
        delete_annotation(s, a.id)
        with pytest.raises(SiteError, match="no annotation"):
            delete_annotation(s, a.id)
    with db.session() as s:
        assert [n.label for n in list_annotations(s)] == ["Poster"]


def _cli(capsys: pytest.CaptureFixture[str], url: str, *argv: str) -> tuple[int, str, str]:
    code = main(["--db", url, *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_site_technologists_and_annotations(tmp_path, capsys) -> None:
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    code, out, _ = _cli(capsys, url, "site", "show", "--json")
    assert code == 0 and json.loads(out)["site_name"] == ""
    code, out, _ = _cli(
        capsys, url, "site", "set", "--name", "Riverside", "--site-id", "RBC01", "--goal", "85%"
    )
    assert code == 0 and "Riverside" in out
    code, out, _ = _cli(capsys, url, "site", "show", "--json")
    data = json.loads(out)
    assert data["site_id"] == "RBC01" and data["goal_pct"] == 85.0
    code, _, err = _cli(capsys, url, "site", "set", "--goal", "lots")
    assert code == 1 and err.count("\n") == 1 and "percentage" in err
    code, _, err = _cli(capsys, url, "site", "set")
    assert code == 1 and "Nothing to change" in err

    assert _cli(capsys, url, "technologist", "add", "Jane Smith", "--initials", "JS")[0] == 0
    assert _cli(capsys, url, "technologist", "alias", "Jane Smith", "J.S.")[0] == 0
    code, _, err = _cli(capsys, url, "technologist", "alias", "Nobody", "X")
    assert code == 1 and "No technologist" in err
    code, _, err = _cli(capsys, url, "technologist", "add", "jane smith")
    assert code == 1 and "already exists" in err
    code, out, _ = _cli(capsys, url, "technologist", "list", "--json")
    assert json.loads(out)[0]["aliases"] == ["j s"]
    code, out, _ = _cli(capsys, url, "technologist", "unmapped", "--json")
    assert code == 0 and json.loads(out) == []
    assert _cli(capsys, url, "location", "add", "Main")[0] == 0
    assert _cli(capsys, url, "location", "list")[1].split() == ["Main"]

    code, out, _ = _cli(capsys, url, "annotate", "add", "2026-03-08", "Poster", "--new-phase")
    assert code == 0
    code, out, _ = _cli(capsys, url, "annotate", "list", "--json")
    notes = json.loads(out)
    assert notes[0]["label"] == "Poster" and notes[0]["starts_phase"] is True
    code, _, err = _cli(capsys, url, "annotate", "add", "08/03/2026", "Poster")
    assert code == 1 and "not a date" in err
    assert _cli(capsys, url, "annotate", "delete", str(notes[0]["id"]))[0] == 0
    assert _cli(capsys, url, "annotate", "delete", str(notes[0]["id"]))[0] == 1


def test_the_pseudonym_secret_exists_from_the_start_so_read_only_sessions_agree(tmp_path):
    """Exam keys computed in two read-only sessions of a new database are the same."""
    from auditdesk.qi.site import exam_key, site_secret
    from auditdesk.store.db import open_database

    db = open_database(f"sqlite:///{tmp_path / 'fresh.sqlite'}")
    try:
        with db.session() as first:
            key1 = exam_key(site_secret(first), "1.2.3")
        with db.session() as second:
            key2 = exam_key(site_secret(second), "1.2.3")
        assert key1 == key2
    finally:
        db.dispose()
