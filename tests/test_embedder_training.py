"""``edge-bml-convert train embedder --smoke``: real triplet and appearance steps, checkpoint, resume, export;
the colour-keeping street views of the appearance objective."""

from __future__ import annotations

import json
from pathlib import Path

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


def test_smoke_appearance_training_exports_a_foreground_fill_embedder(tmp_path, data_dir):
    out, work = tmp_path / "embedder_appearance_smoke", tmp_path / "work"
    assert _train(data_dir, out, work, "--objective", "appearance") == 0
    manifest = load_manifest(out)
    assert manifest.source["kind"] == "appearance"
    assert manifest.source["training"]["config"]["objective"] == "appearance"
    assert manifest.decoder["pad_value"] == 124 and manifest.decoder["foreground_fill"] is True
    assert np.isfinite(manifest.source["training"]["final_loss_mean_last_20"])
    holdout = json.loads((out / "holdout_ids.json").read_text())["ids"]
    assert len(holdout) == 20
    photo = read_image(data_dir / "clothing" / "images" / "ea7b6656-3f84-4eb3-9099-23e623fc1018.jpg")
    with ArticleEmbedder(manifest, threads=1) as embedder:
        vectors = embedder.embed([photo])
    assert vectors.shape == (1, 256) and abs(float(np.linalg.norm(vectors[0])) - 1.0) < 1e-5


def test_smoke_appearance_training_with_triplet_loss_and_the_category_term(tmp_path, data_dir):
    out = tmp_path / "embedder_appearance_cat"
    options = ["--objective", "appearance", "--appearance-loss", "triplet", "--appearance-categories", "2"]
    assert _train(data_dir, out, tmp_path / "work", *options, "--appearance-category-weight", "0.5") == 0
    config = load_manifest(out).source["training"]["config"]
    assert config["appearance_loss"] == "triplet" and config["appearance_category_weight"] == 0.5
    assert np.isfinite(load_manifest(out).source["training"]["final_loss_mean_last_20"])


def _centre_colour_changes(rgb: tuple[int, int, int], colour: str) -> list[float]:
    from edge_bml.colour import delta_e, rgb_to_lab
    from edge_bml.evaluation.street_view import street_view

    product = np.full((120, 120, 3), rgb, np.uint8)
    reference = rgb_to_lab(np.asarray(rgb, np.uint8))
    changes = []
    for seed in range(20):
        view = street_view(product, rng=np.random.default_rng(seed), backgrounds=[], size=96, colour=colour)
        # A square garment covers at least the middle fifth of the view whatever the crop and warp.
        centre = rgb_to_lab(view[44:52, 44:52].reshape(-1, 3)).mean(axis=0)
        changes.append(float(delta_e(centre, reference)))
    return changes


@pytest.mark.parametrize("rgb", [(180, 40, 60), (40, 90, 160)])
def test_mild_street_views_keep_the_garment_colour_and_the_default_does_not(rgb):
    mild = _centre_colour_changes(rgb, "mild")
    jitter = _centre_colour_changes(rgb, "jitter")
    assert np.mean(mild) < 10.0 and np.median(mild) < 8.0
    assert np.mean(jitter) > 2.0 * np.mean(mild)


def test_street_view_rejects_an_unknown_colour_mode():
    from edge_bml.evaluation.street_view import product_view, street_view

    image = np.zeros((32, 32, 3), np.uint8)
    with pytest.raises(ValueError, match="colour must be one of"):
        street_view(image, rng=np.random.default_rng(0), backgrounds=[], size=32, colour="vivid")
    with pytest.raises(ValueError, match="colour must be one of"):
        product_view(image, rng=np.random.default_rng(0), colour="vivid")


def test_supervised_contrastive_loss_is_lower_when_views_of_an_item_agree():
    import torch

    from converters.train.contrastive_loss import supervised_contrastive

    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    base = torch.nn.functional.normalize(torch.eye(3, 8), dim=1)
    agreeing = base.repeat_interleave(2, dim=0)
    swapped = agreeing[[0, 2, 1, 4, 3, 0]]
    good = supervised_contrastive(agreeing, labels, temperature=0.1)
    bad = supervised_contrastive(swapped, labels, temperature=0.1)
    assert float(good) < float(bad)
    with pytest.raises(ValueError):
        supervised_contrastive(agreeing, labels[:3], temperature=0.1)


def test_init_from_an_onnx_variant_reproduces_its_vectors():
    import onnxruntime as ort
    import torch

    from converters.train.embedder_net import ArticleEmbedderNet, ExportedEmbedder
    from converters.train.embedder_onnx_init import load_onnx_embedder
    from converters.train.torch_models.efficientnet_lite0 import load_efficientnet_lite0
    from edge_bml.errors import ModelLoadError

    variant = Path(__file__).resolve().parents[1] / "quantized_models" / "embedder_triplet_fp32_onnx"
    if not (variant / "embedder.onnx").is_file():
        pytest.skip(f"{variant} is not in this checkout")
    net = ArticleEmbedderNet(load_efficientnet_lite0())
    assert load_onnx_embedder(net, variant) == {"convolutions": 49, "head_dims": 256}
    x = np.random.default_rng(0).normal(size=(2, 3, 192, 192)).astype(np.float32)
    reference = ort.InferenceSession(str(variant / "embedder.onnx")).run(None, {"image": x})[0]
    with torch.no_grad():
        ours = ExportedEmbedder(net.eval(), 256)(torch.from_numpy(x)).numpy()
    assert np.abs(ours - reference).max() < 1e-5
    with pytest.raises(ModelLoadError, match="FP32 ONNX embedder"):
        load_onnx_embedder(net, variant.parent / "embedder_triplet_int8_openvino")
