"""Reading a product table (CSV) into catalog rows, checking the columns it was told to use."""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from edge_bml.errors import CatalogColumnError, CatalogError


@dataclass(frozen=True)
class ColumnMap:
    """Which CSV columns hold the id, image file, category and (optionally) title."""

    id: str = "id"
    file: str = "file"
    category: str = "category"
    title: str | None = None


@dataclass(frozen=True)
class Product:
    """One catalog row; ``image`` is where its photo is read from at build time (a path, or a URI on Ray)."""

    id: str
    category: str
    title: str
    file: str
    image: Path | str
    attributes: dict[str, str] = field(default_factory=dict)  # every other column of the table, by name


@dataclass(frozen=True)
class SkippedRow:
    """A CSV row that could not become a product, and why."""

    line: int
    id: str
    reason: str


SAFE_CATEGORY = re.compile(r"[a-z0-9_-]+")
# Category names become shard file names (``NAME.usearch``, ``NAME.12.usearch``): well under 255 bytes.
MAX_CATEGORY_CHARS = 100


def category_name(value: str) -> str | None:
    """The catalog's name of a category value (lower case, spaces as ``_``), or None when it is not safe.

    Category names become shard file names, so only ``[a-z0-9_-]+`` of at most ``MAX_CATEGORY_CHARS``
    is accepted: no ``/``, ``..`` or other characters that could write outside the catalog, and no
    name too long for a file system.
    """
    name = "_".join(value.strip().lower().split(" "))
    return name if len(name) <= MAX_CATEGORY_CHARS and SAFE_CATEGORY.fullmatch(name) else None


class UnusableFileError(ValueError):
    """A product's file column cannot name a photo (the reason is the message)."""


def locate_image(images_dir: Path, file: str) -> Path:
    """Where ``file`` (relative to ``images_dir``) resolves, symlinks followed.

    Raises:
        UnusableFileError: ``file`` is absolute, holds a NUL byte, resolves outside the folder, or cannot be
            resolved (a symlink loop, a name too long).
    """
    if "\x00" in file:
        raise UnusableFileError(f"file {file!r} holds a NUL byte")
    if not file or os.path.isabs(file):
        raise UnusableFileError(f"file {file!r} is not inside the images folder {images_dir}")
    try:
        root = images_dir.resolve()
        image = (root / file).resolve()
    except (OSError, RuntimeError) as error:  # RuntimeError: a symlink loop (Python 3.11/3.12)
        raise UnusableFileError(f"file {file!r} cannot be resolved: {error}") from None
    if image == root or not image.is_relative_to(root):
        raise UnusableFileError(f"file {file!r} is not inside the images folder {images_dir}")
    return image


def confined_image(images_dir: Path, file: str) -> Path | None:
    """Where ``file`` (relative to ``images_dir``) resolves, symlinks followed, or None when outside the folder
    or unresolvable (``locate_image``'s reasons)."""
    try:
        return locate_image(images_dir, file)
    except UnusableFileError:
        return None


def _read_text(items_csv: Path) -> str:
    try:
        data = items_csv.read_bytes()
    except OSError as error:
        raise CatalogError(f"product table {items_csv} cannot be read: {error.strerror or error}") from None
    if data.startswith(b"PAR1") or items_csv.suffix.lower() == ".parquet":
        raise CatalogError(
            f"{items_csv} is a Parquet table, which a local build does not read; build it with --engine ray, "
            "or convert it to a UTF-8 CSV file"
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise CatalogError(
            f"{items_csv} line {line}: not UTF-8 text (byte 0x{data[error.start]:02x} at offset {error.start}); "
            "save the product table as UTF-8 (e.g. `iconv -f latin1 -t utf-8`)"
        ) from error


def read_products(items_csv: Path, images_dir: Path, *, columns: ColumnMap) -> tuple[list[Product], list[SkippedRow]]:
    """Products of a CSV; rows with an empty id or category are returned as skipped, not fatal.

    So are rows whose category is not a safe name (``category_name``) and rows whose file is
    absolute or resolves (symlinks followed) outside ``images_dir``. A UTF-8 BOM is ignored.

    Raises:
        CatalogError: the CSV is missing, not UTF-8, empty or repeats an id.
        CatalogColumnError: a named column is not in the CSV header.
    """
    if not items_csv.is_file():
        what = "is a folder, not a file" if items_csv.is_dir() else "not found"
        raise CatalogError(f"product table {items_csv} {what}")
    text = _read_text(items_csv)
    with io.StringIO(text, newline="") as handle:
        reader = csv.DictReader(handle)
        try:
            header = list(reader.fieldnames or ())
            return products_from_rows(
                enumerate(reader, start=2),
                header,
                columns=columns,
                table=str(items_csv),
                locate=lambda file: locate_image(images_dir, file),
                images=str(images_dir),
            )
        except csv.Error as error:
            raise CatalogError(
                f"{items_csv} line {reader.line_num + 1}: {error}; a field that long usually means an unclosed quote "
                "(check that line's quotes)"
            ) from None


def products_from_rows(
    rows: Iterable[tuple[int, dict]],
    header: list[str],
    *,
    columns: ColumnMap,
    table: str,
    locate: Callable[[str], Path | str | None],
    images: str,
) -> tuple[list[Product], list[SkippedRow]]:
    """Products of (line, row) pairs from any table format; ``locate(file)`` gives where a photo is read
    from, or None (or raises ``UnusableFileError`` with the reason) where the file must not be read
    (outside the images folder).

    Raises:
        CatalogError: the table has no header or repeats an id.
        CatalogColumnError: a named column is not in the header.
    """
    if not header:
        raise CatalogError(f"{table} is empty: it needs a header row")
    wanted = [c for c in (columns.id, columns.file, columns.category, columns.title) if c]
    missing = [c for c in wanted if c not in header]
    if missing:
        raise CatalogColumnError(
            f"{table} has no column(s) {missing}; its columns are {header} "
            "(pick others with --id-col/--file-col/--category-col/--title-col)"
        )
    core = {columns.id, columns.file, columns.category}  # every other column (the title's too) is an attribute
    products, skipped, seen = [], [], set()
    for line, row in rows:
        product_id = str(row.get(columns.id) or "").strip()
        category = str(row.get(columns.category) or "").strip()
        if not product_id or not category:
            skipped.append(SkippedRow(line, product_id, "empty id" if not product_id else "empty category"))
            continue
        if product_id in seen:
            raise CatalogError(f"{table} line {line}: id {product_id!r} appears twice")
        seen.add(product_id)
        name = category_name(category)
        if name is None and len(category) > MAX_CATEGORY_CHARS:
            reason = f"category of {len(category)} characters is too long (at most {MAX_CATEGORY_CHARS})"
            skipped.append(SkippedRow(line, product_id, reason))
            continue
        if name is None:
            reason = f"category {category!r} is not a safe name (letters, digits, '_' and '-' only)"
            skipped.append(SkippedRow(line, product_id, reason))
            continue
        file = str(row.get(columns.file) or "").strip()
        try:
            image = locate(file) if file else None
        except UnusableFileError as error:
            skipped.append(SkippedRow(line, product_id, str(error)))
            continue
        if image is None:
            reason = f"file {file!r} is not inside the images folder {images}" if file else "empty file"
            skipped.append(SkippedRow(line, product_id, reason))
            continue
        products.append(
            Product(
                id=product_id,
                category=name,
                title=str(row.get(columns.title) or "").strip() if columns.title else "",
                file=file,
                image=image,
                attributes={k: "" if v is None else str(v) for k, v in row.items() if k not in core and k is not None},
            )
        )
    return products, skipped
