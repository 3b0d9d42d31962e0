"""A category split into hash partitions searches like one shard, verifies, and survives add and remove."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edge_bml.catalog.build import build_catalog
from edge_bml.catalog.catalog_manifest import partition_of, read_catalog_manifest
from edge_bml.catalog.edit import add_products, remove_products
from edge_bml.catalog.search import Catalog
from edge_bml.catalog.shards import PartitionedShard
from edge_bml.cli.main import main


@pytest.fixture(scope="module")
def table(data_dir, tmp_path_factory):
    lines = (data_dir / "clothing" / "items.csv").read_text().splitlines()
    root = tmp_path_factory.mktemp("table")
    first, more = root / "first.csv", root / "more.csv"
    first.write_text("\n".join(lines[:81]) + "\n")  # 80 products
    more.write_text("\n".join([lines[0]] + lines[81:91]) + "\n")  # 10 more
    return first, more, data_dir / "clothing"


@pytest.mark.slow
def test_partitions_search_like_one_shard_and_stay_consistent(table, embedder, tmp_path):
    first, more, images = table
    whole = build_catalog(first, images, tmp_path / "whole", embedder)
    split = build_catalog(first, images, tmp_path / "split", embedder, max_shard_size=10)
    assert whole.partitions == {} and split.counts == whole.counts
    assert split.partitions and all(n == -(-whole.counts[c] // 10) for c, n in split.partitions.items())
    shards = sorted(p.name for p in (tmp_path / "split" / "shards").iterdir())
    top_parts = split.partitions["top"]
    assert [f"top.{i}.usearch" for i in range(top_parts)] == [s for s in shards if s.startswith("top.")]
    with Catalog(tmp_path / "whole") as a, Catalog(tmp_path / "split") as b:
        assert isinstance(b.shards["top"], PartitionedShard) and len(b.shards["top"]) == whole.counts["top"]
        rng = np.random.default_rng(0)
        for query in rng.normal(size=(10, a.manifest.dims)).astype(np.float32):
            for category in ("top", "pants"):
                ours = [m.id for m in a.search(query, category=category, k=8, colour_weight=0)]
                theirs = [m.id for m in b.search(query, category=category, k=8, colour_weight=0)]
                assert ours == theirs  # small shards are searched exactly, partitioned or not
        row = next(r for r in b.products.values() if r["category"] == "top")
        assert np.allclose(b.shards["top"][row["key"]], a.shards["top"][row["key"]])
    assert main(["catalog", "verify", "--catalog", str(tmp_path / "split")]) == 0
    added, _ = add_products(tmp_path / "split", more, images, embedder)
    assert added.partitions == split.partitions and added.total == split.total + 10
    gone = [r["id"] for r in json_rows(tmp_path / "split") if r["category"] == "top"][:3]
    removed = remove_products(tmp_path / "split", gone)
    assert removed.counts["top"] == added.counts["top"] - 3
    with Catalog(tmp_path / "split") as c:
        assert len(c.shards["top"]) == removed.counts["top"]
        assert sum(len(p) for p in c.shards["top"].parts) == removed.counts["top"]
    assert main(["catalog", "verify", "--catalog", str(tmp_path / "split")]) == 0
    assert read_catalog_manifest(tmp_path / "split").files
    assert partition_of("abc", 1) == 0 and partition_of("abc", 4) == partition_of("abc", 4) < 4


def json_rows(directory):
    return [json.loads(line) for line in (directory / "products.jsonl").read_text().splitlines() if line]


@pytest.mark.parametrize("exact", [True, False])
def test_the_multi_index_search_equals_searching_each_memory_mapped_part(tmp_path, exact):
    from edge_bml.catalog.shards import new_index, open_shard
    from edge_bml.catalog.vectors import to_stored

    rng = np.random.default_rng(7)
    parts = []
    for number, size in enumerate((700, 0, 650, 5)):  # an empty part and one smaller than k too
        index = new_index(32, "i8")
        if size:
            keys = np.arange(number * 1000, number * 1000 + size, dtype=np.uint64)
            index.add(keys, to_stored(rng.normal(size=(size, 32)).astype(np.float32), "i8"))
        index.save(str(tmp_path / f"part{number}.usearch"))
        parts.append(open_shard(tmp_path / f"part{number}.usearch", view=True))
    queries = to_stored(rng.normal(size=(25, 32)).astype(np.float32), "i8")
    found = PartitionedShard(parts).search(queries, 10, exact=exact)
    each = [part.search(queries, 10, exact=exact) for part in parts if len(part)]
    for row in range(len(queries)):
        pairs = sorted(
            (float(m.distances[row][n]), int(m.keys[row][n])) for m in each for n in range(int(m.counts[row]))
        )[:10]
        count = int(found.counts[row])
        assert count == 10
        assert [int(k) for k in found.keys[row][:count]] == [k for _, k in pairs]
        np.testing.assert_allclose(found.distances[row][:count], [d for d, _ in pairs], rtol=0, atol=1e-6)
