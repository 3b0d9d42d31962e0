"""``catalog build --engine ray`` on a real two-node Ray cluster on loopback equals the local build."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("ray", reason="the 'scale' extra (pip install -e '.[scale]') is not installed")

from edge_bml.catalog.compare import compare_catalogs  # noqa: E402

RAY = str(Path(sys.executable).with_name("ray"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _ray(*args: str, env: dict) -> None:
    subprocess.run([RAY, *args], check=True, env=env, capture_output=True, text=True, timeout=180)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A head node and a second node, 1 CPU each, on 127.0.0.1; both stopped after the module."""
    if not Path(RAY).is_file():
        pytest.skip(f"no ray command beside {sys.executable}")
    temp = tmp_path_factory.mktemp("ray")
    # Ray 2.60 enables token authentication on `ray start --head`; every node and driver must use it.
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "token"}
    port = _free_port()
    common = ["--num-cpus=1", "--disable-usage-stats"]
    try:
        _ray(
            "start",
            "--head",
            f"--port={port}",
            "--node-ip-address=127.0.0.1",
            "--include-dashboard=false",
            f"--temp-dir={temp}",
            *common,
            env=env,
        )
        _ray("start", f"--address=127.0.0.1:{port}", "--node-ip-address=127.0.0.1", *common, env=env)
        yield f"127.0.0.1:{port}", env
    finally:
        _stop_cluster(temp)


def _stop_cluster(temp: Path) -> None:
    """Stop this cluster's processes only (``ray stop`` would stop every Ray on the machine): every one
    of both nodes names the head's session folder under ``temp`` on its command line."""
    pattern = str(temp)
    subprocess.run(["pkill", "-TERM", "-f", pattern], capture_output=True)
    deadline = time.monotonic() + 30
    while subprocess.run(["pgrep", "-f", pattern], capture_output=True).returncode == 0:
        if time.monotonic() > deadline:
            subprocess.run(["pkill", "-KILL", "-f", pattern], capture_output=True)
            break
        time.sleep(0.5)


def test_a_ray_build_on_two_nodes_equals_the_local_build(cluster, data_dir, tmp_path):
    address, env = cluster
    items = tmp_path / "items.csv"
    lines = (data_dir / "clothing" / "items.csv").read_text().splitlines()
    items.write_text("\n".join(lines[:241]) + "\n")  # 240 products
    images = str(data_dir / "clothing")
    common = ["--images", images, "--items", str(items), "--embedder", "embedder_triplet_int8_tflite"]
    cli = [sys.executable, "-m", "edge_bml.cli.main", "catalog", "build"]
    ray_out, local_out = tmp_path / "on_ray", tmp_path / "local"
    built = subprocess.run(
        cli + common + ["--out", str(ray_out), "--engine", "ray", "--ray-address", address, "--workers", "2"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    assert "on Ray (2 workers)" in built.stdout
    subprocess.run(cli + common + ["--out", str(local_out)], check=True, capture_output=True, timeout=600)
    result = compare_catalogs(local_out, ray_out, queries=20, k=10)
    assert result["counts_equal"], result["counts"]
    assert sum(result["counts"][0].values()) == 240
    assert result["mean_overlap"] >= 0.95, result
    manifest = json.loads((ray_out / "catalog.json").read_text())
    assert manifest["metrics"]["engine"] == "ray" and manifest["files"]
    report = json.loads((ray_out / "build_report.json").read_text())
    assert report["unreadable_images"] == [] and not list(tmp_path.glob(".on_ray.*"))
    shutil.rmtree(ray_out)


def test_ray_engine_refuses_resume_and_bad_workers(tmp_path, capsys):
    from edge_bml.cli.main import main

    args = [
        "catalog",
        "build",
        "--images",
        str(tmp_path),
        "--items",
        str(tmp_path / "x.csv"),
        "--out",
        str(tmp_path / "c"),
    ]
    assert main(args + ["--engine", "ray", "--resume"]) == 2
    assert "--resume is for local builds" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(args + ["--engine", "ray", "--workers", "0"])
