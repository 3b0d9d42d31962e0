"""Typed errors: each says what went wrong and what to do about it."""

from __future__ import annotations


class EdgeBmlError(Exception):
    """Base class of every error edge_bml raises on purpose."""


class BackendUnavailableError(EdgeBmlError):
    """The inference runtime a model needs is not installed."""


class ModelNotFoundError(EdgeBmlError, FileNotFoundError):
    """A model file or manifest is missing."""


class ModelLoadError(EdgeBmlError):
    """A model file exists but the runtime cannot read it (corrupt or wrong format)."""


class ChecksumMismatchError(EdgeBmlError):
    """A model file's sha256 differs from the one its manifest records."""


class ManifestError(EdgeBmlError, ValueError):
    """A manifest is missing a field or holds a value of the wrong kind."""


class InputSpecError(EdgeBmlError, ValueError):
    """Inputs passed to a model do not match its names, shapes or dtypes."""


class ImageError(EdgeBmlError, ValueError):
    """An image cannot be used: unreadable, empty, truncated or of an unknown format."""


class ImageTooLargeError(ImageError):
    """An image is over the pixel limit (or claims to be: a decompression bomb)."""


class CatalogError(EdgeBmlError):
    """A product catalog cannot be built, opened or searched as asked."""


class CatalogColumnError(CatalogError, ValueError):
    """The product table lacks a column the catalog build was told to use."""


class CatalogFilterError(CatalogError, ValueError):
    """An attribute filter (``--where``) is malformed or names a column the catalog does not have."""


class CatalogIntegrityError(CatalogError):
    """A catalog file differs from what ``catalog.json`` records (size, sha256 or counts): it is damaged."""


class CatalogEmbedderMismatchError(CatalogError):
    """The catalog's vectors were made by another embedder than the one given to search it."""


class CatalogCategoryError(CatalogError, KeyError):
    """A category was asked for that the catalog has no products in."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class EvaluationDataError(EdgeBmlError, ValueError):
    """An annotations file for evaluation is missing, malformed or selects no images."""


class CatalogBusyError(CatalogError):
    """Another process is writing the catalog (build, add or remove) and did not finish in time."""


class CatalogOutputError(CatalogError):
    """A catalog would be written over something that is not a catalog (a file, or a folder of other files)."""


class OutputFileError(EdgeBmlError, OSError):
    """A result file (``--draw``, ``--html``) cannot be written where it was asked for."""


class CatalogDiskFullError(CatalogError, OSError):
    """The disk filled up while a catalog (or its embedding cache) was written; what was written is removed."""


class JobTimeoutError(EdgeBmlError):
    """A look ran past its deadline (a server's ``--job-timeout``) and was stopped."""
