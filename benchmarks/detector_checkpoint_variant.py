"""Ablations of a detector training run: a variant folder from a checkpoint's other weights, or from a
weight average of the run with another FP32 ONNX variant (README, *Article detector*: the fourth round).

    .venv/bin/python -m benchmarks.detector_checkpoint_variant CHECKPOINT.pt [CHECKPOINT.pt ...] --like RUN_VARIANT
        --out DIR [--entry last_step_model] [--soup-with quantized_models/article_detector_fp32_onnx --soup-share 0.5]

Several checkpoints (runs of one network, any input size) are averaged uniformly first; ``--soup-with``
then mixes that average with an FP32 ONNX variant, the checkpoints' average taking ``--soup-share``
(2/3 with two checkpoints makes a uniform soup of three).

``--like`` is the run's exported FP32 ONNX variant (its manifest is copied, with the new model's sha256
and no metrics); then ``edge-bml-convert tune-thresholds DIR --data ../shared/data`` measures it.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
from pathlib import Path

from converters.train.checkpointing import load_checkpoint
from converters.train.detector import MODEL_FILE, export_onnx
from converters.train.detector_onnx_init import load_onnx_detector
from converters.train.torch_models.article_detector import ArticleDetector
from edge_bml.manifest import load_manifest, sha256_file, write_manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", type=Path, nargs="+", help="the run's last.pt (several: their average)")
    parser.add_argument("--like", type=Path, required=True, help="the run's exported FP32 ONNX variant folder")
    parser.add_argument("--out", type=Path, required=True, help="variant folder to write (outside the repository)")
    parser.add_argument("--entry", default="model", help="checkpoint entry: model (default) or last_step_model")
    parser.add_argument("--soup-with", type=Path, help="an FP32 ONNX detector variant to average with")
    parser.add_argument("--soup-share", type=float, default=0.5, help="the checkpoints' share of the average")
    args = parser.parse_args(argv)
    if not 0.0 < args.soup_share <= 1.0:
        parser.error(f"--soup-share must be in (0, 1], got {args.soup_share}")

    like = load_manifest(args.like)
    model = ArticleDetector(num_classes=len(like.labels), width=like.input.width, height=like.input.height)
    runs = [load_checkpoint(path)[args.entry] for path in args.checkpoints]
    weights = {
        name: sum(run[name] for run in runs) / len(runs) if value.dtype.is_floating_point else value
        for name, value in runs[0].items()
    }
    if args.soup_with:
        load_onnx_detector(model, args.soup_with)
        share = args.soup_share
        weights = {
            name: (1 - share) * value + share * weights[name] if value.dtype.is_floating_point else value
            for name, value in model.state_dict().items()
        }
    model.load_state_dict(weights)
    if args.out.exists():
        shutil.rmtree(args.out)
    shutil.copytree(args.like, args.out)
    export_onnx(model, args.out / MODEL_FILE, width=like.input.width, height=like.input.height)
    sha256 = {MODEL_FILE: sha256_file(args.out / MODEL_FILE)}
    write_manifest(dataclasses.replace(load_manifest(args.out), name=args.out.name, sha256=sha256, metrics={}))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
