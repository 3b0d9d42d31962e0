"""``edge-bml-convert train embedder --smoke``: real triplet steps, checkpoint, resume, export."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edge_bml.image_io import read_image
from edge_bml.manifest import load_manifest
from edge_bml.stages.embedder import ArticleEmbedder

pytest.importorskip("torch")


def _train(data_dir, out, work, *extra: str) -> int:
    from converters.cli import main

    return main(
        [
            "train",
            "embedder",
            "--catalog",
            str(data_dir / "clothing"),
            "--street",
            str(data_dir / "ccp"),
            "--out",
            str(out),
            "--work",
            str(work),
            "--smoke",
            *extra,
        ]
    )


def test_smoke_training_exports_a_working_embedder_and_resumes(tmp_path, data_dir):
    out, work = tmp_path / "embedder_smoke", tmp_path / "work"
    assert _train(data_dir, out, work) == 0
    manifest = load_manifest(out)
    assert manifest.task == "embedder" and manifest.precision == "fp32" and manifest.decoder["dims"] == 256
    training = manifest.source["training"]
    assert training["steps"] == 3 and np.isfinite(training["final_loss_mean_last_20"])
    holdout = json.loads((out / "holdout_ids.json").read_text())["ids"]
    assert len(holdout) == 20 and len(set(holdout)) == 20
    photo = read_image(data_dir / "clothing" / "images" / "ea7b6656-3f84-4eb3-9099-23e623fc1018.jpg")
    with ArticleEmbedder(manifest, threads=1) as embedder:
        vectors = embedder.embed([photo, photo[:, ::-1]])
    assert vectors.shape == (2, 256)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)

    first_sha = manifest.sha256["embedder.onnx"]
    assert _train(data_dir, out, work, "--resume") == 0  # nothing left to train: same weights exported
    assert load_manifest(out).sha256["embedder.onnx"] == first_sha

    assert _train(data_dir, tmp_path / "embedder_128", work, "--export-only", "--dims", "128") == 0
    assert load_manifest(tmp_path / "embedder_128").decoder["dims"] == 128


def test_a_catalog_folder_without_items_csv_is_a_clear_error(tmp_path, data_dir, capsys):
    from converters.cli import main

    code = main(
        [
            "train",
            "embedder",
            "--catalog",
            str(tmp_path),
            "--street",
            str(data_dir / "ccp"),
            "--out",
            str(tmp_path / "o"),
            "--work",
            str(tmp_path / "w"),
            "--smoke",
        ]
    )
    assert code == 2
    assert "items.csv not found" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_plain_backbone_needs_no_training_data_and_training_does(tmp_path, data_dir, capsys):
    from converters.cli import main

    assert main(["train", "embedder", "--out", str(tmp_path / "t")]) == 2
    assert "--catalog and --street are required to train" in capsys.readouterr().err
    out = tmp_path / "embedder_backbone_gap_fp32_onnx"
    assert main(["train", "embedder", "--plain-backbone", "--size", "96", "--out", str(out)]) == 0
    manifest = load_manifest(out)
    assert manifest.source["kind"] == "plain-backbone" and manifest.decoder["dims"] == 1280
    with ArticleEmbedder(manifest) as embedder:
        crop = read_image(sorted((data_dir / "clothing" / "images").iterdir())[0])
        vector = embedder.embed([crop])[0]
    assert vector.shape == (1280,) and abs(float(np.linalg.norm(vector)) - 1.0) < 1e-4
