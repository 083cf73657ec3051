"""User window presets: saved per modality, survive a restart, bad files do not crash."""

from __future__ import annotations

import pytest

from auditdesk.reading.window_presets import USER_MARK, PresetError, UserPresets


def test_presets_are_filed_per_modality_and_survive_a_restart(tmp_path):
    store = UserPresets(tmp_path / "p.json")
    store.add("mr", "T2 prostate", 350, 700)
    store.add("MG", "Dense", 2000, 800, "SIGMOID")
    again = UserPresets(tmp_path / "p.json")
    assert [p.name for p in again.for_modality("MR")] == ["T2 prostate"]
    voi = again.for_modality("MG")[0].to_voi()
    assert voi.name == USER_MARK + "Dense"
    assert (voi.center, voi.width, voi.function, voi.kind) == (2000, 800, "SIGMOID", "window")
    assert again.for_modality("CT") == []


def test_same_name_replaces_and_remove_deletes(tmp_path):
    store = UserPresets(tmp_path / "p.json")
    store.add("MR", "T2", 300, 600)
    store.add("MR", "T2", 310, 620)
    assert [(p.center, p.width) for p in store.for_modality("MR")] == [(310, 620)]
    assert store.remove("MR", USER_MARK + "T2")
    assert UserPresets(tmp_path / "p.json").all() == []
    assert not store.remove("MR", "T2")


@pytest.mark.parametrize(
    ("modality", "name", "center", "width"),
    [("MR", "", 1, 10), ("", "x", 1, 10), ("MR", "x", float("nan"), 10), ("MR", "x", 1, 0)],
)
def test_bad_presets_are_refused_with_a_sentence(tmp_path, modality, name, center, width):
    with pytest.raises(PresetError):
        UserPresets(tmp_path / "p.json").add(modality, name, center, width)


def test_a_broken_file_starts_empty_and_says_why(tmp_path):
    path = tmp_path / "p.json"
    path.write_text("{not json")
    store = UserPresets(path)
    assert store.all() == []
    assert store.problem and "p.json" in store.problem
    store.add("MR", "T2", 1, 10)  # and it can be written again
    assert UserPresets(path).problem is None
