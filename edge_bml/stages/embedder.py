"""Article embedder stage: article crops in, L2-normalised vectors out (cosine = dot product)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from edge_bml.errors import ImageError, ManifestError
from edge_bml.stages.inputs import embedder_input
from edge_bml.stages.model_stage import ModelStage


class ArticleEmbedder(ModelStage):
    """Embeds RGB article crops in batches with any ``embedder`` variant (ONNX, OpenVINO, LiteRT)."""

    task = "embedder"

    @property
    def dims(self) -> int:
        """Length of the output vectors."""
        return int(self.manifest.decoder.get("dims") or self.model.backend.outputs[0].shape[-1])

    @property
    def max_batch(self) -> int | None:
        """The model's fixed batch size, or None where the batch axis is dynamic."""
        first = self.model.backend.inputs[0].shape[0]
        return first if first > 0 else None

    def preprocess(self, rgb: np.ndarray) -> np.ndarray:
        """One HxWx3 uint8 RGB crop -> the model's input tensor (batch of one).

        Raises:
            ImageError: the crop is empty or not HxWx3.
        """
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.shape[0] == 0 or rgb.shape[1] == 0:
            raise ImageError(f"an article crop must be a non-empty HxWx3 RGB image, got shape {rgb.shape}")
        return embedder_input(self.manifest, rgb)

    def embed(self, crops: Sequence[np.ndarray], *, batch_size: int = 16) -> np.ndarray:
        """Vectors of ``crops`` as an ``(N, dims)`` float32 array, each row of unit length.

        Raises:
            ImageError: a crop is empty or not HxWx3.
            InputSpecError: the model rejects the tensor.
            ManifestError: the model gives another number of vectors than crops (a batch it does not embed).
        """
        if len(crops) == 0:
            return np.zeros((0, self.dims), np.float32)
        step = self.max_batch or max(1, batch_size)
        out = []
        for start in range(0, len(crops), step):
            tensors = [self.preprocess(crop) for crop in crops[start : start + step]]
            batch = np.concatenate(tensors)
            if self.max_batch and len(batch) < self.max_batch:
                fill = np.repeat(batch[-1:], self.max_batch - len(batch), axis=0)
                out.append(self._vectors(np.concatenate([batch, fill]))[: len(tensors)])
            else:
                out.append(self._vectors(batch))
        return np.concatenate(out)

    def _vectors(self, batch: np.ndarray) -> np.ndarray:
        raw = np.asarray(self.infer(batch)["embedding"], np.float32)
        if raw.ndim == 0 or raw.shape[0] != len(batch):
            raise ManifestError(
                f"{self.manifest.name}: {len(batch)} crops in, {raw.shape[0] if raw.ndim else 0} vectors out "
                f"(output shape {raw.shape}): the model does not embed a batch one row per crop"
            )
        raw = raw.reshape(len(batch), -1)
        norms = np.linalg.norm(raw, axis=1, keepdims=True)
        return raw / np.maximum(norms, 1e-12)
