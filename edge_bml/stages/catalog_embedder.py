"""The embedder that goes with a catalog: a variant folder, a variant name, or the catalog's own.

``catalog/`` stays about storage; opening models for it happens here, and the check that the
embedder is the catalog's own happens once, in ``Catalog.check_embedder``.
"""

from __future__ import annotations

from pathlib import Path

from edge_bml.catalog.catalog_manifest import CatalogManifest
from edge_bml.errors import ModelNotFoundError
from edge_bml.manifest import ModelManifest, load_manifest
from edge_bml.model_registry import models_dir, select_variant
from edge_bml.stages.embedder import ArticleEmbedder


def embedder_spec_for(catalog_dir: Path, manifest: CatalogManifest, spec: str | None) -> str | None:
    """``spec``, else the variant kept beside the catalog folder under the catalog's embedder name (the
    naive baseline's variant is not installed), else None (the installed one)."""
    if spec is not None:
        return spec
    beside = Path(catalog_dir).parent / manifest.embedder_name
    return str(beside) if (beside / "manifest.json").is_file() else None


def embedder_variant(
    spec: str | None, *, catalog: CatalogManifest | None = None, threads: int | None = None
) -> ModelManifest:
    """The manifest of ``spec`` (a variant folder or a name under the models folder); without it, the
    variant that built ``catalog`` where installed, else the best installed ``embedder`` variant.

    Raises:
        ModelNotFoundError: no such variant is installed.
    """
    if spec:
        path = Path(spec)
        if not path.is_dir():
            path = models_dir() / spec
        if not path.is_dir():
            raise ModelNotFoundError(f"embedder {spec!r} is neither a variant folder nor a name under {models_dir()}")
        return load_manifest(path)
    if catalog is not None:
        path = models_dir() / catalog.embedder_name
        if path.is_dir():
            return load_manifest(path)
    return select_variant("embedder", threads=threads)


def open_embedder(
    spec: str | None, *, catalog: CatalogManifest | None = None, threads: int | None = None
) -> ArticleEmbedder:
    """Load the embedder ``embedder_variant`` names.

    Raises:
        ModelNotFoundError: no such variant is installed.
    """
    return ArticleEmbedder(embedder_variant(spec, catalog=catalog, threads=threads), threads=threads)


def open_catalog_embedder(catalog, *, threads: int | None = None) -> ArticleEmbedder:
    """The embedder that built ``catalog`` (an open ``Catalog``), checked against it.

    Raises:
        ModelNotFoundError: no embedder is installed; CatalogEmbedderMismatchError: the installed variant of
        that name is another model than the one that built the catalog.
    """
    embedder = open_embedder(None, catalog=catalog.manifest, threads=threads)
    try:
        catalog.check_embedder(embedder)
    except BaseException:
        embedder.close()
        raise
    return embedder
