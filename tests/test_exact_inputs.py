"""Every model input comes only from exact paths (the same pixels on every CPU), and hashes as on aarch64.

OpenCV's float resamplers (``warpAffine``, ``remap``, ``resize`` other than ``INTER_LINEAR_EXACT`` and whole-
factor ``INTER_AREA``) round differently on x86 and ARM, and from one wheel to the next (issue #33: 5.1's
``warpAffine`` moved the detector's person crop on ARM). The first test fails as soon as a model input is
built through one of them; the second compares every model input with the hashes the emulated aarch64 run
recorded (``benchmarks/aarch64/check.sh`` rewrites them), so a wheel that moves pixels fails on x86 too.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge_bml.image_io import read_image
from edge_bml.input_hashes import VARIANTS, input_hashes, model_inputs, probe_photos
from edge_bml.manifest import load_manifest
from edge_bml.model_registry import models_dir
from edge_bml.resampling import resample_box_exact, resize_exact, warp_affine_exact
from edge_bml.stages.detector_crop import PAD_VALUE, CropBox, cut_crop

REFERENCE = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "aarch64_input_hashes.json"
CHANNEL_SWAPS = {cv2.COLOR_BGR2RGB, cv2.COLOR_RGB2BGR}


def _guard_opencv(monkeypatch) -> list[str]:
    """Record every OpenCV call whose rounding may depend on the CPU or the wheel."""
    inexact: list[str] = []
    resize, cvt_color = cv2.resize, cv2.cvtColor

    def guarded_resize(src, dsize, *args, interpolation=cv2.INTER_LINEAR, **kwargs):
        h, w = src.shape[:2]
        whole = dsize[0] > 0 and dsize[1] > 0 and w % dsize[0] == 0 and h % dsize[1] == 0
        if not (interpolation == cv2.INTER_LINEAR_EXACT or (interpolation == cv2.INTER_AREA and whole)):
            inexact.append(f"resize {w}x{h}->{dsize} interpolation={interpolation}")
        return resize(src, dsize, *args, interpolation=interpolation, **kwargs)

    def guarded_cvt_color(src, code, *args, **kwargs):
        if code not in CHANNEL_SWAPS:
            inexact.append(f"cvtColor code={code}")
        return cvt_color(src, code, *args, **kwargs)

    def forbidden(name):
        def call(*args, **kwargs):
            inexact.append(name)
            raise AssertionError(f"cv2.{name} builds a model input: its rounding differs between CPUs")

        return call

    monkeypatch.setattr(cv2, "resize", guarded_resize)
    monkeypatch.setattr(cv2, "cvtColor", guarded_cvt_color)
    for name in ("warpAffine", "warpPerspective", "remap"):
        monkeypatch.setattr(cv2, name, forbidden(name))
    return inexact


def test_every_model_input_is_built_by_exact_paths_only(monkeypatch, data_dir):
    manifests = [load_manifest(models_dir() / name) for name in VARIANTS]
    photos = probe_photos(data_dir / "ccp" / "annotations.json", 3)
    inexact = _guard_opencv(monkeypatch)
    built = []
    for info in photos:
        image = read_image(info["path"])
        for manifest in manifests:
            try:
                built += [f"{manifest.task}/{label}" for label, _ in model_inputs(manifest, image, info)]
            except AssertionError:
                pass  # recorded in inexact
    # Pose letterbox and rotated landmark ROI, detector and parser person crop and whole photo, embedder crop.
    assert (inexact, len(built)) == ([], 3 * (2 + 2 + 2 * 2 + 1 + 2))


def test_model_inputs_hash_as_on_aarch64(data_dir):
    reference = json.loads(REFERENCE.read_text())
    assert input_hashes(data_dir / "ccp" / "annotations.json", len(reference["photos"])) == reference["photos"]


def test_integer_crop_is_the_padded_slice_resized_exactly():
    image = np.random.default_rng(0).integers(0, 256, (300, 200, 3), dtype=np.uint8)
    padded = np.full((400, 200, 3), PAD_VALUE, np.uint8)
    padded[60:360, 40:200] = image[:, :160]  # the crop starts 40 px left of and 60 px above the photo
    out = cut_crop(image, CropBox(-40.0, -60.0, 160.0, 340.0), 96, 192)
    np.testing.assert_array_equal(out, resize_exact(padded, 96, 192))


def test_fractional_crop_follows_the_integer_crop_rule():
    # The same region cut through the fractional path (resample_box_exact) and the integer one (slice and
    # resize_exact): the same geometry and filter, apart from rounding.
    image = np.random.default_rng(1).integers(0, 256, (500, 400, 3), dtype=np.uint8)
    image = cv2.GaussianBlur(image, (0, 0), 3)  # photo-like: neighbouring pixels alike
    integer = cut_crop(image, CropBox(-20.0, 40.0, 220.0, 520.0), 96, 192)
    fractional = resample_box_exact(image, (-20.0, 40.0, 220.0, 520.0), 96, 192, pad_value=PAD_VALUE)
    assert np.abs(integer.astype(int) - fractional).max() <= 1


def test_fractional_crop_moves_its_content_by_the_fraction():
    # A bright block, the box shifted by a quarter pixel: the block's centre moves a quarter pixel the other way.
    image = np.zeros((200, 200, 3), np.uint8)
    image[80:120, 60:100] = 255
    out = resample_box_exact(image, (0.25, 0.0, 200.25, 200.0), 200, 200, pad_value=0).astype(float)[..., 0]
    centre_x = (np.indices(out.shape)[1] * out).sum() / out.sum() + 0.5
    assert centre_x == pytest.approx(80 - 0.25, abs=0.01)


def test_rotated_crop_samples_where_opencv_does():
    # warp_affine_exact keeps warpAffine's geometry (pixel centres at integers, bilinear); only the rounding of
    # the blend differs, by one level at most.
    image = cv2.GaussianBlur(np.random.default_rng(2).integers(0, 256, (300, 400, 3), dtype=np.uint8), (0, 0), 2)
    c, s = np.cos(0.4) * 1.7, np.sin(0.4) * 1.7
    matrix = np.array([[c, -s, 150.3], [s, c, 20.7]])
    opencv = cv2.warpAffine(image, matrix, (128, 128), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
    assert np.abs(warp_affine_exact(image, matrix, 128, 128).astype(int) - opencv).max() <= 1


def test_training_crops_are_the_runtime_crops(data_dir, tmp_path):
    # Detector training (unaugmented) reads exactly what the runtime feeds the detector for the same photo and
    # person box: the same margin, aspect, grid and integer-corner cut.
    from converters.train.detector_dataset import PersonCropDataset, load_ccp_records
    from edge_bml.stages.inputs import person_crop_input

    manifest = load_manifest(models_dir() / "article_detector_int8_tflite")
    records = load_ccp_records(data_dir, split="val")[:3]
    dataset = PersonCropDataset(records, width=manifest.input.width, height=manifest.input.height, cache_dir=tmp_path)
    for index, record in enumerate(records):
        photo, person = dataset.photos[index], record.person_box * dataset.scales[index]
        runtime, _ = person_crop_input(manifest, photo, person)
        np.testing.assert_array_equal(manifest.input.normalize(dataset.sample(index)[0]), runtime)
