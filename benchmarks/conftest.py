"""Benchmark fixtures: real CCP photos, and the model variants that exist here (missing ones skip)."""

from __future__ import annotations

import json

import pytest

from edge_bml.image_io import read_image
from tests import conftest as test_fixtures


def pytest_benchmark_update_machine_info(config, machine_info):
    """Record the runtime versions, core count and ISA extensions beside pytest-benchmark's CPU facts."""
    import importlib.metadata
    import os

    versions = {}
    for package in ("numpy", "onnxruntime", "openvino", "ai-edge-litert", "usearch", "opencv-python-headless"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    from edge_bml.machine import current_machine

    machine_info["edge_bml_versions"] = versions
    # The ISA extensions decide which kernels run (AVX2 vs AVX-512 VNNI vs AMX): every figure names them.
    machine_info["edge_bml_machine"] = current_machine().to_json()
    machine_info["cores"] = os.cpu_count()


@pytest.fixture(autouse=True)
def load_average(request):
    """The 1-minute load average as each benchmark starts, in its ``extra_info``: it differs from run to run, so
    in ``machine_info`` it made ``--benchmark-compare`` call every machine a different one."""
    import os

    if "benchmark" in request.fixturenames:
        request.getfixturevalue("benchmark").extra_info["load_average_1min_at_start"] = round(os.getloadavg()[0], 2)


# The tests' fixture: the data folder, skipping with a stated reason where it is absent.
data_dir = test_fixtures.data_dir


@pytest.fixture(scope="session")
def full_shot_photos(data_dir):
    """Eight CCP val photos (full shots), decoded once."""
    annotations = json.loads((data_dir / "ccp" / "annotations.json").read_text())
    files = [image["file"] for image in annotations["images"] if image["split"] == "val"][:8]
    return [read_image(data_dir / "ccp" / name) for name in files]
