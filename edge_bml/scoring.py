"""``edge_bml.evaluate(images, annotations)``: the whole look, predicted and scored in one call."""

from __future__ import annotations

from pathlib import Path

from edge_bml.evaluation.look_eval import evaluate_look
from edge_bml.pipeline import LookOptions, LookPipeline


def evaluate(
    images: list, annotations: list[dict], *, catalog: str | Path | None = None, options: LookOptions | None = None
) -> dict:
    """Run the look on each image and score it against its CCP-format annotation (``objects``).

    Raises:
        ValueError: images and annotations differ in length; the model and catalog errors of ``LookPipeline``.
    """
    options = options or LookOptions(catalog=Path(catalog) if catalog else None)
    with LookPipeline(options) as pipeline:
        return evaluate_look(pipeline, images, annotations)
