"""One type says which runtime, precision and threads run a model; stage overrides inherit the rest."""

from __future__ import annotations

import pytest

from edge_bml.errors import BackendUnavailableError
from edge_bml.pipeline import LookOptions
from edge_bml.runtime_choice import RuntimeChoice
from edge_bml.stages.detector import ArticleDetector


def test_a_stage_override_inherits_what_it_leaves_unset():
    options = LookOptions(backend="openvino", threads=2, stages={"pose": RuntimeChoice(backend="litert")})
    assert options.choice("pose") == RuntimeChoice("litert", "auto", 2)
    assert options.choice("detector") == RuntimeChoice("openvino", "auto", 2)
    assert RuntimeChoice().variant_query == {"backend": "auto", "precision": "auto", "threads": None}


def test_bad_choices_are_refused_when_made():
    for bad in (dict(backend="cuda"), dict(precision="int4"), dict(threads=0)):
        with pytest.raises(BackendUnavailableError):
            RuntimeChoice(**bad)


def test_every_stage_factory_takes_a_runtime_choice():
    with ArticleDetector.create_from_choice(RuntimeChoice("onnxruntime", "fp32", 1)) as detector:
        assert detector.manifest.format == "onnx" and detector.manifest.precision == "fp32"
        assert detector.choice.manifest is detector.manifest
