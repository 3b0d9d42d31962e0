"""Shared fixtures: the data folder (skips with a reason where it is absent) and the models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edge_bml.data_paths import data_dir as find_data_dir


@pytest.fixture(scope="session")
def data_dir() -> Path:
    found = find_data_dir(required=False)
    if found is None:
        pytest.skip("data set not found: EDGE_BML_DATA is unset and ../shared/data is absent")
    return found


@pytest.fixture(scope="session")
def ccp_annotations(data_dir: Path) -> dict:
    return json.loads((data_dir / "ccp" / "annotations.json").read_text())


@pytest.fixture(scope="session")
def ccp_val(ccp_annotations: dict, data_dir: Path) -> list[dict]:
    """The CCP val images, each with ``path`` added."""
    images = [dict(image) for image in ccp_annotations["images"] if image["split"] == "val"]
    for image in images:
        image["path"] = data_dir / "ccp" / image["file"]
    return images


@pytest.fixture(scope="session", autouse=True)
def own_cache_folder(tmp_path_factory):
    """Tests never read the developer's latency profile (``edge-bml bench``) nor time variants on first
    use: auto picks as shipped (tests/test_first_use_measure.py turns measuring on)."""
    import os

    previous = os.environ.get("EDGE_BML_CACHE")
    os.environ["EDGE_BML_CACHE"] = str(tmp_path_factory.mktemp("edge_bml_cache"))
    os.environ.setdefault("EDGE_BML_MEASURE", "0")  # no timing on first use: choices as shipped, suite time steady
    yield
    if previous is None:
        os.environ.pop("EDGE_BML_CACHE", None)
    else:
        os.environ["EDGE_BML_CACHE"] = previous
