"""The garment parser: CCP label mapping, the shipped FP32 variant on CCP val, masks, a smoke training run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge_bml.data_fetch.parser_labels import ARTICLE_CLASSES, PARSER_CLASSES, ccp_lookup, fine_to_class
from edge_bml.manifest import load_manifest
from edge_bml.stages.parser import GarmentParser, ParseResult

SHIPPED = Path(__file__).resolve().parent.parent / "quantized_models" / "garment_parser_fp32_onnx"


def test_classes_are_in_the_agreed_order():
    assert PARSER_CLASSES == (
        "background",
        "skin",
        "hair",
        "top",
        "outerwear",
        "dress",
        "pants",
        "shorts",
        "skirt",
        "footwear",
        "bag",
        "hat",
        "eyewear",
        "belt",
        "scarf",
    )


def test_mapping_covers_every_ccp_fine_label(ccp_annotations):
    labels, categories = ccp_annotations["labels"], ccp_annotations["categories"]
    assert len(labels) == 59
    mapping = fine_to_class(labels, categories)
    assert set(mapping) == set(labels) and set(mapping.values()) <= set(PARSER_CLASSES)
    for category, fines in categories.items():
        assert all(mapping[fine] == category for fine in fines)
    assert mapping["skin"] == "skin" and mapping["hair"] == "hair" and mapping["null"] == "background"
    in_a_category = {fine for fines in categories.values() for fine in fines}
    leftovers = {label for label in labels if label not in in_a_category | {"skin", "hair"}}
    assert {"socks", "stockings", "accessories", "necklace"} <= leftovers
    assert all(mapping[label] == "background" for label in leftovers)
    table = ccp_lookup(labels, categories)
    assert table[labels.index("jeans")] == PARSER_CLASSES.index("pants")
    assert table[labels.index("sunglasses")] == PARSER_CLASSES.index("eyewear")
    assert table[200] == 0


def test_a_category_outside_the_classes_is_refused():
    with pytest.raises(ValueError, match="not a parser class"):
        fine_to_class(["null", "cape"], {"cloak": ["cape"]})


def test_mask_is_the_category_in_photo_or_box_coordinates():
    labels = np.zeros((40, 30), np.uint8)
    labels[10:20, 5:15] = PARSER_CLASSES.index("top")
    result = ParseResult(labels, PARSER_CLASSES, np.zeros(len(PARSER_CLASSES), np.float32))
    assert result.mask("top").shape == (40, 30) and result.mask("top").sum() == 100
    inside = result.mask("top", np.array([4.5, 8.0, 16.2, 25.0]))
    assert inside.shape == (17, 13) and inside.sum() == 100
    assert result.mask("top", np.array([-10, -10, 100, 100])).shape == (40, 30)
    assert result.fraction("top") == pytest.approx(100 / 1200)
    with pytest.raises(ValueError, match="unknown parser class"):
        result.mask("cape")
    with pytest.raises(ValueError, match="finite"):
        result.mask("top", np.array([0, 0, np.nan, 3]))


@pytest.fixture(scope="module")
def shipped_parser():
    if not (SHIPPED / "manifest.json").is_file():
        pytest.skip(f"no shipped parser at {SHIPPED}")
    manifest = load_manifest(SHIPPED)
    with GarmentParser(manifest, threads=1) as parser:
        yield parser


def test_shipped_parser_labels_ccp_val_photos(shipped_parser, ccp_val, ccp_annotations):
    from edge_bml.evaluation.parser_eval import read_ground_truth
    from edge_bml.image_io import read_image

    manifest = shipped_parser.manifest
    assert manifest.task == "parser" and manifest.labels == PARSER_CLASSES
    assert manifest.decoder["person_crop_margin"] == 0.08
    table = ccp_lookup(ccp_annotations["labels"], ccp_annotations["categories"])
    for image_info in ccp_val[:3]:
        image = read_image(image_info["path"])
        result = shipped_parser(image, np.asarray(image_info["person_box"], np.float32))
        assert result.labels.shape == image.shape[:2] and result.labels.dtype == np.uint8
        truth = read_ground_truth(image_info, table)
        accuracy = float((result.labels == truth).mean())
        assert accuracy > 0.7, f"{image_info['file']}: pixel accuracy {accuracy:.3f}"
        assert result.scores.shape == (len(PARSER_CLASSES),) and 0 <= result.scores.min() <= result.scores.max() <= 1
        box = image_info["objects"][0]["box"]
        assert result.mask(image_info["objects"][0]["category"], np.asarray(box)).shape == (
            box[3] - box[1],
            box[2] - box[0],
        )
    # Outside the person crop, everything is background.
    from edge_bml.stages.detector_crop import CROP_GRID_PX, person_crop_box

    x0, y0 = ccp_val[0]["person_box"][:2]
    small_box = np.array([x0, y0, x0 + 30, y0 + 60], np.float32)
    aspect = manifest.input.width / manifest.input.height
    crop = person_crop_box(small_box, aspect=aspect, margin=0.08).snapped(CROP_GRID_PX, aspect=aspect)
    labels = shipped_parser(read_image(ccp_val[0]["path"]), small_box).labels
    outside = np.ones(labels.shape, bool)
    outside[max(0, int(crop.y0)) : int(np.ceil(crop.y1)) + 1, max(0, int(crop.x0)) : int(np.ceil(crop.x1)) + 1] = False
    assert outside.sum() > labels.size // 2 and not labels[outside].any()


def test_parser_evaluation_scores_masks_and_boxes(shipped_parser, ccp_val):
    from edge_bml.evaluation.parser_eval import evaluate_parser

    result = evaluate_parser(shipped_parser, ccp_val[:2], person_box="annotated", progress=False)
    assert 0.7 < result["pixel_accuracy"] <= 1 and 0 < result["miou"] <= 1
    assert result["images"] == 2 and set(result["iou_per_class"]) <= set(PARSER_CLASSES)
    assert set(result["mask_boxes"]["ap50_per_category_softmax"]) <= set(ARTICLE_CLASSES)
    with pytest.raises(ValueError, match="pose estimator"):
        evaluate_parser(shipped_parser, ccp_val[:1], person_box="pose")


def test_parser_validation_passes_on_miou_or_agreement():
    from converters.quantize.validator import Thresholds, parser_failures

    figures = {"miou_fp32": 0.5, "miou_int8": 0.45, "miou_drop": 0.05, "pixel_agreement_foreground": 0.9}
    assert parser_failures(figures, Thresholds()) and "mIoU drops" in parser_failures(figures, Thresholds())[0]
    assert parser_failures({**figures, "pixel_agreement_foreground": 0.98}, Thresholds()) == []
    assert parser_failures({**figures, "miou_drop": 0.01}, Thresholds()) == []


def test_smoke_training_exports_a_parser_the_runtime_runs(data_dir, ccp_val, tmp_path):
    pytest.importorskip("torch")
    from converters.cli import main as convert_main
    from converters.fetch.backbone_weights import BackboneWeightsError
    from converters.train.parser import weights_source
    from edge_bml.image_io import read_image

    try:
        weights = weights_source(None)
    except BackboneWeightsError as error:
        pytest.skip(f"MobileNetV2 weights neither cached nor downloadable: {error}")
    out, work = tmp_path / "garment_parser_smoke", tmp_path / "work"
    argv = ["train", "parser", "--data", str(data_dir), "--out", str(out), "--work", str(work), "--smoke"]
    argv += ["--weights", str(weights)]
    assert convert_main(argv) == 0
    manifest = load_manifest(out)
    manifest.verify()
    assert manifest.task == "parser" and manifest.labels == PARSER_CLASSES
    assert manifest.source["config"]["smoke"] is True and manifest.decoder["output_stride"] == 4
    assert (manifest.input.width, manifest.input.height) == (96, 128)
    photo = read_image(ccp_val[0]["path"])
    with GarmentParser(manifest, threads=1) as parser:
        result = parser(photo, np.asarray(ccp_val[0]["person_box"], np.float32))
        logits = parser.infer(parser.preprocess(photo)[0])["logits"]
    assert result.labels.shape == photo.shape[:2]
    assert logits.shape == (1, len(PARSER_CLASSES), 128 // 4, 96 // 4)
    # A finished run resumed only re-exports.
    assert convert_main([*argv, "--resume"]) == 0
    assert load_manifest(out).source["training"]["steps"] == 2
