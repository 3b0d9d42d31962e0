"""Write an embedder variant folder: FP32 ONNX (dynamic batch) + manifest, atomically."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from converters.atomic_dir import atomic_directory
from edge_bml.manifest import InputSpec, ModelManifest, sha256_file, write_manifest

MODEL_FILE = "embedder.onnx"
INPUT_NAME = "image"
OUTPUT_NAME = "embedding"


def _export_onnx(module, path: Path, size: int) -> None:
    import torch

    example = torch.zeros(2, 3, size, size)
    torch.onnx.export(
        module.eval(),
        (example,),
        str(path),
        input_names=[INPUT_NAME],
        output_names=[OUTPUT_NAME],
        dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
        opset_version=17,
        dynamo=False,
    )


def write_variant(
    module,
    out: str | Path,
    *,
    name: str,
    size: int,
    dims: int,
    source: dict[str, Any],
    extra_files: dict[str, Any],
    decoder_extra: dict[str, Any] | None = None,
) -> Path:
    """Export ``module`` (NCHW normalised image -> unit vectors) into a fresh variant folder ``out``.

    ``decoder_extra`` adds keys to the manifest's ``decoder`` (e.g. ``foreground_fill``).

    Raises:
        OSError: the folder cannot be written (an earlier variant there is left intact).
    """
    from converters.train.embedder_batches import MEAN, STD

    out = Path(out)
    with atomic_directory(out) as staging:
        _export_onnx(module, staging / MODEL_FILE, size)
        for file_name, data in extra_files.items():
            (staging / file_name).write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
        manifest = ModelManifest(
            name=name,
            task="embedder",
            format="onnx",
            precision="fp32",
            model_file=MODEL_FILE,
            sha256={MODEL_FILE: sha256_file(staging / MODEL_FILE)},
            input=InputSpec(
                width=size,
                height=size,
                layout="NCHW",
                color="RGB",
                mean=MEAN,
                std=STD,
                resize="letterbox",
                name=INPUT_NAME,
            ),
            outputs={"embedding": OUTPUT_NAME},
            decoder={"dims": dims, "metric": "cos", "normalized": True, "pad_value": 124, **(decoder_extra or {})},
            source=source,
            license="Apache-2.0 (EfficientNet-Lite0 ImageNet weights); trained on CC0 clothing + Apache-2.0 CCP",
            directory=staging,
        )
        write_manifest(manifest)
    return out


def export_embedder(net, *, config, holdout: list[str], training: dict[str, Any]) -> Path:
    """The trained model with the ``config.dims`` head.

    An ``appearance`` model was trained on garments on the neutral grey, so its manifest asks
    for ``foreground_fill``: catalog photos (and article crops where a mask exists) get it too.
    """
    from converters.train.embedder_net import ExportedEmbedder

    objective = getattr(config, "objective", "triplet")
    return write_variant(
        ExportedEmbedder(net, config.dims),
        config.out,
        name=Path(config.out).name,
        size=config.size,
        dims=config.dims,
        source={"kind": objective, "backbone": "efficientnet-lite0 (ImageNet)", "training": training},
        extra_files={"holdout_ids.json": {"seed": 5096, "ids": holdout}, "train_config.json": asdict(config)},
        decoder_extra={"foreground_fill": True} if objective == "appearance" else None,
    )


def export_backbone(out: str | Path, *, size: int, weights: str | None = None) -> Path:
    """The plain ImageNet baseline (pooled 1280-d features) as an embedder variant.

    Raises:
        ModelNotFoundError: the backbone weights are missing.
    """
    from converters.train.embedder_net import PooledBackbone
    from converters.train.torch_models.efficientnet_lite0 import FEATURE_DIMS, load_efficientnet_lite0

    return write_variant(
        PooledBackbone(load_efficientnet_lite0(weights)),
        out,
        name=Path(out).name,
        size=size,
        dims=FEATURE_DIMS,
        source={"kind": "plain-backbone", "backbone": "efficientnet-lite0 (ImageNet), global average pool"},
        extra_files={},
    )
