"""Opening a catalog (shards read into memory, or memory-mapped when large) and finding the nearest products."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edge_bml.catalog.attributes import AttributeIndex, Where, combine, normalise, row_attributes
from edge_bml.catalog.catalog_manifest import (
    CatalogManifest,
    check_embedder,
    read_catalog_manifest,
    read_products_file,
    shard_paths,
    verify_catalog_files,
)
from edge_bml.catalog.colour_rerank import DEFAULT_CANDIDATES, check_weight, rerank_order
from edge_bml.catalog.filtered_search import FilteredSearch
from edge_bml.catalog.matches import Match, Matches
from edge_bml.catalog.products import confined_image
from edge_bml.catalog.shards import PartitionedShard, merge_top_k, open_shard, search_shards
from edge_bml.catalog.vectors import to_stored
from edge_bml.errors import CatalogCategoryError, CatalogError, CatalogIntegrityError

# Catalogs whose shards total at most this are read into memory at open (``view`` None); larger ones are
# memory-mapped. Read into memory, a shard truncated or written over on disk cannot crash the reader
# with SIGBUS; the clothing catalog's shards (5,096 products) are 2 MB and cost 0.3 MB more RSS so.
IN_MEMORY_BYTES = 64 << 20


class Catalog:
    """A built catalog folder, opened for search: its shards read into memory where they total at most
    ``IN_MEMORY_BYTES``, memory-mapped (``view``) where larger."""

    def __init__(
        self,
        directory: str | Path,
        *,
        embedder_sha256: str | None = None,
        view: bool | None = None,
        trust: bool = False,
        use_stamp: bool = True,
    ) -> None:
        """Open ``directory``; with ``embedder_sha256``, refuse a catalog made by another embedder.

        The files' sizes are checked against ``catalog.json`` at every open, their sha256 too unless
        ``trust`` or a verification stamp shows them unchanged since they last matched (``use_stamp``,
        kept under the user's cache folder); each shard must hold as many vectors as ``counts`` says,
        and the product table as many rows. Catalogs built before sizes and hashes were recorded skip that file check.

        Raises:
            CatalogError: not a catalog, a shard or the product file is missing, damaged or unreadable.
            CatalogIntegrityError: a file differs from its record, or a shard from its count.
            CatalogEmbedderMismatchError: the catalog was built with a different embedder.
        """
        self.directory = Path(directory)
        try:
            self._open(embedder_sha256=embedder_sha256, view=view, trust=trust, use_stamp=use_stamp)
        except OSError as error:  # e.g. a file the user may not read: one line, not a traceback
            where = error.filename or self.directory
            raise CatalogError(f"catalog {self.directory}: cannot read {where} ({error.strerror or error})") from None

    def _open(self, *, embedder_sha256: str | None, view: bool | None, trust: bool, use_stamp: bool) -> None:
        self.manifest: CatalogManifest = read_catalog_manifest(self.directory)
        if embedder_sha256 is not None:
            check_embedder(self.directory, self.manifest, "the embedder given", embedder_sha256)
        verify_catalog_files(self.directory, self.manifest, hashes=not trust, use_stamp=use_stamp)
        if view is None:
            view = self._shard_bytes() > IN_MEMORY_BYTES
        self.view = view
        self.shards = {c: self._open_category(c, view=view) for c in self.manifest.counts}
        rebuild = "rebuild the catalog (`edge-bml catalog build`)"
        for category, index in self.shards.items():
            for part in getattr(index, "parts", [index]):
                header = (part.ndim, part.dtype.name.lower(), part.metric_kind.name.lower())
                recorded = (self.manifest.dims, self.manifest.dtype, self.manifest.metric)
                if header != recorded:
                    raise CatalogIntegrityError(
                        f"{self.directory}/shards/{category}: the shard stores {header[0]}-d {header[1]} {header[2]} "
                        f"vectors, catalog.json says {recorded[0]}-d {recorded[1]} {recorded[2]}: the catalog is "
                        f"damaged; {rebuild}"
                    )
            if len(index) != self.manifest.counts[category]:
                raise CatalogIntegrityError(
                    f"{self.directory}/shards/{category}: holds {len(index)} vectors, catalog.json counts "
                    f"{self.manifest.counts[category]}: the catalog is damaged; {rebuild}"
                )
        rows = read_products_file(self.directory)
        title_column = self.manifest.columns.get("title")
        for row in rows:  # catalogs built before attributes: their 'extra' columns and the title's column
            if "attributes" not in row:
                row["attributes"] = {**row_attributes(row), **({title_column: row["title"]} if title_column else {})}
        self.products = {row["key"]: row for row in rows}
        self._has_colours = bool(rows) and all(row.get("colour") is not None for row in rows)
        # Each product's colour by shard key (NaN where unknown), so the colour re-rank reads an array.
        self._colour_by_key = np.full((max((row["key"] for row in rows), default=-1) + 1, 3), np.nan, np.float32)
        for row in rows:
            if row.get("colour") is not None:
                self._colour_by_key[row["key"]] = row["colour"]
        self.attributes = AttributeIndex(rows)
        by_category: dict[str, list[int]] = {}
        for row in rows:
            by_category.setdefault(row["category"], []).append(row["key"])
        self._category_keys = {c: np.asarray(sorted(keys), np.int64) for c, keys in by_category.items()}
        self._filtered = FilteredSearch(self.manifest.dtype)
        self._allowed: dict[tuple, np.ndarray] = {}  # (category, filter) -> sorted keys that pass
        if len(self.products) != len(rows) or len(rows) != self.manifest.total:
            raise CatalogIntegrityError(
                f"{self.directory}: products.jsonl has {len(rows)} rows ({len(self.products)} distinct keys), "
                f"catalog.json counts {self.manifest.total}: the catalog is damaged; {rebuild}"
            )

    def _shard_bytes(self) -> int:
        paths = [
            path
            for category in self.manifest.counts
            for path in shard_paths(self.directory, category, self.manifest.partitions.get(category, 1))
        ]
        return sum(path.stat().st_size for path in paths if path.is_file())

    def _open_category(self, category: str, *, view: bool):
        """A category's shard, or its hash partitions read as one (``PartitionedShard``)."""
        paths = shard_paths(self.directory, category, self.manifest.partitions.get(category, 1))
        if len(paths) == 1:
            return open_shard(paths[0], view=view)
        return PartitionedShard([open_shard(path, view=view) for path in paths])

    @property
    def categories(self) -> list[str]:
        return sorted(self.shards)

    def check_embedder(self, embedder) -> None:
        """Raise unless ``embedder`` (an ``ArticleEmbedder``) is the one that built this catalog.

        Raises:
            CatalogEmbedderMismatchError: it is another model.
        """
        manifest = embedder.manifest
        check_embedder(self.directory, self.manifest, manifest.name, manifest.sha256[manifest.model_file])

    def image_path(self, row) -> Path | None:
        """The photo of a product (a product row or a ``Match``) inside the catalog's image folder; None
        where the catalog records no folder or the file would lie outside it."""
        images_dir = self.manifest.source.get("images_dir")
        file = row.get("file") if isinstance(row, dict) else getattr(row, "file", None)
        if not images_dir or not file:
            return None
        return confined_image(Path(images_dir), file)

    @property
    def has_colours(self) -> bool:
        """Whether every product carries its garment colour (catalogs built since colours were stored)."""
        return self._has_colours

    @property
    def colour_weight(self) -> float:
        """The catalog's default weight of colour in the ranking (0 where it stores no colours)."""
        return float(self.manifest.colour.get("weight", 0.0)) if self.has_colours else 0.0

    def search_many(
        self,
        vectors: np.ndarray,
        *,
        category: str | None = None,
        k: int = 10,
        colours: np.ndarray | None = None,
        colour_weight: float | None = None,
        where: Where | None = None,
    ) -> list[Matches]:
        """Nearest products of each row of ``vectors``, within ``category`` or across the catalog.

        With ``colours`` (one CIELAB colour per row, NaN rows for unknown), the nearest
        ``catalog.json``'s ``candidates`` are re-ranked so the colour counts (``colour_rerank``), with
        ``colour_weight`` or the catalog's default weight. Only products that pass the attribute filter
        ``where`` over the catalog's ``default_where`` (``resolve_where``) are returned, ``k`` of them
        whenever ``k`` pass (``filtered_search``).

        Raises:
            CatalogCategoryError: ``category`` has no products in this catalog.
            CatalogFilterError: a filter column the catalog does not have.
            CatalogError: vectors of the wrong size, ``k`` below 1, or a negative colour weight.
        """
        weight = self.colour_weight if colour_weight is None else check_weight(colour_weight)
        where = self.resolve_where(where)
        if colours is None or weight <= 0 or not self.has_colours:
            return self._search_vectors(vectors, category=category, k=k, where=where)
        colours = np.atleast_2d(np.asarray(colours, np.float32))
        pool = max(k, int(self.manifest.colour.get("candidates", DEFAULT_CANDIDATES)))
        keys, scores = self._search_arrays(vectors, category=category, k=pool, where=where)
        found = []
        for row_keys, row_scores, colour in zip(keys, scores, colours, strict=True):
            kept = (row_keys >= 0) & (row_keys < len(self._colour_by_key))
            row_keys, row_scores = row_keys[kept], row_scores[kept]
            product_colours = self._colour_by_key[row_keys]
            if np.isnan(colour).any() or np.isnan(product_colours).all():
                found.append(self._matches(row_keys[:k], row_scores[:k]))
                continue
            order, combined = rerank_order(row_scores, product_colours, colour, weight=weight, k=k)
            found.append(self._matches(row_keys[order], combined, similarities=row_scores[order]))
        return found

    @property
    def default_where(self) -> dict[str, tuple[str, ...]]:
        """The filter ``catalog build --default-where`` stored (empty: none)."""
        return dict(self.manifest.default_where)

    def resolve_where(self, where: Where | None) -> dict[str, tuple[str, ...]]:
        """The filter a search applies: ``where`` over the catalog's default, column by column (``*`` lifts one).

        Raises:
            CatalogFilterError: a column the catalog does not have.
        """
        resolved = combine(self.default_where, where)
        self.attributes.check(resolved)
        return resolved

    def passing_count(self, where: Where | None, category: str | None = None) -> int:
        """How many products (of ``category``, or all) pass ``where`` over the catalog's default.

        Raises:
            CatalogFilterError: a column the catalog does not have.
        """
        where = self.resolve_where(where)
        keys = self._category_keys.get(category, np.zeros(0, np.int64)) if category else None
        if not where:
            return len(keys) if keys is not None else self.manifest.total
        passing = self.attributes.keys(where)
        return len(passing) if keys is None else len(np.intersect1d(passing, keys, assume_unique=True))

    def _search_vectors(
        self, vectors: np.ndarray, *, category: str | None, k: int, where: Where | None = None
    ) -> list[Matches]:
        keys, scores = self._search_arrays(vectors, category=category, k=k, where=where)
        return [self._matches(row_keys, row_scores) for row_keys, row_scores in zip(keys, scores, strict=True)]

    def _search_arrays(
        self, vectors: np.ndarray, *, category: str | None, k: int, where: Where | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Keys (-1 where none) and cosines, best first, of each row of ``vectors``."""
        if k < 1:
            raise CatalogError(f"top-k must be at least 1, got {k}")
        k = min(k, max(len(self.products), 1))  # never more result slots than products (a huge k allocates)
        vectors = np.atleast_2d(np.asarray(vectors, np.float32))
        if vectors.shape[1] != self.manifest.dims:
            raise CatalogError(f"query vectors have {vectors.shape[1]} dims, the catalog {self.manifest.dims}")
        if category is not None and category not in self.shards:
            raise CatalogCategoryError(
                f"category {category!r} has no products in {self.directory}; it has {self.categories}"
            )
        shards = {category: self.shards[category]} if category is not None else self.shards
        if where:
            return self._search_filtered(shards, vectors, k=k, where=where)
        return search_shards(shards, vectors, dtype=self.manifest.dtype, k=k)

    def _search_filtered(self, shards: dict, vectors: np.ndarray, *, k: int, where: Where):
        """Top ``k`` over ``shards`` among the products that pass ``where`` (keys -1 where fewer pass)."""
        stored = to_stored(vectors, self.manifest.dtype)
        signature = tuple(sorted((c, tuple(sorted(normalise(v) for v in vs))) for c, vs in where.items()))
        keys = np.full((len(stored), k), -1, np.int64)
        scores = np.full((len(stored), k), -np.inf, np.float32)
        for category, shard in shards.items():
            allowed = self._allowed.get((category, signature))
            if allowed is None:
                passing = self.attributes.keys(where)
                allowed = np.intersect1d(passing, self._category_keys.get(category, []), assume_unique=True)
                self._allowed[(category, signature)] = allowed
            if not len(allowed):
                continue
            found_keys, found_scores = self._filtered.search(shard, stored, allowed, k, cache_key=(category, signature))
            keys, scores = merge_top_k(keys, scores, found_keys, found_scores, k)
        keys[~np.isfinite(scores)] = -1
        return keys, scores

    def search(
        self,
        vector: np.ndarray,
        *,
        category: str | None = None,
        k: int = 10,
        colour: np.ndarray | None = None,
        colour_weight: float | None = None,
        where: Where | None = None,
    ) -> Matches:
        """Nearest products of one vector, re-ranked by ``colour`` where given, among those passing ``where``
        (see ``search_many``).

        Raises:
            CatalogCategoryError: ``category`` has no products in this catalog.
            CatalogFilterError: a filter column the catalog does not have.
            CatalogError: a vector of the wrong size, or a negative colour weight.
        """
        colours = None if colour is None else np.asarray(colour, np.float32)[None]
        return self.search_many(
            np.asarray(vector)[None], category=category, k=k, colours=colours, colour_weight=colour_weight, where=where
        )[0]

    def _matches(self, keys: np.ndarray, scores: np.ndarray, *, similarities: np.ndarray | None = None) -> Matches:
        found = []
        cosines = [None] * len(keys) if similarities is None else similarities.tolist()
        for key, score, cosine in zip(keys.tolist(), scores.tolist(), cosines, strict=True):
            row = self.products.get(key)
            if key < 0 or row is None:
                continue
            found.append(
                Match(
                    id=row["id"],
                    score=float(score),
                    category=row["category"],
                    title=row.get("title", ""),
                    file=row.get("file", ""),
                    attributes=row_attributes(row),
                    colour=tuple(row["colour"]) if row.get("colour") is not None else None,
                    similarity=cosine,
                )
            )
        return Matches(tuple(found))

    def close(self) -> None:
        self.shards = {}

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
