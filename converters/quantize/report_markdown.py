"""The Markdown report written beside every INT8 model: what was done and what was measured, from its manifest."""

from __future__ import annotations

from pathlib import Path

from edge_bml.manifest import ModelManifest

REPORT_NAME = "REPORT.md"


def _mb(size: int | None) -> str:
    return f"{size / 1e6:.2f} MB" if isinstance(size, (int, float)) else "-"


def speed_note(fp32_ms: float | None, int8_ms: float | None) -> str:
    """``1.8x faster`` / ``INT8 not faster (0.9x)`` / ``-`` where a figure is missing."""
    if not fp32_ms or not int8_ms:
        return "-"
    ratio = fp32_ms / int8_ms
    return f"{ratio:.2f}x faster" if ratio > 1.0 else f"INT8 not faster here ({ratio:.2f}x)"


def _task_lines(figures: dict) -> list[str]:
    lines = []
    for key, value in figures.items():
        if isinstance(value, float) and ("fraction" in key or "torso" in key or "overlap" in key):
            shown = f"{value:.2%}" if "torso" in key else f"{value:.4f}"
        else:
            shown = str(value)
        lines.append(f"- {key}: {shown}")
    return lines


def render_report(manifest: ModelManifest) -> str:
    """The report's Markdown text."""
    validation = manifest.metrics.get("validation", {})
    source = manifest.source
    quantization = source.get("quantization", {})
    lines = [
        f"# {manifest.name}",
        "",
        f"INT8 {manifest.task} for {manifest.backend} ({manifest.format}), from `{source.get('fp32_variant')}` "
        f"({source.get('fp32_file')}).",
        "",
        f"- Route: {source.get('converted_with')}",
        f"- Settings: {', '.join(f'{k}={v}' for k, v in quantization.items() if not isinstance(v, dict))}",
        f"- Calibration: {source.get('calibration')}",
        f"- Held-apart photos: {validation.get('held_apart')}",
        f"- Validation: **{'passed' if validation.get('passed') else 'FAILED'}**"
        + ("" if validation.get("passed") else f" ({'; '.join(validation.get('failures', []))})"),
        f"- Measured {validation.get('measured_at')} (1-min load average {validation.get('load_average_1min')}), "
        f"against `{validation.get('reference')}`",
        "",
    ]
    candidates = quantization.get("candidates_measured")
    if candidates:
        lines += ["## Settings measured on this CPU", "", "| candidate | worst output centred cosine | ms (1 thread) |"]
        lines += ["|---|---|---|"]
        for name, figures in candidates.items():
            lines.append(
                f"| {name}{' (chosen)' if name == quantization.get('chosen') else ''} | "
                f"{figures['worst_output_centred_cosine']} | {figures['latency_ms_threads_1']} |"
            )
        lines.append("")
    lines += ["## Outputs, INT8 against FP32", ""]
    lines += ["| output | role | centred cosine (all / worst input) | max abs error |", "|---|---|---|---|"]
    for name, figures in validation.get("outputs", {}).items():
        lines.append(
            f"| {name} | {figures.get('role') or '-'} | {figures['centred_cosine']} / "
            f"{figures['centred_cosine_worst_input'] or '-'} | {figures['max_abs_error']} |"
        )
    lines += ["", "## Task figures", ""] + _task_lines(validation.get("task", {}))
    pipeline = manifest.metrics.get("pose_pipeline")
    if pipeline:
        lines += ["", "## Whole INT8 pose stage against FP32", ""] + _task_lines(pipeline)
    latency = validation.get("latency_ms", {})
    sizes = validation.get("size_bytes", {})
    lines += ["", "## Size and speed (same run, runs interleaved)", ""]
    lines += ["| | FP32 | INT8 | INT8 vs FP32 |", "|---|---|---|---|"]
    lines.append(f"| size | {_mb(sizes.get('fp32'))} | {_mb(sizes.get('int8'))} | |")
    for key in ("threads_1", "threads_2"):
        fp32, int8 = latency.get("fp32", {}).get(key), latency.get("int8", {}).get(key)
        lines.append(f"| median ms, {key.replace('_', ' ')} | {fp32} | {int8} | {speed_note(fp32, int8)} |")
    return "\n".join(lines) + "\n"


def write_report(manifest: ModelManifest, path: Path) -> Path:
    """Write the report atomically (same temp-and-rename as manifests)."""
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text(render_report(manifest), encoding="utf-8")
    tmp.replace(path)
    return path
