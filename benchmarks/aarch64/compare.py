"""Compare the aarch64 (emulated) run of ``check.sh`` with the x86 run and write the result JSON.

Each run folder holds, per backend B, ``B_look.jsonl`` (``edge-bml look --json``) and optionally
``B_pose.jsonl`` (``edge-bml pose --json``), their ``.err`` logs, ``meta.json`` (wheels, versions, times),
``probe.json`` and ``probe_outputs/*.npz`` (``litert_probe.py``).

Same means, per photo: the same shot, facing and stop reason; every keypoint within 1% of the image's
width (x) and height (y); the same article categories in the same order, each box within 1% of the image
size; and the same top-5 match ids, in the same order, for every article. Scores, visibilities and raw model
outputs are reported as maximum differences (information, not criteria).

Usage: python compare.py --x86 DIR --arm DIR --out RESULT.json [--macs MACS.json] [--info KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

TOLERANCE = 0.01  # of the image's width / height
TOP_K = 5


def _read_jsonl(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if line.startswith("{"):
            rows.append(json.loads(line))
    return rows


_SIZES: dict[str, tuple[int, int]] = {}


def _image_size(file: str) -> tuple[int, int]:
    """(width, height) of a photo, read once."""
    if file not in _SIZES:
        import cv2

        image = cv2.imread(file, cv2.IMREAD_UNCHANGED)
        if image is None:
            raise SystemExit(f"compare: cannot read {file} for its size")
        _SIZES[file] = (int(image.shape[1]), int(image.shape[0]))
    return _SIZES[file]


class Stats:
    def __init__(self) -> None:
        self.values: dict[str, float] = {}

    def max(self, key: str, value: float) -> None:
        self.values[key] = max(self.values.get(key, 0.0), float(value))


def _compare_points(tag: str, a: list, b: list, size: tuple[int, int], stats: Stats, diffs: list[str]) -> None:
    width, height = size
    if len(a) != len(b):
        diffs.append(f"{tag}: {len(a)} keypoints on x86, {len(b)} on aarch64")
        return
    for index, (p, q) in enumerate(zip(a, b)):
        dx, dy = abs(p[0] - q[0]) / width, abs(p[1] - q[1]) / height
        stats.max("keypoint_max_delta_fraction_of_image", max(dx, dy))
        if len(p) > 2 and len(q) > 2:
            stats.max("keypoint_visibility_max_delta", abs(p[2] - q[2]))
        if dx > TOLERANCE or dy > TOLERANCE:
            diffs.append(
                f"{tag}: keypoint {index} moved {dx:.2%} of the width, {dy:.2%} of the height "
                f"(x86 {p[:2]}, aarch64 {q[:2]})"
            )


def _compare_box(tag: str, a: list, b: list, size: tuple[int, int], stats: Stats, diffs: list[str]) -> None:
    width, height = size
    delta = max(abs(a[i] - b[i]) / (width if i % 2 == 0 else height) for i in range(4))
    stats.max("box_max_delta_fraction_of_image", delta)
    if delta > TOLERANCE:
        diffs.append(f"{tag}: box moved {delta:.2%} of the image (x86 {a}, aarch64 {b})")


def _compare_common(tag: str, a: dict, b: dict, stats: Stats, diffs: list[str]) -> tuple[int, int]:
    size = _image_size(a["file"])
    for key in ("shot", "facing", "stopped"):
        if a.get(key) != b.get(key):
            diffs.append(f"{tag}: {key} {a.get(key)!r} on x86, {b.get(key)!r} on aarch64")
    _compare_points(tag, a.get("keypoints") or [], b.get("keypoints") or [], size, stats, diffs)
    return size


def _iou(a: list, b: list) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _pair_articles(a: list[dict], b: list[dict]) -> list[tuple[dict, dict]]:
    """x86 and aarch64 articles paired: same category, greatest box overlap first (order is by score, so two
    articles of near-equal scores may swap places without anything else changing)."""
    candidates = sorted(
        (
            (_iou(x["box"], y["box"]), i, j)
            for i, x in enumerate(a)
            for j, y in enumerate(b)
            if x["category"] == y["category"]
        ),
        reverse=True,
    )
    used_a, used_b, pairs = set(), set(), []
    for _, i, j in candidates:
        if i not in used_a and j not in used_b:
            used_a.add(i)
            used_b.add(j)
            pairs.append((i, a[i], b[j]))
    return [(x, y) for _, x, y in sorted(pairs, key=lambda p: p[0])]


def compare_look(tag: str, a: dict, b: dict, stats: Stats, diffs: list[str]) -> dict:
    size = _compare_common(tag, a, b, stats, diffs)
    if a.get("person_box") and b.get("person_box"):
        _compare_box(f"{tag} person", a["person_box"], b["person_box"], size, stats, diffs)
    cats_a = [x["category"] for x in a.get("articles", [])]
    cats_b = [x["category"] for x in b.get("articles", [])]
    same_matches = 0
    overlaps = []
    if sorted(cats_a) != sorted(cats_b):
        diffs.append(f"{tag}: articles {cats_a} on x86, {cats_b} on aarch64")
    for x, y in _pair_articles(a.get("articles", []), b.get("articles", [])):
        art = f"{tag} {x['category']} at {[round(v) for v in x['box']]}"
        _compare_box(art, x["box"], y["box"], size, stats, diffs)
        stats.max("article_score_max_delta", abs(x["score"] - y["score"]))
        ids_a = [m["id"] for m in x.get("matches", [])][:TOP_K]
        ids_b = [m["id"] for m in y.get("matches", [])][:TOP_K]
        for m, n in zip(x.get("matches", [])[:TOP_K], y.get("matches", [])[:TOP_K]):
            if m["id"] == n["id"]:
                stats.max("match_score_max_delta", abs(m["score"] - n["score"]))
        if ids_a or ids_b:
            overlaps.append(len(set(ids_a) & set(ids_b)) / max(len(ids_a), len(ids_b)))
        if ids_a != ids_b:
            kind = "same ids, another order" if sorted(ids_a) == sorted(ids_b) else "other ids"
            diffs.append(f"{art}: top-{TOP_K} matches differ ({kind}): x86 {ids_a}, aarch64 {ids_b}")
        else:
            same_matches += 1
    return {
        "file": a["file"],
        "shot": b.get("shot"),
        "facing": b.get("facing"),
        "articles": cats_b,
        "articles_in_another_order": cats_a != cats_b and sorted(cats_a) == sorted(cats_b),
        "articles_with_same_top5": same_matches,
        "top5_overlaps": [round(v, 2) for v in overlaps],
        "total_ms_x86": (a.get("timings_ms") or {}).get("total"),
        "total_ms_aarch64_emulated": (b.get("timings_ms") or {}).get("total"),
        "models_aarch64": {k: v.get("variant") for k, v in (b.get("models") or {}).items()},
    }


def compare_backend(backend: str, x86: Path, arm: Path, diffs: list[str]) -> dict | None:
    looks_a, looks_b = _read_jsonl(x86 / f"{backend}_look.jsonl"), _read_jsonl(arm / f"{backend}_look.jsonl")
    if not looks_b:
        return None
    stats = Stats()
    by_file = {row["file"]: row for row in looks_a}
    photos = []
    first_diff = len(diffs)
    looks_same = 0
    for row in looks_b:
        other = by_file.get(row["file"])
        tag = f"{backend} look {Path(row['file']).name}"
        if other is None:
            diffs.append(f"{tag}: no x86 result")
            continue
        before = len(diffs)
        photos.append(compare_look(tag, other, row, stats, diffs))
        looks_same += len(diffs) == before
    missing = sorted(set(by_file) - {row["file"] for row in looks_b})
    for file in missing:
        diffs.append(f"{backend} look {Path(file).name}: no aarch64 result")
    poses_a = {row["file"]: row for row in _read_jsonl(x86 / f"{backend}_pose.jsonl")}
    poses = 0
    for row in _read_jsonl(arm / f"{backend}_pose.jsonl"):
        other = poses_a.get(row["file"])
        tag = f"{backend} pose {Path(row['file']).name}"
        if other is None:
            diffs.append(f"{tag}: no x86 result")
            continue
        _compare_common(tag, other, row, stats, diffs)
        poses += 1
    delegate_lines = sum(
        (arm / f"{backend}_{kind}.err").read_text(errors="replace").count("XNNPACK delegate")
        for kind in ("look", "pose")
        if (arm / f"{backend}_{kind}.err").is_file()
    )
    return {
        "same_as_x86": len(diffs) == first_diff and bool(photos),
        "looks": len(photos),
        "looks_same_as_x86": looks_same,
        "poses": poses,
        "articles": sum(len(p["articles"]) for p in photos),
        "articles_with_same_top5": sum(p["articles_with_same_top5"] for p in photos),
        "paired_articles_with_matches": sum(len(p["top5_overlaps"]) for p in photos),
        "top5_overlap_mean": round(
            float(np.mean([v for p in photos for v in p["top5_overlaps"]]))
            if any(p["top5_overlaps"] for p in photos)
            else 1.0,
            3,
        ),
        "max_deltas": {k: round(v, 6) for k, v in sorted(stats.values.items())},
        "xnnpack_delegate_log_lines_aarch64": delegate_lines,
        "photos": photos,
    }


def compare_probes(x86: Path, arm: Path) -> dict:
    out: dict = {}
    probe_b = arm / "probe.json"
    if not probe_b.is_file():
        return out
    report = json.loads(probe_b.read_text())
    out["aarch64"] = report
    raw = {}
    for npz_b in sorted((arm / "probe_outputs").glob("*.npz")):
        npz_a = x86 / "probe_outputs" / npz_b.name
        if not npz_a.is_file():
            continue
        raw[npz_b.stem] = _npz_diffs(npz_a, npz_b)
    out["raw_outputs_x86_vs_aarch64_same_random_input"] = raw
    return out


def _npz_diffs(a_path: Path, b_path: Path) -> dict:
    a, b = np.load(a_path), np.load(b_path)
    per = {}
    for key in b.files:
        va, vb = a[key].astype(np.float64), b[key].astype(np.float64)
        if va.shape != vb.shape:
            per[key] = f"shape {va.shape} vs {vb.shape}"
            continue
        scale = float(np.max(np.abs(va))) if va.size else 0.0
        diff = float(np.max(np.abs(va - vb))) if va.size else 0.0
        per[key] = {
            "bit_identical": bool(np.array_equal(a[key], b[key])),
            "max_abs_diff": diff,
            "max_abs_diff_relative": round(diff / scale, 8) if scale else 0.0,
        }
    return per


def compare_stage_probe(x86: Path, arm: Path) -> dict:
    """Each model on the same real inputs (``stage_probe.py``): inputs equal? outputs how far apart?"""
    folder_a, folder_b = x86 / "stage_outputs", arm / "stage_outputs"
    if not (folder_b / "inputs.json").is_file() or not (folder_a / "inputs.json").is_file():
        return {}
    inputs_a = json.loads((folder_a / "inputs.json").read_text())
    inputs_b = json.loads((folder_b / "inputs.json").read_text())
    out: dict = {"inputs_identical": inputs_a == inputs_b, "models": {}}
    if inputs_a != inputs_b:
        out["inputs_x86"], out["inputs_aarch64"] = inputs_a, inputs_b
    for npz_b in sorted(folder_b.glob("*.npz")):
        npz_a = folder_a / npz_b.name
        if npz_a.is_file():
            photo, _, variant = npz_b.stem.partition("__")
            per = _npz_diffs(npz_a, npz_b)
            worst = max((v["max_abs_diff_relative"] for v in per.values() if isinstance(v, dict)), default=0.0)
            out["models"].setdefault(variant, {})[photo] = {
                "bit_identical": all(v.get("bit_identical") for v in per.values() if isinstance(v, dict)),
                "worst_output_max_abs_diff_relative": worst,
                "outputs": per,
            }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--x86", type=Path, required=True)
    parser.add_argument("--arm", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--backends", default="litert,onnxruntime,openvino")
    parser.add_argument("--macs", type=Path, help="count_macs.py --json output, added as the Pi 5 estimate")
    parser.add_argument("--info", action="append", default=[], help="KEY=VALUE added to the result")
    args = parser.parse_args(argv)

    differences: list[str] = []
    backends = {}
    for backend in [b for b in args.backends.split(",") if b]:
        result = compare_backend(backend, args.x86, args.arm, differences)
        if result is not None:
            backends[backend] = result
    meta_a = json.loads((args.x86 / "meta.json").read_text()) if (args.x86 / "meta.json").is_file() else {}
    meta_b = json.loads((args.arm / "meta.json").read_text()) if (args.arm / "meta.json").is_file() else {}
    wheels_b = meta_b.get("wheels", {})
    wheels_a = meta_a.get("wheels", {})
    version_diffs = {
        name: {"x86": wheels_a.get(name), "aarch64": version}
        for name, version in wheels_b.items()
        if name in wheels_a and wheels_a[name] != version
    }
    looks = max((b["looks"] for b in backends.values()), default=0)
    result = {
        "machine": "aarch64",
        "emulated": True,
        "looks": looks,
        "backends": list(backends),
        "same_as_x86": bool(backends) and not differences and looks >= 1,
        "differences": differences,
        "criteria": (
            f"per photo: same shot, facing, stop reason; keypoints and boxes within {TOLERANCE:.0%} of the image "
            "width/height; the same article categories (paired by category and box overlap, since their order "
            f"follows the scores); the same top-{TOP_K} match ids in order for every paired article"
        ),
        "wheels": wheels_b,
        "wheel_tags": meta_b.get("wheel_tags", {}),
        "wheel_versions_differing_from_x86": version_diffs,
        "per_backend": backends,
        "litert_xnnpack": compare_probes(args.x86, args.arm),
        "models_on_same_real_inputs": compare_stage_probe(args.x86, args.arm),
        "openvino_kernels": {
            side: json.loads((folder / "openvino_probe.json").read_text())["variants"]
            for side, folder in (("x86", args.x86), ("aarch64", args.arm))
            if (folder / "openvino_probe.json").is_file()
        },
        "x86": {k: v for k, v in meta_a.items() if k not in ("wheels", "wheel_tags")},
        "aarch64": {k: v for k, v in meta_b.items() if k not in ("wheels", "wheel_tags")},
        "timings_note": "aarch64 timings come from user-mode QEMU emulation on an x86 host: meaningless as latencies",
    }
    for item in args.info:
        key, _, value = item.partition("=")
        result[key] = value
    if args.macs and args.macs.is_file():
        result["pi5_estimate"] = json.loads(args.macs.read_text())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(
        f"compare: {looks} looks on {list(backends)}; same_as_x86={result['same_as_x86']}; "
        f"{len(differences)} differences -> {args.out}",
        file=sys.stderr,
    )
    for line in differences[:20]:
        print(f"  - {line}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
