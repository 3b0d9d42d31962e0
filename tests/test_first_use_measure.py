"""``auto`` times the candidates on this CPU the first time a task is loaded, once, and picks by them (#32)."""

from __future__ import annotations

import json

import pytest

from edge_bml.cli.main import main
from edge_bml.latency_profile import profile_path
from edge_bml.model_registry import choose_variant, list_manifests


@pytest.mark.slow
def test_first_use_times_every_candidate_once_and_auto_picks_by_them(tmp_path, monkeypatch, capfd):
    monkeypatch.setenv("EDGE_BML_CACHE", str(tmp_path))
    monkeypatch.setenv("EDGE_BML_MEASURE", "1")
    choice = choose_variant("detector", threads=2)
    err = capfd.readouterr().err
    candidates = [m for m in list_manifests() if m.task == "detector" and m.accuracy_passed]
    assert "timing the model variants at 2 thread(s) on this CPU, once" in err
    assert choice.basis == "profile"
    stored = json.loads(profile_path().read_text())["latency_ms"]
    every_task = {m.name for m in list_manifests() if m.accuracy_passed}  # all tasks at once, in one process
    assert sorted(stored) == sorted(every_task)
    fastest = min(candidates, key=lambda m: stored[m.name]["threads_2"])
    assert choice.manifest.name == fastest.name
    again = choose_variant("detector", threads=2)
    assert capfd.readouterr().err == "" and again.manifest.name == fastest.name
    assert choose_variant("pose_landmarks", threads=2).basis == "profile" and capfd.readouterr().err == ""


def test_no_measure_keeps_the_shipped_figures(tmp_path, monkeypatch, capfd, data_dir):
    monkeypatch.setenv("EDGE_BML_CACHE", str(tmp_path))
    monkeypatch.setenv("EDGE_BML_MEASURE", "1")
    photo = data_dir / "ccp" / "photos" / "0002.jpg"
    assert main(["pose", str(photo), "--no-measure", "--json"]) == 0
    assert "timing" not in capfd.readouterr().err
    assert not profile_path().exists()
    assert choose_variant("pose_landmarks").basis == "shipped"
