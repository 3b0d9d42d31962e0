"""Turn pytest-benchmark JSON into ``benchmarks/REPORT.md`` and a latency chart.

Run: python -m benchmarks.report [RESULTS.json ...] [--out benchmarks/REPORT.md]
(default input: every ``benchmarks/results/*.json``). Medians and p95 in milliseconds; ratios are
taken between results of the same JSON file, i.e. measured in one run on one machine.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from benchmarks.report_sections import catalog_script_lines, catalog_search_lines, memory_lines, naive_accuracy_lines
from edge_bml.machine import ISA_FLAGS

HERE = Path(__file__).resolve().parent


def load_rows(paths: list[Path]) -> tuple[list[dict], list[dict]]:
    """One row per benchmark (group, name, params, median/p95 ms, run id), and each file's machine info."""
    rows, machines = [], []
    for run, path in enumerate(paths):
        data = json.loads(path.read_text())
        if "benchmarks" not in data:
            continue  # a script's or an evaluation's JSON: see report_sections
        machines.append({"file": path.name, "datetime": data.get("datetime"), **data.get("machine_info", {})})
        for bench in data.get("benchmarks", []):
            stats = bench["stats"]
            samples = stats.get("data")
            p95 = float(np.percentile(samples, 95)) * 1000 if samples else None
            rows.append(
                {
                    "run": run,
                    "datetime": data.get("datetime"),
                    "group": bench.get("group") or "ungrouped",
                    "name": bench["name"],
                    "params": bench.get("params") or {},
                    "extra": bench.get("extra_info") or {},
                    "median": stats["median"] * 1000,
                    "p95": p95,
                    "rounds": stats["rounds"],
                }
            )
    return rows, machines


def _label(row: dict) -> str:
    params = row["params"] or {}
    return ", ".join(f"{k}={v}" for k, v in params.items()) or row["name"]


def _fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def ratio_lines(rows: list[dict]) -> list[str]:
    """INT8 against FP32 for the same group, backend, threads and other options, from the same run."""
    by_key = {}
    for row in rows:
        params = dict(row["params"])
        precision = params.pop("precision", None)
        if precision is None:
            continue
        by_key.setdefault((row["run"], row["group"], tuple(sorted(params.items()))), {})[precision] = row
    lines = [
        "| group | variant | FP32 median ms | INT8 median ms | INT8 / FP32 | INT8 faster? |",
        "|---|---|---|---|---|---|",
    ]
    for (_, group, params), pair in sorted(by_key.items()):
        if "fp32" in pair and "int8" in pair:
            fp32, int8 = pair["fp32"]["median"], pair["int8"]["median"]
            verdict = "yes" if int8 < 0.95 * fp32 else ("no (about the same)" if int8 <= 1.05 * fp32 else "no (slower)")
            variant = ", ".join(f"{k}={v}" for k, v in params)
            lines.append(f"| {group} | {variant} | {fp32:.1f} | {int8:.1f} | {int8 / fp32:.2f} | {verdict} |")
    return lines if len(lines) > 2 else []


def reference_lines(rows: list[dict]) -> list[str]:
    """Rows that name a ``reference`` in extra_info, against the row they point at (same run)."""
    by_name = {(r["run"], r["name"]): r for r in rows}
    lines = ["| benchmark | reference | median ms | reference median ms | ratio |", "|---|---|---|---|---|"]
    for row in rows:
        reference = row["extra"].get("reference")
        other = by_name.get((row["run"], reference)) if reference else None
        if other:
            lines.append(
                f"| {row['name']} | {reference} | {row['median']:.2f} | {other['median']:.2f} | "
                f"{row['median'] / other['median']:.2f} |"
            )
    return lines if len(lines) > 2 else []


def charts(rows: list[dict], others: dict, folder: Path) -> list[tuple[str, str]]:
    """(file name, caption) of each chart drawn into ``folder``: one per question (``benchmarks/charts.py``)."""
    from benchmarks import charts as draw

    drawn = []
    for name, caption, make in (
        ("latency_look_by_stage.png", "where the whole look's time goes", lambda p: draw.look_by_stage(rows, p)),
        ("latency_int8_vs_fp32.png", "INT8 against FP32 per model", lambda p: draw.int8_vs_fp32(rows, p)),
        ("latency_vs_mediapipe.png", "edge_bml against MediaPipe", lambda p: draw.against_mediapipe(rows, p)),
        ("detector_accuracy.png", "detector AP per category and confusion", lambda p: _detector_chart(others, p)),
    ):
        if make(folder / name):
            drawn.append((name, caption))
    return drawn


def _detector_chart(others: dict, path: Path) -> bool:
    from benchmarks import charts as draw
    from edge_bml.model_registry import list_manifests

    per_variant = {}
    for manifest in list_manifests():
        figures = manifest.metrics.get("ccp_val_pose_crop") if manifest.task == "detector" else None
        if figures and manifest.format in ("onnx", "openvino", "tflite"):
            per_variant[f"{manifest.precision} {manifest.format}"] = figures["ap50_per_category"]
    evaluation = others.get("eval_detector_val.json") or {}
    return draw.detector_plots(dict(sorted(per_variant.items())), evaluation.get("confusion"), path)


def render(
    rows: list[dict],
    machines: list[dict],
    chart_names: list[tuple[str, str]],
    note: str = "",
    others: dict | None = None,
) -> str:
    out = [
        "# edge_bml benchmark report",
        "",
        "Generated by `python -m benchmarks.report` from pytest-benchmark JSON.",
        "",
    ]
    if note:
        out += [f"> {note}", ""]
    out += ["## Machines", ""]
    for machine in machines:
        cpu = machine.get("cpu", {})
        versions = ", ".join(f"{k} {v}" for k, v in (machine.get("edge_bml_versions") or {}).items() if v)
        isa = (machine.get("edge_bml_machine") or {}).get("isa")
        if isa is None and cpu.get("flags"):  # runs from before edge_bml recorded it: pytest-benchmark's flags
            isa = [flag for flag in ISA_FLAGS if flag in cpu["flags"]]
        isa_text = f" (ISA: {' '.join(isa) or 'none of the listed extensions'})" if isa is not None else ""
        out.append(
            f"- `{machine['file']}` ({machine.get('datetime', '?')}): {cpu.get('brand_raw', '?')}{isa_text}, "
            f"{machine.get('cores', cpu.get('count', '?'))} cores, {machine.get('system')} "
            f"{machine.get('release')}, Python {machine.get('python_version')}; {versions}; "
            f"load average at start {machine.get('load_average_1min_at_start', '?')}"
        )
    out.append("")
    for name, caption in chart_names:
        out += [f"![{caption}]({name})", ""]
    grouped = defaultdict(list)
    for row in rows:
        grouped[row["group"]].append(row)
    for group, members in sorted(grouped.items()):
        out += [f"## {group}", "", "| benchmark | median ms | p95 ms | rounds | model |", "|---|---|---|---|---|"]
        for row in sorted(members, key=lambda r: r["median"]):
            extra = row["extra"]
            model = extra.get("model") or " + ".join(
                str(extra[k]) for k in ("pose_detection", "pose_landmarks", "detector", "embedder") if k in extra
            )
            out.append(f"| {_label(row)} | {row['median']:.2f} | {_fmt(row['p95'], 2)} | {row['rounds']} | {model} |")
        out.append("")
    ratios = ratio_lines(rows)
    if ratios:
        out += ["## INT8 against FP32 (same run)", ""] + ratios + [""]
    references = reference_lines(rows)
    if references:
        out += ["## Against reference runtimes (same run)", ""] + references + [""]
    others = others or {}
    sections = (
        ("Catalog search: USearch against exact numpy and FAISS (same run)", catalog_search_lines(rows)),
        ("Catalog builds and shards (`python -m benchmarks.catalog_benchmark`)", catalog_script_lines(others)),
        ("The look against the naive whole-image baseline: accuracy (CCP val)", naive_accuracy_lines(others)),
        ("Memory and sizes (`python -m benchmarks.memory`)", memory_lines(others)),
    )
    for title, lines in sections:
        if lines:
            out += [f"## {title}", ""] + lines + [""]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="*", type=Path)
    parser.add_argument("--out", type=Path, default=HERE / "REPORT.md")
    parser.add_argument("--note", default="", help="a sentence printed under the title (how the run went)")
    args = parser.parse_args(argv)
    paths = args.results or sorted((HERE / "results").glob("*.json"))
    if not paths:
        print("no pytest-benchmark JSON given and none in benchmarks/results/", file=sys.stderr)
        return 2
    rows, machines = load_rows(paths)
    others = {}
    for path in paths:
        data = json.loads(path.read_text())
        if "benchmarks" not in data:
            others[path.name] = data
    drawn = charts(rows, others, args.out.parent)
    args.out.write_text(render(rows, machines, drawn, args.note, others) + "\n", encoding="utf-8")
    print(f"wrote {args.out} and {', '.join(name for name, _ in drawn) or 'no chart (matplotlib missing?)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
