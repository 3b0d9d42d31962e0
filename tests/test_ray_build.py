"""``catalog build --engine ray`` on a real two-node Ray cluster on loopback equals the local build."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
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
    done = subprocess.run([RAY, *args], env=env, capture_output=True, text=True, timeout=180)
    if done.returncode != 0:
        pytest.fail(f"ray {args[0]} {args[1]} failed ({done.returncode}): {done.stderr[-1500:]}")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A head node and a second node, 1 CPU each, on 127.0.0.1; both stopped after the module."""
    if not Path(RAY).is_file():
        pytest.skip(f"no ray command beside {sys.executable}")
    temp = tmp_path_factory.mktemp("ray")
    # Ray 2.60 enables token authentication on `ray start --head`, which then needs a token: one of the
    # test's own (not ~/.ray/auth_token, which a fresh machine lacks), given to every node and driver.
    token = secrets.token_hex(32)
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token}
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


def _process(pid: int) -> tuple[str, int, str, bytes] | None:
    """(command name, parent pid, start time, command line) of a live process; None if gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    name = stat[stat.index("(") + 1 : stat.rindex(")")]
    fields = stat[stat.rindex(")") + 2 :].split()  # state, ppid, ...: stat's field 22 (start time) is fields[19]
    return None if fields[0] == "Z" else (name, int(fields[1]), fields[19], command)


def _cluster_processes(temp: Path) -> dict[int, tuple[str, str]]:
    """pid -> (command name, start time) of this cluster's processes only: those naming its session folder
    under ``temp`` on their command line (both nodes' raylets, the GCS, the monitors) and their descendants
    (workers rename themselves ``ray::...``)."""
    table = {int(e.name): info for e in Path("/proc").iterdir() if e.name.isdigit() and (info := _process(int(e.name)))}
    table.pop(os.getpid(), None)
    ours = {pid for pid, info in table.items() if str(temp).encode() in info[3]}
    while children := {pid for pid, info in table.items() if info[1] in ours} - ours:
        ours |= children
    return {pid: (table[pid][0], table[pid][2]) for pid in ours}


def _stop_cluster(temp: Path, grace_s: float = 5.0) -> None:
    """Stop this cluster's processes by pid (``ray stop`` would stop every Ray on the machine), in
    ``ray stop``'s order: the raylets, then the rest, the GCS last (all at once, the raylets and a monitor
    wait on a GCS that is going and ignore SIGTERM for over 30 s); each group gets ``grace_s`` after
    SIGTERM, then SIGKILL. Each pid is checked to be the same process (start time) before a signal."""
    processes = _cluster_processes(temp)

    def alive(pids: list[int]) -> list[int]:
        return [pid for pid in pids if (info := _process(pid)) and info[2] == processes[pid][1]]

    left = dict(processes)
    for in_group in (lambda name: name == "raylet", lambda name: name != "gcs_server", lambda name: True):
        group = [pid for pid, (name, _) in left.items() if in_group(name)]
        for pid in group:
            del left[pid]
        for how in (signal.SIGTERM, signal.SIGKILL):
            for pid in (group := alive(group)):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, how)
            deadline = time.monotonic() + grace_s
            while (group := alive(group)) and time.monotonic() < deadline:
                time.sleep(0.1)
            if not group:
                break


EMBEDDER = "embedder_triplet_int8_tflite"
BUILD = [sys.executable, "-m", "edge_bml.cli.main", "catalog", "build"]


@pytest.fixture(scope="module")
def local_build(data_dir, tmp_path_factory) -> tuple[Path, Path]:
    """(items.csv of the first 240 clothing products, their catalog built locally), for both Ray builds."""
    folder = tmp_path_factory.mktemp("local")
    items = folder / "items.csv"
    lines = (data_dir / "clothing" / "items.csv").read_text().splitlines()
    items.write_text("\n".join(lines[:241]) + "\n")  # 240 products
    images = str(data_dir / "clothing")
    common = ["--images", images, "--items", str(items), "--embedder", EMBEDDER]
    subprocess.run(BUILD + common + ["--out", str(folder / "local")], check=True, capture_output=True, timeout=600)
    return items, folder / "local"


@pytest.mark.slow
def test_a_ray_build_on_two_nodes_equals_the_local_build(cluster, local_build, data_dir, tmp_path):
    address, env = cluster
    items, local_out = local_build
    common = ["--images", str(data_dir / "clothing"), "--items", str(items), "--embedder", EMBEDDER]
    ray_out = tmp_path / "on_ray"
    built = subprocess.run(
        BUILD + common + ["--out", str(ray_out), "--engine", "ray", "--ray-address", address, "--workers", "2"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    assert "on Ray (2 workers)" in built.stdout
    result = compare_catalogs(local_out, ray_out, queries=20, k=10)
    assert result["counts_equal"], result["counts"]
    assert sum(result["counts"][0].values()) == 240
    assert result["mean_overlap"] >= 0.95, result
    manifest = json.loads((ray_out / "catalog.json").read_text())
    assert manifest["metrics"]["engine"] == "ray" and manifest["files"]
    report = json.loads((ray_out / "build_report.json").read_text())
    assert report["unreadable_images"] == [] and not list(tmp_path.glob(".on_ray.*"))
    shutil.rmtree(ray_out)


@pytest.mark.slow
def test_a_local_ray_build_from_parquet_and_file_uris_equals_the_local_build(cluster, local_build, data_dir, tmp_path):
    """Default options (None), a Parquet table and ``file://`` URIs, no address: Ray starts its own local
    instance, even with ``RAY_ADDRESS`` naming the running cluster (which it must not join)."""
    import pyarrow.csv
    import pyarrow.parquet

    address, _ = cluster
    items, local_out = local_build
    table = tmp_path / "items.parquet"
    pyarrow.parquet.write_table(pyarrow.csv.read_csv(items), table)
    script = (
        "import sys\n"
        "from edge_bml.catalog.ray_build import build_catalog_on_ray\n"
        "from edge_bml.stages.catalog_embedder import embedder_variant\n"
        "manifest, rate = build_catalog_on_ray(sys.argv[1], sys.argv[2], sys.argv[3], "
        f"embedder_variant({EMBEDDER!r}, threads=1))\n"
        "print(manifest.metrics['ray_workers'], manifest.total)\n"
    )
    out = tmp_path / "local_ray"
    images = f"file://{data_dir / 'clothing'}"
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_ADDRESS": address}
    built = subprocess.run(
        [sys.executable, "-c", script, f"file://{table}", images, str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    assert built.stdout.split() == ["2", "240"]  # RayOptions()'s 2 workers
    result = compare_catalogs(local_out, out, queries=20, k=10)
    assert result["counts_equal"], result["counts"]
    assert result["mean_overlap"] >= 0.95, result
    manifest = json.loads((out / "catalog.json").read_text())
    assert manifest["source"] == {
        "items_csv": str(table.resolve()),
        "images_dir": str((data_dir / "clothing").resolve()),
    }


def test_the_runtime_never_imports_ray():
    script = (
        "import sys\n"
        "import edge_bml, edge_bml.pipeline, edge_bml.server.app, edge_bml.cli.main, edge_bml.catalog.build\n"
        "print(sorted(name for name in sys.modules if name == 'ray' or name.startswith('ray.')))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120)
    assert done.stdout.strip() == "[]", done.stdout


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
