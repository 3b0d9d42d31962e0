"""The report's tables that come from the benchmark scripts and evaluations rather than pytest-benchmark.

Each takes the parsed JSON files of ``benchmarks/results/`` (keyed by file name) and returns Markdown
lines, or nothing where its inputs are absent.
"""

from __future__ import annotations


def catalog_search_lines(rows: list[dict]) -> list[str]:
    """pytest-benchmark ``catalog_search`` rows: each engine against exact numpy and FAISS, same run and set."""
    found = [r for r in rows if r["group"] == "catalog_search"]
    if not found:
        return []
    lines = [
        "| vectors | engine | median ms | recall@10 | / numpy exact | / FAISS flat | / FAISS HNSW |",
        "|---|---|---|---|---|---|---|",
    ]
    by_set: dict[tuple, dict[str, dict]] = {}
    for row in found:
        by_set.setdefault((row["run"], row["params"].get("vectors")), {})[row["params"].get("engine")] = row
    for (_, vectors), engines in sorted(by_set.items()):
        for engine, row in sorted(engines.items(), key=lambda item: item[1]["median"]):
            ratios = []
            for other in ("numpy_exact", "faiss_flat", "faiss_hnsw"):
                ref = engines.get(other)
                ratios.append(f"{row['median'] / ref['median']:.2f}" if ref else "-")
            recall = row["extra"].get("recall_at_10", "-")
            lines.append(f"| {vectors} | {engine} | {row['median']:.3f} | {recall} | " + " | ".join(ratios) + " |")
    return lines


def catalog_script_lines(results: dict[str, dict]) -> list[str]:
    """``catalog_benchmark`` runs: build, size, open, memory, p50/p99 and recall per engine."""
    runs = {name: data for name, data in results.items() if data.get("kind") in ("synthetic-clustered", "catalog")}
    if not runs:
        return []
    lines = [
        "| file | vectors | engine | build s | size MB | open ms | RSS after open / after 1,000 queries MB "
        "| p50 ms | p99 ms | recall@10 |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, data in sorted(runs.items()):
        engines = data.get("engines") or [{**data, "engine": "usearch_catalog"}]
        count = data.get("vectors") or data.get("products")
        for e in engines:
            lines.append(
                f"| {name} | {count:,} | {e['engine']} | {e.get('build_s', '-')} | {e.get('size_mb', '-')} | "
                f"{e['open_ms']} | {e['rss_after_open_mb']} / {e['rss_after_queries_mb']} | {e['p50_ms']:.3f} | "
                f"{e['p99_ms']:.3f} | {e['recall_at_10_vs_exact_f32']} |"
            )
    notes = [
        f"- `{name}`: measured {data.get('measured_at')}, queries on {data.get('threads', 1)} thread, "
        f"builds on {data.get('build_threads', 1)}; load average at the end {data.get('load_average_1min_at_end', '?')}"
        for name, data in sorted(runs.items())
    ]
    return lines + [""] + notes


def memory_lines(results: dict[str, dict]) -> list[str]:
    """``benchmarks.memory``: peak RSS of ``edge-bml look``, model sizes, catalog size."""
    data = next((d for d in results.values() if "peak_rss" in d), None)
    if data is None:
        return []
    lines = [
        f"Measured {data['measured_at']} on photo `{data['photo']}` (load average {data['load_average_1min']}).",
        "",
    ]
    lines += ["| command | peak RSS MB | wall s | models |", "|---|---|---|---|"]
    for entry in data["peak_rss"]:
        models = ", ".join((entry.get("models") or {}).values())
        lines.append(f"| {entry['command']} | {entry['peak_rss_mb']} | {entry['wall_s']} | {models} |")
    catalog = data["catalog"]
    lines += [
        "",
        f"Catalog `{catalog['folder']}`: {catalog['products']:,} products, {catalog['dtype']}, embedder "
        f"{catalog['embedder']}, {catalog['bytes_on_disk'] / 1e6:.2f} MB on disk.",
        "",
        "| model variant | size MB |",
        "|---|---|",
    ]
    lines += [f"| {name} | {size / 1e6:.2f} |" for name, size in sorted(data["model_bytes"].items())]
    return lines


def naive_accuracy_lines(results: dict[str, dict]) -> list[str]:
    """The look's and the naive baseline's photo-level retrieval figures (``edge-bml evaluate ...``)."""
    look = next((d for d in results.values() if d.get("photo_level")), None)
    naive = next((d for d in results.values() if "returned_product_precision" in d and "k" in d), None)
    if not (look and naive):
        return []
    ours = look["photo_level"]
    lines = [
        "| system | photos | labelled categories covered | returned products of a labelled category | total p50 ms |",
        "|---|---|---|---|---|",
        f"| edge_bml look ({look['models']['embedder']}) | {ours['photos_scored']} | "
        f"{ours['labelled_category_coverage']} | {ours['returned_product_precision']} | "
        f"{look['latency_ms']['total']['p50']} |",
        f"| naive whole image ({naive['embedder']}, top {naive['k']}) | {naive['photos_scored']} | "
        f"{naive['labelled_category_coverage']} | {naive['returned_product_precision']} | "
        f"{naive['latency_ms']['total']['p50']} |",
    ]
    return lines
