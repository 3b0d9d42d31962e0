"""Charts of the benchmark report, one per question, readable at a glance (matplotlib, Agg).

- ``latency_look_by_stage.png``: the whole look by stage, a stacked bar per precision and thread count;
- ``latency_int8_vs_fp32.png``: each model's median at 2 threads, FP32 beside INT8, per backend;
- ``latency_vs_mediapipe.png``: edge_bml's pose stage and whole look against MediaPipe's pose solution.
Each returns False where its rows are absent or matplotlib is missing.
"""

from __future__ import annotations

from pathlib import Path

STAGE_ORDER = ("decode", "pose_detect", "pose_landmarks", "pose_classify", "detect", "parse", "embed", "search")
MODEL_GROUPS = (
    ("pose_detect", "pose detection"),
    ("pose_landmarks", "pose landmarks"),
    ("article_detector", "article detector"),
    ("article_embedder", "embedder (batch)"),
)


def _latest(rows: list[dict], group: str) -> list[dict]:
    """The rows of ``group`` from the newest run that has it (runs of other machines are not mixed)."""
    members = [r for r in rows if r["group"] == group]
    if not members:
        return []
    newest = max(r.get("datetime") or "" for r in members)
    return [r for r in members if (r.get("datetime") or "") == newest]


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def look_by_stage(rows: list[dict], path: Path) -> bool:
    """Stacked bars: where the whole look's time goes, per precision/threads choice."""
    plt = _pyplot()
    looks = [r for r in _latest(rows, "whole_look") if r["extra"].get("stage_median_ms")]
    if plt is None or not looks:
        return False
    looks.sort(key=lambda r: (str(r["params"].get("precision")), r["params"].get("threads", 0)))
    labels = [f"{r['params'].get('precision')}, {r['params'].get('threads')} thr" for r in looks]
    figure, axis = plt.subplots(figsize=(9, 0.6 * len(looks) + 1.8))
    left = [0.0] * len(looks)
    for index, stage in enumerate(STAGE_ORDER):
        values = [float(r["extra"]["stage_median_ms"].get(stage, 0.0)) for r in looks]
        if not any(values):
            continue
        axis.barh(labels, values, left=left, label=stage, color=plt.cm.tab10(index % 10))
        left = [a + b for a, b in zip(left, values, strict=True)]
    for y, r in enumerate(looks):
        axis.text(left[y] + 1, y, f"{r['median']:.0f} ms", va="center", fontsize=8)
    axis.invert_yaxis()
    axis.set_xlabel("median ms per look (stage medians stacked; the label is the whole look's median)")
    axis.set_title(f"Where the whole look's time goes ({looks[0].get('datetime', '')[:10]})")
    axis.legend(ncol=4, fontsize=8, loc="lower right")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True


def int8_vs_fp32(rows: list[dict], path: Path, *, threads: int = 2) -> bool:
    """Grouped bars: FP32 beside INT8 for each model and backend, at ``threads``."""
    plt = _pyplot()
    if plt is None:
        return False
    bars = []
    for group, title in MODEL_GROUPS:
        for backend in ("litert", "onnxruntime", "openvino"):
            pair = {}
            for r in rows:
                p = r["params"]
                if r["group"] == group and p.get("backend") == backend and p.get("threads") == threads:
                    pair[p.get("precision")] = r["median"]
            if "fp32" in pair and "int8" in pair:
                bars.append((f"{title}\n{backend}", pair["fp32"], pair["int8"]))
    if not bars:
        return False
    figure, axis = plt.subplots(figsize=(max(8, 1.1 * len(bars)), 4.5))
    xs = range(len(bars))
    axis.bar([x - 0.2 for x in xs], [b[1] for b in bars], width=0.4, label="FP32", color="#9aa5b1")
    axis.bar([x + 0.2 for x in xs], [b[2] for b in bars], width=0.4, label="INT8", color="#2f6fb0")
    for x, (_, fp32, int8) in zip(xs, bars, strict=True):
        axis.text(x + 0.2, int8, f"{int8 / fp32:.2f}x", ha="center", va="bottom", fontsize=7)
    axis.set_xticks(list(xs), [b[0] for b in bars], fontsize=7)
    axis.set_ylabel(f"median ms, {threads} threads")
    axis.set_title("INT8 against FP32 per model and runtime (label: INT8 / FP32)")
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True


def _reference_label(row: dict) -> str:
    """A bar's name in words: which pipeline, which models, mirror pass or not, how many threads."""
    params = row.get("params") or {}
    threads = params.get("threads")
    if "mediapipe" in row["name"]:
        return "MediaPipe pose solution"
    if row["group"] != "pose_reference":
        return f"edge_bml whole look, {threads} thread{'s' if threads != 1 else ''}"
    models = {"auto": "auto models", "fp32_litert": "FP32 LiteRT"}.get(params.get("choice"), "models as shipped")
    passes = "mirror average" if params.get("mirror_average") else "single pass"
    return f"edge_bml pose, {models}, {passes}, {threads} thread{'s' if threads != 1 else ''}"


def against_mediapipe(rows: list[dict], path: Path) -> bool:
    """Bars: MediaPipe's pose solution, edge_bml's pose stage and whole look, from the reference run."""
    plt = _pyplot()
    reference = _latest(rows, "pose_reference")
    if plt is None or not reference:
        return False
    same_run = [r for r in _latest(rows, "whole_look") if r.get("datetime") == reference[0].get("datetime")]
    looks = [r for r in same_run if r["params"].get("precision") == "auto"]
    # The worker pipe's own round trip is measured to show it is negligible, not as a rival: left out.
    rows_shown = [r for r in reference + looks if "pipe_overhead" not in r["name"]]
    labels, values = [], []
    for r in sorted(rows_shown, key=lambda r: r["median"]):
        labels.append(_reference_label(r))
        values.append(r["median"])
    figure, axis = plt.subplots(figsize=(9, 0.5 * len(labels) + 1.5))
    colours = ["#d9822b" if "MediaPipe" in label else "#2f6fb0" for label in labels]
    axis.barh(labels, values, color=colours)
    for y, value in enumerate(values):
        axis.text(value + 0.5, y, f"{value:.1f} ms", va="center", fontsize=8)
    axis.invert_yaxis()
    axis.set_xlabel("median ms per photo, same photos, same run")
    axis.set_title(
        f"edge_bml against MediaPipe's pose solution (orange), {reference[0].get('datetime', '')[:10]}", fontsize=10
    )
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True


def detector_plots(metrics: dict, confusion: dict | None, path: Path) -> bool:
    """Per-category AP@0.5 bars (FP32 and the INT8 variants) and, with ``confusion``, detected against true."""
    plt = _pyplot()
    if plt is None or not metrics:
        return False
    panels = 2 if confusion else 1
    figure, axes = plt.subplots(1, panels, figsize=(7 * panels, 5))
    axes = axes if panels > 1 else [axes]
    names = list(next(iter(metrics.values())).keys())
    width = 0.8 / len(metrics)
    for i, (variant, per_category) in enumerate(metrics.items()):
        axes[0].bar(
            [x + i * width for x in range(len(names))], [per_category[n] for n in names], width=width, label=variant
        )
    axes[0].set_xticks([x + 0.4 - width / 2 for x in range(len(names))], names, rotation=45, ha="right")
    axes[0].set_ylabel("AP@0.5, CCP val, pose-stage person crop")
    axes[0].set_ylim(0, 1)
    axes[0].legend(fontsize=7)
    axes[0].set_title("Article detector: AP per category")
    if confusion:
        import numpy as np

        matrix = np.asarray(confusion["matrix"], float)
        shares = matrix / np.maximum(matrix.sum(1, keepdims=True), 1)
        axes[1].imshow(shares, cmap="Blues", vmin=0, vmax=1)
        axes[1].set_xticks(
            range(len(confusion["detected"])), confusion["detected"], rotation=45, ha="right", fontsize=8
        )
        axes[1].set_yticks(range(len(confusion["true"])), confusion["true"], fontsize=8)
        for (y, x), value in np.ndenumerate(matrix):
            if value:
                colour = "white" if shares[y, x] > 0.5 else "black"
                axes[1].text(x, y, int(value), ha="center", va="center", fontsize=6, color=colour)
        axes[1].set_xlabel("shown detection (IoU >= 0.5), or missed")
        axes[1].set_ylabel("true category")
        axes[1].set_title("Detected against true category (row share)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True
