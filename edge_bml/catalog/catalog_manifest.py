"""``catalog.json``: what a catalog folder holds and which embedder made its vectors."""

from __future__ import annotations

import json
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from edge_bml.catalog.vectors import DTYPES, METRIC
from edge_bml.catalog.verification_stamp import stamp_matches, write_stamp
from edge_bml.errors import CatalogEmbedderMismatchError, CatalogError, CatalogIntegrityError
from edge_bml.manifest import sha256_file, write_json_atomic

CATALOG_MANIFEST = "catalog.json"
PRODUCTS_FILE = "products.jsonl"
REPORT_FILE = "build_report.json"
SHARDS_DIR = "shards"
SCHEMA = 1


@dataclass(frozen=True)
class CatalogManifest:
    """Embedder identity, storage and counts of one catalog."""

    embedder_name: str
    embedder_sha256: str
    dims: int
    dtype: str
    metric: str
    counts: dict[str, int]
    built_at: str
    columns: dict[str, Any] = field(default_factory=dict)
    source: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    # How colour joins the ranking: {"space", "product_colour", "weight", "candidates"}; empty: not at all.
    colour: dict[str, Any] = field(default_factory=dict)
    # {relative path: {"size": bytes, "sha256": hex}} of every shard and the product table; empty in
    # catalogs built before it was recorded (their files are then not checked).
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    # {category: n} for categories split into n hash partitions (shards/<category>.<i>.usearch); others: 1.
    partitions: dict[str, int] = field(default_factory=dict)
    # {column: [values]}: the attribute filter every search applies unless told otherwise (`--default-where`).
    default_where: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def to_json(self) -> dict[str, Any]:
        return {"schema": SCHEMA, **asdict(self), "total": self.total}


def check_embedder(directory: str | Path, manifest: CatalogManifest, name: str, sha256: str) -> None:
    """Refuse an embedder other than the one that built the catalog: its vectors are not comparable.

    Raises:
        CatalogEmbedderMismatchError: ``sha256`` is not the catalog's embedder's.
    """
    if sha256 != manifest.embedder_sha256:
        raise CatalogEmbedderMismatchError(
            f"{directory} was built with embedder {manifest.embedder_name} ({manifest.embedder_sha256[:12]}...), "
            f"not {name} ({sha256[:12]}...): its vectors are not comparable; install the variant "
            f"{manifest.embedder_name} that built it, or rebuild the catalog with the embedder you have "
            "(`edge-bml catalog build ... --embedder NAME`)"
        )


def shard_path(directory: Path, category: str) -> Path:
    """Where one category's USearch index lives (an unpartitioned category)."""
    return directory / SHARDS_DIR / f"{category}.usearch"


def shard_paths(directory: Path, category: str, partitions: int = 1) -> list[Path]:
    """The USearch files of one category: one, or one per hash partition."""
    if partitions <= 1:
        return [shard_path(directory, category)]
    return [directory / SHARDS_DIR / f"{category}.{i}.usearch" for i in range(partitions)]


def partition_of(product_id: str, partitions: int) -> int:
    """The hash partition a product belongs to (stable across machines and runs)."""
    return zlib.crc32(product_id.encode("utf-8")) % partitions if partitions > 1 else 0


def read_catalog_manifest(directory: str | Path) -> CatalogManifest:
    """Read and check ``catalog.json``.

    Raises:
        CatalogError: the folder is not a catalog or its manifest is damaged.
    """
    path = Path(directory) / CATALOG_MANIFEST
    if not path.is_file():
        raise CatalogError(
            f"{directory} is not a catalog: no {CATALOG_MANIFEST} (build one with `edge-bml catalog build`)"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            kind = type(data).__name__
            raise CatalogError(f"{path}: damaged catalog manifest: a JSON object is expected, not a {kind}")
        if data.get("schema") != SCHEMA:
            raise CatalogError(f"{path}: schema {data.get('schema')} is not supported (this edge_bml reads {SCHEMA})")
        manifest = CatalogManifest(
            embedder_name=str(data["embedder_name"]),
            embedder_sha256=str(data["embedder_sha256"]),
            dims=int(data["dims"]),
            dtype=str(data["dtype"]),
            metric=str(data["metric"]),
            counts={str(k): int(v) for k, v in data["counts"].items()},
            built_at=str(data["built_at"]),
            columns=dict(data.get("columns", {})),
            source=dict(data.get("source", {})),
            metrics=dict(data.get("metrics", {})),
            colour=dict(data.get("colour", {})),
            files={
                str(k): {"size": int(v["size"]), "sha256": str(v["sha256"])} for k, v in data.get("files", {}).items()
            },
            partitions={str(k): int(v) for k, v in data.get("partitions", {}).items()},
            default_where={str(k): tuple(str(x) for x in v) for k, v in data.get("default_where", {}).items()},
        )
    except OSError as error:
        raise CatalogError(f"{path}: cannot be read ({error.strerror or error})") from None
    except (json.JSONDecodeError, AttributeError, KeyError, TypeError, ValueError, RecursionError) as error:
        raise CatalogError(f"{path}: damaged catalog manifest: {error}") from error
    _check_storage(path, manifest)
    return manifest


def _check_storage(path: Path, manifest: CatalogManifest) -> None:
    """Refuse values no search could use, at open rather than at the first query."""
    if manifest.dtype not in DTYPES:
        raise CatalogError(f"{path}: dtype {manifest.dtype!r} is not one of {DTYPES}; rebuild the catalog")
    if manifest.metric != METRIC:
        raise CatalogError(f"{path}: metric {manifest.metric!r} is not {METRIC!r}; rebuild the catalog")
    if manifest.dims < 1:
        raise CatalogError(f"{path}: dims must be a positive number, got {manifest.dims}")
    negative = [category for category, count in manifest.counts.items() if count < 0]
    if negative:
        raise CatalogError(f"{path}: negative product counts for {negative}; rebuild the catalog")


def write_catalog_manifest(directory: Path, manifest: CatalogManifest) -> None:
    """Write ``catalog.json`` atomically."""
    write_json_atomic(directory / CATALOG_MANIFEST, manifest.to_json())


def read_products_file(directory: Path) -> list[dict[str, Any]]:
    """The product rows of a catalog (one JSON object a line, each with its shard ``key``).

    Raises:
        CatalogError: the file is missing or damaged.
    """
    path = directory / PRODUCTS_FILE
    if not path.is_file():
        raise CatalogError(f"{directory}: {PRODUCTS_FILE} is missing; rebuild the catalog")
    rows = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            row = json.loads(line)
            if not isinstance(row, dict) or any(k not in row for k in ("key", "id", "category")):
                raise CatalogError(
                    f"{path} line {number}: a product row needs key, id and category; rebuild the catalog"
                )
            row["key"] = int(row["key"])
            rows.append(row)
    except (json.JSONDecodeError, UnicodeDecodeError, TypeError, ValueError) as error:
        raise CatalogError(f"{path}: damaged: {error}; rebuild the catalog") from error
    return rows


def catalog_files(directory: Path, counts: dict[str, int], partitions: dict[str, int] | None = None) -> list[str]:
    """The files of a catalog that ``catalog.json`` records: each category's shard(s) and the product table."""
    partitions = partitions or {}
    names = [
        path.relative_to(directory).as_posix()
        for category in sorted(counts)
        for path in shard_paths(directory, category, partitions.get(category, 1))
    ]
    return names + [PRODUCTS_FILE]


def file_records(
    directory: Path, counts: dict[str, int], partitions: dict[str, int] | None = None
) -> dict[str, dict[str, Any]]:
    """``{path: {"size", "sha256"}}`` of a catalog's files, as ``catalog.json`` records them."""
    return {
        name: {"size": (directory / name).stat().st_size, "sha256": sha256_file(directory / name)}
        for name in catalog_files(directory, counts, partitions)
    }


def verify_catalog_files(
    directory: str | Path, manifest: CatalogManifest, *, hashes: bool = True, use_stamp: bool = False
) -> int:
    """Check the catalog's files against ``catalog.json``: shards match ``counts``, sizes and (with ``hashes``) sha256.

    Every file must have its record: a ``catalog.json`` without ``files`` (as one edit would make it) is
    refused, never read as a catalog with nothing to check. With ``use_stamp``, hashing is skipped where
    a verification stamp (``verification_stamp``) shows the files unchanged since they last matched; a
    full match writes that stamp. Returns the number of
    files whose size (and hash) were checked.

    Raises:
        CatalogIntegrityError: a file is missing, extra, unrecorded, or differs from its record.
    """
    directory = Path(directory)
    rebuild = "rebuild the catalog (`edge-bml catalog build`)"
    on_disk = {p.name for p in (directory / SHARDS_DIR).glob("*.usearch")}
    wanted = {n.split("/", 1)[1] for n in catalog_files(directory, manifest.counts, manifest.partitions)[:-1]}
    extra = sorted(name.removesuffix(".usearch") for name in on_disk - wanted)
    if extra:
        raise CatalogIntegrityError(
            f"{directory}: shard(s) {extra} are not in catalog.json's counts: the manifest is damaged; {rebuild}"
        )
    if not manifest.files:
        raise CatalogIntegrityError(
            f"{directory}: catalog.json records no file sizes and sha256, so nothing could be checked "
            f"(it was edited, or built by an edge_bml before they were kept); {rebuild}"
        )
    expected = set(catalog_files(directory, manifest.counts, manifest.partitions))
    if set(manifest.files) != expected:
        raise CatalogIntegrityError(
            f"{directory}: catalog.json records files {sorted(manifest.files)} but its counts need "
            f"{sorted(expected)}: the manifest is damaged; {rebuild}"
        )
    if hashes and use_stamp and stamp_matches(directory, manifest.files):
        hashes = False
        use_stamp = False  # nothing new to record
    for name, record in manifest.files.items():
        path = directory / name
        try:
            size = path.stat().st_size
        except OSError as error:
            reason = error.strerror or error
            raise CatalogIntegrityError(f"{path}: missing or unreadable ({reason}); {rebuild}") from error
        if size != record["size"]:
            raise CatalogIntegrityError(
                f"{path}: {size} bytes, catalog.json records {record['size']}: the file is damaged; {rebuild}"
            )
        if hashes and sha256_file(path) != record["sha256"]:
            raise CatalogIntegrityError(f"{path}: sha256 differs from catalog.json: the file is damaged; {rebuild}")
    if hashes and use_stamp:
        write_stamp(directory, manifest.files)
    return len(manifest.files)


def product_row(key: int, product, colour) -> dict[str, Any]:
    """One line of ``products.jsonl``: shard key, id, category, title, file, attributes (the table's other
    columns) and garment colour (CIELAB)."""
    return {
        "key": int(key),
        "id": product.id,
        "category": product.category,
        "title": product.title,
        "file": product.file,
        "attributes": product.attributes,
        "colour": [round(float(v), 2) for v in colour],
    }


def write_products_file(directory: Path, rows: list[dict[str, Any]]) -> None:
    """Write the product rows (inside a staging folder, so no atomic rename is needed here)."""
    with open(directory / PRODUCTS_FILE, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
