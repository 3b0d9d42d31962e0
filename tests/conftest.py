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


@pytest.fixture(scope="module")
def embedder():
    """The FP32 article embedder at one thread, loaded once per test module (catalog builds in tests)."""
    from edge_bml.model_registry import select_variant
    from edge_bml.stages.embedder import ArticleEmbedder

    with ArticleEmbedder(select_variant("embedder", precision="fp32"), threads=1) as model:
        yield model


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


DATA_FIXTURES = {"data_dir", "ccp_annotations", "ccp_val"}


def pytest_collection_modifyitems(config, items):
    """Every test that uses the data fixtures carries the ``data`` marker (``-m "not data"`` runs without them)."""
    for item in items:
        if DATA_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.data)


# Skips that are expected where CI runs (the dev venv lacks the 'litert' extra and the litert venv has it, a CPU
# has bf16 or not, and the COCO CenterNet's npm tarball, whose weights may not be shipped, is fetched by hand);
# under CI=true any other skip fails the run, so a missing browser, extra or data set cannot pass unseen.
EXPECTED_SKIPS = (
    "the 'litert' extra",  # the dev venv
    "litert-torch is installed",  # the litert venv: the test of the message shown without it
    "this CPU has no bf16",
    "this CPU offers bf16",
    "set EDGE_BML_HUMAN_MODELS",
)


def pytest_sessionfinish(session, exitstatus):
    import os

    if os.environ.get("CI") != "true":
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter is not None else []
    unexpected = [r for r in skipped if not any(reason in str(r.longrepr) for reason in EXPECTED_SKIPS)]
    if unexpected:
        for report in unexpected:
            print(f"\nunexpected skip in CI: {report.nodeid}: {report.longrepr}")
        session.exitstatus = 1
