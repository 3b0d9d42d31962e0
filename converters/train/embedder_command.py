"""Arguments of ``edge-bml-convert train embedder`` and what they run."""

from __future__ import annotations

import argparse
from functools import partial

from converters.train.command import add_flag, train_or_export, train_subparsers, work_folder
from converters.train.embedder import APPEARANCE_LOSSES, OBJECTIVES
from edge_bml.errors import EdgeBmlError


def _run(args: argparse.Namespace) -> int:
    import cv2
    import torch

    from converters.train.embedder import (
        DEFAULT_WORK,
        TrainConfig,
        export_from_checkpoint,
        smoke_config,
        train_embedder,
    )

    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    if args.plain_backbone:
        from converters.train.embedder_export import export_backbone

        print(f"wrote {export_backbone(args.out, size=args.size, weights=args.backbone_weights)}")
        return 0
    if not (args.catalog and args.street):
        raise EdgeBmlError("train embedder: --catalog and --street are required to train (not with --plain-backbone)")
    config = TrainConfig(
        catalog=args.catalog,
        street=args.street,
        out=args.out,
        work=work_folder(args.work, out=args.out, root=DEFAULT_WORK),
        size=args.size,
        steps=args.steps,
        dims=args.dims,
        seed=args.seed,
        backbone_weights=args.backbone_weights,
        objective=args.objective,
        appearance_loss=args.appearance_loss,
        temperature=args.temperature,
        appearance_items=args.appearance_items,
        appearance_categories=args.appearance_categories,
        init_from=args.init_from,
        appearance_category_weight=args.appearance_category_weight,
    )
    return train_or_export(
        args,
        config,
        smoke_config=smoke_config,
        export=export_from_checkpoint,
        train=partial(train_embedder, resume=args.resume, max_minutes=args.max_minutes),
    )


def add_train_embedder_parser(commands: argparse._SubParsersAction) -> None:
    """Register ``train embedder`` under the shared ``train`` command."""
    parser = train_subparsers(commands).add_parser(
        "embedder", help="metric-train the article embedder (triplet or appearance), export FP32 ONNX + manifest"
    )
    parser.add_argument("--catalog", help="catalog folder with items.csv and images/ (required to train)")
    parser.add_argument("--street", help="CCP folder (annotations.json, photos/, tagged/; required to train)")
    parser.add_argument("--out", required=True, help="variant folder to write, e.g. quantized_models/NAME")
    parser.add_argument("--work", help="checkpoints folder (default /tmp/edge_bml_cache/train_embedder/NAME)")
    parser.add_argument("--size", type=int, default=192, help="input size in pixels (default 192)")
    parser.add_argument("--steps", type=int, default=600, help="training steps (default 600)")
    parser.add_argument("--dims", type=int, choices=(128, 256), default=256, help="exported vector size")
    add_flag(parser, "--seed")
    parser.add_argument(
        "--objective",
        choices=OBJECTIVES,
        default="triplet",
        help="triplet: same category, colour-blind (default); appearance: same product, colour and pattern kept",
    )
    parser.add_argument(
        "--appearance-loss",
        choices=APPEARANCE_LOSSES,
        default="supcon",
        help="appearance objective: supervised contrastive (default) or batch-hard triplet",
    )
    parser.add_argument(
        "--temperature", type=float, default=0.1, help="supervised contrastive temperature (default 0.1)"
    )
    parser.add_argument(
        "--appearance-items", type=int, default=20, help="appearance objective: items per category, 2 views each"
    )
    parser.add_argument(
        "--appearance-categories", type=int, default=1, help="appearance objective: categories per batch (default 1)"
    )
    parser.add_argument(
        "--appearance-category-weight",
        type=float,
        default=0.0,
        help="appearance objective: weight of the CCP-crop category triplet term (default 0: none)",
    )
    parser.add_argument(
        "--init-from", help="start from this FP32 ONNX embedder variant's weights (default: the ImageNet backbone)"
    )
    add_flag(parser, "--threads", help="torch CPU threads (default 1)")
    parser.add_argument("--backbone-weights", help="efficientnet-lite0-57934424.pth (default: from its package)")
    add_flag(parser, "--smoke", help="a few steps on a few images (tests)")
    add_flag(parser, "--resume", help="continue from the last checkpoint in --work")
    add_flag(parser, "--max-minutes", help="stop training after this long, then export")
    add_flag(parser, "--export-only", help="export the last checkpoint, no training")
    parser.add_argument(
        "--plain-backbone", action="store_true", help="export the untrained pooled backbone (the baseline)"
    )
    parser.set_defaults(func=_run)
