"""The detector's training-only parsing loss (``train detector --parse-weight``): its targets, its loss,
the crops it is cut with, and a smoke run whose export is the plain detector."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from converters.train.detector_dataset import CATEGORIES, PersonCropDataset, load_ccp_records  # noqa: E402
from converters.train.detector_parse_targets import cell_shares, load_class_maps  # noqa: E402
from converters.train.torch_models.parse_head import parse_loss  # noqa: E402
from edge_bml.data_fetch.parser_labels import PARSER_CLASSES  # noqa: E402

BELT = PARSER_CLASSES.index("belt")


def test_a_one_pixel_belt_keeps_its_share_and_unknown_pixels_void_their_cell():
    class_map = np.zeros((1, 16, 16), np.uint8)
    class_map[0, :, 3] = BELT  # one pixel wide, through the left cells
    known = np.ones((1, 16, 16), bool)
    known[0, 12, 12] = False  # e.g. a pasted article
    shares, weight = cell_shares(class_map, known)
    assert shares.shape == (1, len(PARSER_CLASSES), 2, 2) and weight.shape == (1, 2, 2)
    assert shares[0, BELT, :, 0].tolist() == [0.125, 0.125] and shares[0, BELT, :, 1].tolist() == [0.0, 0.0]
    assert torch.allclose(shares.sum(1), torch.ones(1, 2, 2))
    assert weight[0].tolist() == [[1.0, 1.0], [1.0, 0.0]]
    with pytest.raises(ValueError, match="multiples of 8"):
        cell_shares(np.zeros((1, 12, 16), np.uint8), np.ones((1, 12, 16), bool))


def test_parse_loss_is_low_for_the_right_classes_and_zero_without_targets():
    shares = torch.zeros(1, 3, 2, 2)
    shares[:, 1] = 1.0
    right = torch.full((1, 3, 2, 2), -10.0)
    right[:, 1] = 10.0
    wrong = right.roll(1, dims=1)
    weight = torch.ones(1, 2, 2)
    assert float(parse_loss(right, shares, weight)) < 1e-3 < 10 < float(parse_loss(wrong, shares, weight))
    assert float(parse_loss(wrong, shares, torch.zeros(1, 2, 2))) == 0.0


def test_parse_samples_are_the_same_crops_with_their_label_maps(data_dir, tmp_path):
    records = load_ccp_records(data_dir, split="train")[:3]
    maps = load_class_maps(data_dir, records)
    assert len(maps) == 3
    dataset = PersonCropDataset(records, width=192, height=384, cache_dir=tmp_path, class_maps=maps)
    for seed in range(4):
        image, boxes, labels = dataset.sample(0, np.random.default_rng(seed))
        parsed = dataset.sample_with_parse(0, np.random.default_rng(seed))
        assert np.array_equal(parsed[0], image) and np.array_equal(parsed[1], boxes)
        class_map, known = parsed[3], parsed[4]
        assert class_map.shape == known.shape == (384, 192) and known.all()
        # The map moved with the crop (and the flip): each category's pixels lie in the union of its boxes.
        for label in np.unique(labels):
            covered = np.zeros((384, 192), bool)
            for x0, y0, x1, y1 in np.round(boxes[labels == label]).astype(int):
                covered[max(y0 - 1, 0) : y1 + 1, max(x0 - 1, 0) : x1 + 1] = True
            pixels = class_map == PARSER_CLASSES.index(CATEGORIES[label])
            assert pixels.any() and (pixels & covered).sum() >= 0.9 * pixels.sum()
    bare = PersonCropDataset(records, width=192, height=384, cache_dir=tmp_path)
    assert not bare.sample_with_parse(0)[4].any()


@pytest.mark.slow
def test_smoke_training_with_the_parse_loss_exports_the_plain_detector(data_dir, tmp_path, capsys):
    from converters.cli import main as convert_main
    from converters.train.checkpointing import load_checkpoint
    from edge_bml.manifest import load_manifest

    out, checkpoints = tmp_path / "detector", tmp_path / "checkpoints"
    argv = ["train", "detector", "--data", str(data_dir), "--out", str(out), "--smoke", "--parse-weight", "1"]
    argv += ["--init-from", "quantized_models/article_detector_fp32_onnx", "--copy-paste", "0.5"]
    argv += ["--checkpoints", str(checkpoints), "--cache", str(tmp_path / "cache")]
    assert convert_main(argv) == 0
    log = [json.loads(line) for line in (out / "training_log.jsonl").read_text().splitlines()]
    assert all(np.isfinite(entry["parse"]) and entry["parse"] > 0 for entry in log)
    state = load_checkpoint(checkpoints / "last.pt")
    assert "parse_head" in state and not any(name.startswith("parse") for name in state["model"])
    manifest = load_manifest(out)
    assert manifest.source["config"]["parse_weight"] == 1.0 and "parsing loss" in manifest.source["training_data"]
    shipped = load_manifest("quantized_models/article_detector_fp32_onnx")
    import onnx

    def shapes(variant):
        graph = onnx.load(str(variant.directory / variant.model_file)).graph
        return sorted((i.name, tuple(onnx.numpy_helper.to_array(i).shape)) for i in graph.initializer)

    assert len(shapes(manifest)) == len(shapes(shipped))
    # Resuming a run made with the parse loss without it (or the reverse) is refused, not silently mixed.
    fresh = tmp_path / "checkpoints_plain"
    plain = [a for a in argv if a not in ("--parse-weight", "1")]
    plain[plain.index(str(checkpoints))] = str(fresh)
    assert convert_main(plain) == 0
    assert convert_main([*argv[:-4], "--checkpoints", str(fresh), "--cache", str(tmp_path / "cache"), "--resume"]) == 2
    assert "trained without --parse-weight" in capsys.readouterr().err
