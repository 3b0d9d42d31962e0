"""Embeddings computed so far by a catalog build, kept beside the target so ``--resume`` can reuse them."""

from __future__ import annotations

import json
import shutil
import sys
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from edge_bml.catalog.staging import disk_full

# Finished chunks only: ``chunk_NNNNNN.tmp.npz`` is one being written (or left by a killed build).
CHUNK_GLOB = "chunk_[0-9][0-9][0-9][0-9][0-9][0-9].npz"


class EmbeddingCache:
    """Chunks of ``(ids, vectors)`` and the failures seen, valid only for one build ``key``."""

    def __init__(self, target: Path, key: dict, *, resume: bool) -> None:
        self.folder = target.with_name(f".{target.name}.embeddings")
        self.key = key
        if not resume or self._stored_key() != key:
            shutil.rmtree(self.folder, ignore_errors=True)
        with self._removed_when_the_disk_is_full():
            self.folder.mkdir(parents=True, exist_ok=True)
            (self.folder / "key.json").write_text(json.dumps(key, sort_keys=True))

    @contextmanager
    def _removed_when_the_disk_is_full(self) -> Iterator[None]:
        """Turn a full disk into ``CatalogDiskFullError``, removing the cache (a full disk keeps nothing)."""
        try:
            yield
        except OSError as error:
            full = disk_full(error, self.folder)
            if full is None:
                raise
            self.remove()
            raise full from None

    def _stored_key(self) -> dict | None:
        try:
            return json.loads((self.folder / "key.json").read_text())
        except (OSError, json.JSONDecodeError):
            return None

    def load(self) -> tuple[dict[str, np.ndarray], dict[str, str], dict[str, np.ndarray]]:
        """Vectors by id, failure reasons by id and product colours (CIELAB) by id from earlier chunks."""
        vectors, failures, colours = {}, {}, {}
        for stale in self.folder.glob("chunk_*.tmp.npz"):
            stale.unlink(missing_ok=True)
        for chunk in self._chunks():
            try:
                with np.load(chunk, allow_pickle=False) as data:
                    ids = data["ids"].tolist()
                    chunk_vectors = dict(zip(ids, data["vectors"], strict=True))
                    chunk_colours = dict(zip(ids, data["colours"], strict=True))
                    failed = zip(data["failed_ids"].tolist(), data["failed_reasons"].tolist(), strict=True)
                    chunk_failures = dict(failed)
            except (OSError, EOFError, KeyError, ValueError, zipfile.BadZipFile) as error:
                chunk.unlink(missing_ok=True)
                print(
                    f"{chunk}: damaged ({error}); dropped it, its products are embedded again",
                    file=sys.stderr,
                    flush=True,
                )
                continue
            vectors.update(chunk_vectors)
            colours.update(chunk_colours)
            failures.update(chunk_failures)
        return vectors, failures, colours

    def _chunks(self) -> list[Path]:
        return sorted(self.folder.glob(CHUNK_GLOB))

    def chunk_count(self) -> int:
        """The next chunk's number: one past the highest finished chunk (a dropped chunk leaves a gap)."""
        return max((int(chunk.name[6:12]) for chunk in self._chunks()), default=-1) + 1

    def save_chunk(
        self,
        number: int,
        vectors: dict[str, np.ndarray],
        failures: dict[str, str],
        colours: dict[str, np.ndarray],
    ) -> None:
        """Write one finished chunk (aside, then renamed).

        Raises:
            CatalogDiskFullError: the disk is full (the cache is removed then).
        """
        tmp = self.folder / f"chunk_{number:06d}.tmp.npz"
        with self._removed_when_the_disk_is_full():
            np.savez(
                tmp,
                ids=np.asarray(list(vectors), dtype=str),
                vectors=np.stack(list(vectors.values())) if vectors else np.zeros((0, 1), np.float32),
                colours=np.stack([colours[i] for i in vectors]) if vectors else np.zeros((0, 3), np.float32),
                failed_ids=np.asarray(list(failures), dtype=str),
                failed_reasons=np.asarray(list(failures.values()), dtype=str),
            )
            tmp.replace(self.folder / f"chunk_{number:06d}.npz")

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
