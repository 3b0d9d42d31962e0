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
