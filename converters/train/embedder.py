"""``edge-bml-convert train embedder``: metric training of the article embedder, then FP32 ONNX export.

Two objectives:

- ``triplet``: anchor and positive are two views of one catalog item (a product shot and a
  street-like view); batch-hard negatives come from the same few categories drawn for the step.
  CCP ground-truth article crops join each batch as category-level anchors (positive: an item of
  their category). Strong colour jitter: the embedder learns category and shape, not colour.
- ``appearance``: the same product only. Anchor = the product photo with its garment on the
  neutral grey, positive = a street-like view of that garment; negatives = the other items of the
  step's one category. Colour and pattern are kept (``colour="mild"``); no CCP crops, no
  category loss (the detector and the per-category search separate categories). Supervised
  contrastive loss by default (``appearance_loss="triplet"``: batch-hard triplet instead).
  ``appearance_category_weight`` > 0 adds back today's CCP-crop category term (a measured option,
  off by default).

500 catalog items are held out for the instance-retrieval evaluation and recorded in the output.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from converters.train.checkpointing import exported_state, restore, resume_state, same_options, save_checkpoint
from converters.train.loop import RunClock, optimiser_step, seed_torch, set_learning_rates, warmup_cosine_scale
from edge_bml.catalog.progress import Progress
from edge_bml.errors import ManifestError, ModelNotFoundError

DEFAULT_WORK = Path("/tmp/edge_bml_cache/train_embedder")
OBJECTIVES = ("triplet", "appearance")
APPEARANCE_LOSSES = ("supcon", "triplet")
OPTIMIZER = "optimizer"  # this trainer's checkpoint key for the optimiser state (the others say "optimiser")


@dataclass(frozen=True)
class TrainConfig:
    """Options of one training run (recorded in the checkpoint and the manifest)."""

    catalog: str
    street: str
    out: str
    work: str
    size: int = 192
    steps: int = 700
    dims: int = 256
    categories_per_batch: int = 3
    items_per_category: int = 8
    crops_per_category: int = 3
    lr_head: float = 1e-3
    lr_backbone: float = 2e-4
    margin_instance: float = 0.2
    margin_category: float = 0.1
    category_weight: float = 0.5
    seed: int = 0
    holdout: int = 500
    checkpoint_every: int = 25
    catalog_limit: int | None = None
    street_limit: int | None = None
    backgrounds: int = 300
    backbone_weights: str | None = None
    objective: str = "triplet"
    appearance_loss: str = "supcon"
    temperature: float = 0.1
    appearance_categories: int = 1
    appearance_items: int = 20
    init_from: str | None = None
    appearance_category_weight: float = 0.0


def check_config(config: TrainConfig) -> None:
    """Reject unknown objective or loss names.

    Raises:
        ManifestError: ``objective`` or ``appearance_loss`` is not one of the known names.
    """
    if config.objective not in OBJECTIVES:
        raise ManifestError(f"objective must be one of {OBJECTIVES}, got {config.objective!r}")
    if config.appearance_loss not in APPEARANCE_LOSSES:
        raise ManifestError(f"appearance_loss must be one of {APPEARANCE_LOSSES}, got {config.appearance_loss!r}")


def smoke_config(config: TrainConfig) -> TrainConfig:
    """A run of a few steps on a few images: checks the whole path in well under a minute."""
    return TrainConfig(
        **{
            **asdict(config),
            "size": 96,
            "steps": 3,
            "items_per_category": 3,
            "appearance_items": 4,
            "crops_per_category": 2,
            "holdout": 20,
            "checkpoint_every": 2,
            "catalog_limit": 120,
            "street_limit": 8,
            "backgrounds": 6,
        }
    )


def _load_pools(config: TrainConfig):
    from converters.train.embedder_batches import TrainingPools
    from converters.train.embedder_dataset import (
        ccp_article_crops,
        holdout_ids,
        load_bytes,
        read_catalog_items,
        street_backgrounds,
    )

    items = read_catalog_items(Path(config.catalog))
    if config.catalog_limit:
        items = items[: config.catalog_limit]
    held = set(holdout_ids(items, count=config.holdout, seed=5096))
    train_items = [item for item in items if item.id not in held]
    photos = load_bytes(train_items)
    by_category: dict[str, list[str]] = {}
    for item in train_items:
        if item.id in photos:
            by_category.setdefault(item.category, []).append(item.id)
    if not by_category:
        raise ManifestError(f"no readable catalog photos under {config.catalog}")
    street = Path(config.street)
    if config.objective == "appearance":
        from converters.train.appearance_batches import AppearancePools, garment_masks

        if not (street / "tagged").is_dir():
            raise ManifestError(f"{street / 'tagged'} not found: --street must be the CCP folder")
        masks = garment_masks(photos, cache_tag=str(Path(config.catalog).resolve()))
        backgrounds = street_backgrounds(street, count=config.backgrounds)
        crops: dict[str, list] = {}
        if config.appearance_category_weight > 0:
            for category, crop in ccp_article_crops(
                street, split="train", categories=set(by_category), limit=config.street_limit
            ):
                crops.setdefault(category, []).append(crop)
        pools = AppearancePools(photos, masks, by_category, backgrounds, crops_by_category=crops)
        return pools, sorted(held), len(items)
    crops: dict[str, list] = {}
    for category, crop in ccp_article_crops(
        street, split="train", categories=set(by_category), limit=config.street_limit
    ):
        crops.setdefault(category, []).append(crop)
    backgrounds = street_backgrounds(street, count=config.backgrounds)
    return TrainingPools(photos, by_category, crops, backgrounds), sorted(held), len(items)


def _triplet_step_loss(net, batch, config: TrainConfig):
    import torch

    from converters.train.triplet_loss import batch_hard_triplet

    embeddings = net(torch.from_numpy(batch.images))
    items = torch.from_numpy(batch.item_labels)
    cats = torch.from_numpy(batch.category_labels)
    crop = torch.from_numpy(batch.is_crop)
    loss = torch.zeros(())
    for vectors in embeddings.values():
        views = vectors[~crop]
        loss = loss + batch_hard_triplet(
            views, items[~crop], views, items[~crop], margin=config.margin_instance, same_anchor_pool=True
        )
        if crop.any():
            loss = loss + config.category_weight * batch_hard_triplet(
                vectors[crop],
                cats[crop],
                vectors[~crop],
                cats[~crop],
                margin=config.margin_category,
                same_anchor_pool=False,
            )
    return loss


def _appearance_step_loss(net, batch, config: TrainConfig):
    import torch

    from converters.train.contrastive_loss import supervised_contrastive
    from converters.train.triplet_loss import batch_hard_triplet

    embeddings = net(torch.from_numpy(batch.images))
    items = torch.from_numpy(batch.item_labels)
    cats = torch.from_numpy(batch.category_labels)
    crop = torch.from_numpy(batch.is_crop)
    loss = torch.zeros(())
    for all_vectors in embeddings.values():
        vectors, labels = all_vectors[~crop], items[~crop]
        if config.appearance_loss == "supcon":
            loss = loss + supervised_contrastive(vectors, labels, temperature=config.temperature)
        else:
            loss = loss + batch_hard_triplet(
                vectors, labels, vectors, labels, margin=config.margin_instance, same_anchor_pool=True
            )
        if crop.any() and config.appearance_category_weight > 0:
            loss = loss + config.appearance_category_weight * batch_hard_triplet(
                all_vectors[crop],
                cats[crop],
                vectors,
                cats[~crop],
                margin=config.margin_category,
                same_anchor_pool=False,
            )
    return loss


def _draw(pools, config: TrainConfig, step: int):
    if config.objective == "appearance":
        from converters.train.appearance_batches import draw_appearance_batch

        return draw_appearance_batch(
            pools,
            seed=config.seed,
            step=step,
            size=config.size,
            categories_per_batch=config.appearance_categories,
            items_per_category=config.appearance_items,
            crops_per_category=config.crops_per_category if config.appearance_category_weight > 0 else 0,
        )
    from converters.train.embedder_batches import draw_batch

    return draw_batch(
        pools,
        seed=config.seed,
        step=step,
        size=config.size,
        categories_per_batch=config.categories_per_batch,
        items_per_category=config.items_per_category,
        crops_per_category=config.crops_per_category,
    )


def train_embedder(config: TrainConfig, *, resume: bool = False, max_minutes: float | None = None) -> Path:
    """Train, checkpoint every few steps, export the FP32 ONNX variant to ``config.out``.

    ``max_minutes`` ends training early (checkpoint saved, then export) on a busy machine.

    Raises:
        ManifestError: the catalog or street folder is missing or unusable, or an option is unknown.
        ModelNotFoundError: the backbone weights are missing.
        ModelLoadError: ``config.init_from`` is not an FP32 ONNX embedder variant of this network.
    """
    import numpy as np
    import torch

    from converters.train.embedder_export import export_embedder
    from converters.train.embedder_net import ArticleEmbedderNet
    from converters.train.torch_models.efficientnet_lite0 import load_efficientnet_lite0

    check_config(config)
    seed_torch(seed=config.seed)
    work = Path(config.work)
    work.mkdir(parents=True, exist_ok=True)
    checkpoint = work / "checkpoint.pt"
    net = ArticleEmbedderNet(load_efficientnet_lite0(config.backbone_weights))
    if config.init_from:
        from converters.train.embedder_onnx_init import load_onnx_embedder

        load_onnx_embedder(net, config.init_from)
    head_params = [p for p in net.heads.parameters()]
    trunk_params = [p for p in net.backbone.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(
        [{"params": head_params, "lr": config.lr_head}, {"params": trunk_params, "lr": config.lr_backbone}],
        weight_decay=1e-4,
    )
    start, history = 0, []
    state = resume_state(checkpoint, resume=resume, missing=None)
    if state is not None:
        # Options added since the checkpoint was written take their defaults; a resumed run may be
        # lengthened or shortened (the schedule follows the new total).
        if not same_options(asdict(TrainConfig(**state["config"])), asdict(config), ignore=("steps",)):
            raise ManifestError(f"{checkpoint} was made with other options; drop --resume or use another --work")
        restore(state, model=net, optimiser=optimizer, optimiser_key=OPTIMIZER)
        start, history = state["step"], state["history"]
    pools, held, catalog_count = _load_pools(config)
    net.train()
    progress = Progress(config.steps, label="train embedder", start=start)
    clock = RunClock(budget_minutes=max_minutes)
    for step in range(start, config.steps):
        batch = _draw(pools, config, step)
        scale = warmup_cosine_scale(step, total=config.steps)
        set_learning_rates(optimizer, [base * scale for base in (config.lr_head, config.lr_backbone)])
        step_loss = _appearance_step_loss if config.objective == "appearance" else _triplet_step_loss
        loss = step_loss(net, batch, config)
        optimiser_step(optimizer, loss)
        history.append(float(loss.detach()))
        recent = float(np.mean(history[-20:]))
        progress.update(note=f"loss {recent:.4f}")
        out_of_time = clock.out_of_time()
        if (step + 1) % config.checkpoint_every == 0 or step + 1 == config.steps or out_of_time:
            save_checkpoint(
                checkpoint,
                config=config,
                model=net,
                optimiser=optimizer,
                optimiser_key=OPTIMIZER,
                step=step + 1,
                history=history,
            )
        if out_of_time:
            print(f"\nstopping at step {step + 1} of {config.steps}: --max-minutes reached", flush=True)
            break
    progress.close()
    training = {
        "config": asdict(config),
        "steps": len(history),
        "final_loss_mean_last_20": float(np.mean(history[-20:])) if history else None,
        "seconds_this_session": round(clock.session_seconds, 1),
        "holdout": {"seed": 5096, "count": len(held), "of_items": catalog_count, "file": "holdout_ids.json"},
    }
    (work / "training.json").write_text(json.dumps(training, indent=2))
    return export_embedder(net.eval(), config=config, holdout=held, training=training)


def export_from_checkpoint(config: TrainConfig) -> Path:
    """Export the last checkpoint of ``config.work`` (any head size) without training further.

    Raises:
        ModelNotFoundError: there is no checkpoint in ``config.work``.
    """
    from converters.train.embedder_export import export_embedder
    from converters.train.embedder_net import ArticleEmbedderNet
    from converters.train.torch_models.efficientnet_lite0 import load_efficientnet_lite0

    checkpoint = Path(config.work) / "checkpoint.pt"
    state = exported_state(checkpoint, missing=ModelNotFoundError)
    net = ArticleEmbedderNet(load_efficientnet_lite0(config.backbone_weights))
    net.load_state_dict(state["model"])
    trained = TrainConfig(**{**state["config"], "out": config.out, "dims": config.dims})
    items = read_catalog_items_for_holdout(trained)
    training = {"config": state["config"], "steps": state["step"], "exported_from": str(checkpoint)}
    training_file = Path(config.work) / "training.json"
    if training_file.is_file():
        training = {**json.loads(training_file.read_text()), **training}
    return export_embedder(net.eval(), config=trained, holdout=items, training=training)


def read_catalog_items_for_holdout(config: TrainConfig) -> list[str]:
    """The held-out ids of a run, recomputed from its catalog and options."""
    from converters.train.embedder_dataset import holdout_ids, read_catalog_items

    items = read_catalog_items(Path(config.catalog))
    if config.catalog_limit:
        items = items[: config.catalog_limit]
    return holdout_ids(items, count=config.holdout, seed=5096)
