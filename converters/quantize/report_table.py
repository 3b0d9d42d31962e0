"""``edge-bml-convert report DIR``: one table of every model x format x precision: size, accuracy, latency.

INT8 rows compare with the FP32 latencies measured in the same run (their ``metrics.validation``);
where INT8 is not faster on this machine the last column says so.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from converters.quantize.report_markdown import speed_note
from edge_bml.manifest import ModelManifest
from edge_bml.model_registry import list_manifests

COLUMNS = (
    "variant",
    "task",
    "format",
    "precision",
    "size MB",
    "accuracy vs FP32",
    "ms 1 thr",
    "ms 2 thr",
    "INT8 vs FP32",
)


def accuracy_summary(manifest: ModelManifest) -> str:
    """The validation verdict and the task figures that decided it, in a few words."""
    validation = manifest.metrics.get("validation")
    if not validation:
        return "reference" if manifest.precision == "fp32" else "not validated"
    task = validation.get("task", {})
    parts = ["passed" if validation.get("passed") else "FAILED"]
    if task.get("landmark_error_mean_torso") is not None:
        parts.append(f"landmarks {task['landmark_error_mean_torso']:.2%} torso")
    if "shot_same_fraction" in task:
        parts.append(f"shot same {task['shot_same_fraction']:.1%}")
    for key, value in task.items():
        if key.startswith("top") and key.endswith("_overlap"):
            parts.append(f"{key} {value:.3f}")
    if "mean_cosine_to_fp32" in task:
        parts.append(f"cosine {task['mean_cosine_to_fp32']:.4f}")
    pipeline = manifest.metrics.get("pose_pipeline")
    if pipeline and pipeline.get("landmark_error_mean_torso") is not None:
        parts.append(
            f"whole INT8 pose ({pipeline['photos']} photos): landmarks {pipeline['landmark_error_mean_torso']:.2%} "
            f"torso, shot same {pipeline['shot_same_fraction']:.1%}"
        )
    return ", ".join(parts)


def table_rows(root: Path) -> list[tuple[str, ...]]:
    """One row per variant under ``root``, sorted by task, format, precision."""
    rows = []
    for manifest in sorted(list_manifests(root), key=lambda m: (m.task, m.format, m.precision, m.name)):
        metrics = manifest.metrics
        latency = metrics.get("latency_ms", {})
        size = metrics.get("size_bytes")
        note = ""
        if manifest.precision != "fp32":
            same_run = metrics.get("validation", {}).get("latency_ms", {})
            notes = [
                speed_note(same_run.get("fp32", {}).get(key), same_run.get("int8", {}).get(key))
                for key in ("threads_1", "threads_2")
            ]
            note = f"1 thr {notes[0]}; 2 thr {notes[1]}"
        rows.append(
            (
                manifest.name,
                manifest.task,
                manifest.format,
                manifest.precision,
                f"{size / 1e6:.2f}" if isinstance(size, (int, float)) else "-",
                accuracy_summary(manifest),
                str(latency.get("threads_1", "-")),
                str(latency.get("threads_2", "-")),
                note,
            )
        )
    return rows


def render_table(root: Path) -> str:
    """The Markdown table of every variant under ``root``."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(row) + " |" for row in table_rows(root)]
    return "\n".join(lines)


def add_report_parser(commands) -> None:
    """Register ``report`` on the ``edge-bml-convert`` subparsers."""
    parser = commands.add_parser("report", help="table of every model variant: size, accuracy, latency")
    parser.add_argument("models", type=Path, help="the models folder, e.g. quantized_models/")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    print(render_table(args.models))
    return 0
