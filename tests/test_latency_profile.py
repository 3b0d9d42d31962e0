"""`auto` picks by this machine's own latencies once `edge-bml bench` has measured them."""

from __future__ import annotations

import json

import pytest

from edge_bml.cli.main import main
from edge_bml.latency_profile import LatencyProfileError, load_profile, new_profile, profile_path, save_profile
from edge_bml.machine import identify
from edge_bml.model_registry import choose_variant, list_manifests

XEON = """processor : 0
model name : Intel(R) Xeon(R) Platinum 8480+
flags : fpu sse avx2 fma avx512f avx512_vnni avx512_bf16 amx_bf16 amx_tile amx_int8 avx_vnni
"""
EPYC = """processor : 0
model name : AMD EPYC 7B13
flags : fpu sse avx2 fma
"""
PI5 = """processor : 0
Features : fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp
CPU part : 0xd0b
"""


def test_machine_identity_names_the_isa_that_changes_kernels():
    xeon, epyc, pi = identify(XEON), identify(EPYC), identify(PI5)
    assert xeon.cpu.startswith("Intel(R) Xeon")
    assert {"avx512_vnni", "amx_int8", "amx_bf16", "avx_vnni"} <= set(xeon.isa)
    assert epyc.isa == ("avx2", "fma")
    assert {"asimd", "asimddp"} <= set(pi.isa)
    assert len({xeon.key, epyc.key, pi.key}) == 3
    assert "avx512_vnni" in xeon.describe()


def _variants(task: str):
    return [m for m in list_manifests() if m.task == task and m.accuracy_passed]


def test_auto_uses_this_machines_profile_only_when_it_covers_every_candidate():
    variants = _variants("pose_detection")
    shipped = choose_variant("pose_detection", threads=2)
    assert shipped.basis == "shipped" and "edge-bml bench" in shipped.why
    slowest_shipped = max(variants, key=lambda m: m.metrics.get("latency_ms", {}).get("threads_2", 0))
    profile = new_profile()
    for manifest in variants:
        profile.record(manifest, 2, 1.0 if manifest.name == slowest_shipped.name else 50.0)
    save_profile(profile)
    try:
        chosen = choose_variant("pose_detection", threads=2)
        assert chosen.basis == "profile" and chosen.manifest.name == slowest_shipped.name
        assert str(profile_path()) in chosen.why
        # A profile that lacks a candidate (here: another model file measured) is not used at all.
        profile.latency_ms[variants[0].name]["sha256"] = "0" * 64
        save_profile(profile)
        partial = choose_variant("pose_detection", threads=2)
        assert partial.basis == "shipped" and variants[0].name in partial.why
    finally:
        profile_path().unlink()


def test_a_damaged_profile_is_reported_and_auto_falls_back():
    path = profile_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{not json")
    try:
        with pytest.raises(LatencyProfileError, match="edge-bml bench"):
            load_profile()
        choice = choose_variant("detector", threads=2)
        assert choice.basis == "shipped" and "unreadable latency profile" in choice.why
    finally:
        path.unlink()


def test_bench_measures_and_pose_then_says_so(ccp_val, capsys):
    photo = str(ccp_val[0]["path"])
    assert main(["pose", "--threads", "2", photo]) == 0
    assert "measured on another CPU" in capsys.readouterr().out
    try:
        tasks = ["--task", "pose_detection", "--task", "pose_landmarks"]
        assert main(["bench", *tasks, "--threads", "2", "--seconds", "0.05", "--json"]) == 0
        measured = json.loads(capsys.readouterr().out)
        names = {m.name for m in list_manifests() if m.task in ("pose_detection", "pose_landmarks")}
        assert set(measured["latency_ms"]) == names
        assert all(entry["threads_2"] > 0 for entry in measured["latency_ms"].values())
        assert measured["machine"]["key"] == profile_path().stem
        assert main(["pose", "--json", "--threads", "2", photo]) == 0
        record = json.loads(capsys.readouterr().out)
        assert {m["chosen_by"] for m in record["models"].values()} == {"profile"}
    finally:
        profile_path().unlink(missing_ok=True)


@pytest.mark.parametrize("value", ["0", "-1", "two"])
def test_bad_thread_counts_are_usage_errors(value, ccp_val, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["look", str(ccp_val[0]["path"]), "--threads", value])
    assert stop.value.code == 2
    assert "--threads" in capsys.readouterr().err


@pytest.mark.parametrize("flag", ["--draw", "--html"])
def test_drawing_into_a_missing_folder_is_a_usage_error(flag, ccp_val, tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["look", str(ccp_val[0]["path"]), flag, str(tmp_path / "missing" / "out.png")])
    assert stop.value.code == 2
    assert "does not exist" in capsys.readouterr().err


def test_look_without_a_catalog_says_how_to_build_one(ccp_val, capsys):
    assert main(["look", "--threads", "2", str(ccp_val[0]["path"])]) == 0
    captured = capsys.readouterr()
    assert "no catalog given" in captured.err and "edge-bml catalog build" in captured.err
    assert "models: " in captured.out and "chosen: " in captured.out
