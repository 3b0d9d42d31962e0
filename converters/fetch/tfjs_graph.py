"""Weights of a TensorFlow.js graph model (``model.json`` + ``.bin`` shards) read with numpy alone.

A graph model lists its weights in ``weightsManifest``: each group names its shard files, which hold
the weights back to back in the listed order. Float weights may be stored quantized (``float16``, or
``uint8``/``uint16`` with ``scale`` and ``min``); they are turned back into float32 here, as TFJS does
when it loads them. No TensorFlow is needed.
"""

from __future__ import annotations

import json

import numpy as np

from edge_bml.errors import EdgeBmlError

_PLAIN = {"float32": np.float32, "int32": np.int32, "bool": np.bool_}
_QUANTIZED = {"float16": np.float16, "uint8": np.uint8, "uint16": np.uint16}


class GraphModelError(EdgeBmlError):
    """A TensorFlow.js graph model that cannot be read: bad JSON, a missing shard, a size that does not add up."""


def read_graph_weights(model_json: bytes, read_shard) -> tuple[dict, dict[str, np.ndarray]]:
    """The model's JSON and its weights by name, as float32 (int32/bool kept).

    ``read_shard(path)`` returns the bytes of a shard file named in the manifest.

    Raises:
        GraphModelError: not a graph model, a shard missing or of the wrong size, an unknown dtype.
    """
    try:
        model = json.loads(model_json)
        groups = model["weightsManifest"]
    except (ValueError, KeyError, TypeError) as error:
        raise GraphModelError(f"not a TensorFlow.js graph model JSON: {error}") from error
    weights: dict[str, np.ndarray] = {}
    for group in groups:
        data = b"".join(read_shard(path) for path in group["paths"])
        offset = 0
        for spec in group["weights"]:
            shape = [int(size) for size in spec["shape"]]
            count = int(np.prod(shape)) if shape else 1
            quantization = spec.get("quantization")
            if quantization:
                stored = _QUANTIZED.get(quantization["dtype"])
            else:
                stored = _PLAIN.get(spec["dtype"])
            if stored is None:
                raise GraphModelError(f"weight {spec['name']}: unknown dtype {quantization or spec['dtype']}")
            size = count * np.dtype(stored).itemsize
            if offset + size > len(data):
                raise GraphModelError(f"weight {spec['name']} runs past the end of its shards ({group['paths']})")
            values = np.frombuffer(data, stored, count, offset).reshape(shape)
            offset += size
            if quantization and quantization["dtype"] != "float16":
                values = values.astype(np.float32) * quantization["scale"] + quantization["min"]
            weights[spec["name"]] = values.astype(np.float32) if values.dtype == np.float16 else values.copy()
        if offset != len(data):
            raise GraphModelError(f"shards {group['paths']} hold {len(data)} bytes, the manifest lists {offset}")
    return model, weights
