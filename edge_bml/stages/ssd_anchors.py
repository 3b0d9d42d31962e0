"""SSD anchor centres as MediaPipe's SsdAnchorsCalculator generates them (BlazePose's detector)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def _scale(min_scale: float, max_scale: float, index: int, count: int) -> float:
    if count == 1:
        return (min_scale + max_scale) / 2
    return min_scale + (max_scale - min_scale) * index / (count - 1)


def generate_anchors(options: dict[str, Any]) -> np.ndarray:
    """Anchors as an (N, 4) float32 array of (x_centre, y_centre, width, height), normalised to [0, 1].

    ``options`` holds the calculator's fields: num_layers, min_scale, max_scale, input_size_width,
    input_size_height, anchor_offset_x, anchor_offset_y, strides, aspect_ratios,
    reduce_boxes_in_lowest_layer, interpolated_scale_aspect_ratio, fixed_anchor_size.
    """
    strides = list(options["strides"])
    num_layers = int(options["num_layers"])
    if len(strides) != num_layers:
        raise ValueError(f"anchor options: {len(strides)} strides for {num_layers} layers")
    min_scale, max_scale = float(options["min_scale"]), float(options["max_scale"])
    interpolated = float(options.get("interpolated_scale_aspect_ratio", 1.0))
    reduce_lowest = bool(options.get("reduce_boxes_in_lowest_layer", False))
    fixed_size = bool(options.get("fixed_anchor_size", False))
    offset_x = float(options.get("anchor_offset_x", 0.5))
    offset_y = float(options.get("anchor_offset_y", 0.5))
    anchors: list[tuple[float, float, float, float]] = []
    layer = 0
    while layer < num_layers:
        ratios: list[float] = []
        scales: list[float] = []
        last = layer
        while last < num_layers and strides[last] == strides[layer]:
            scale = _scale(min_scale, max_scale, last, num_layers)
            if last == 0 and reduce_lowest:
                ratios += [1.0, 2.0, 0.5]
                scales += [0.1, scale, scale]
            else:
                for ratio in options["aspect_ratios"]:
                    ratios.append(float(ratio))
                    scales.append(scale)
                if interpolated > 0:
                    following = 1.0 if last == num_layers - 1 else _scale(min_scale, max_scale, last + 1, num_layers)
                    scales.append(math.sqrt(scale * following))
                    ratios.append(interpolated)
            last += 1
        sizes = [(s * math.sqrt(r), s / math.sqrt(r)) for s, r in zip(scales, ratios)]
        rows = math.ceil(int(options["input_size_height"]) / strides[layer])
        cols = math.ceil(int(options["input_size_width"]) / strides[layer])
        for y in range(rows):
            for x in range(cols):
                for width, height in sizes:
                    if fixed_size:
                        width = height = 1.0
                    anchors.append(((x + offset_x) / cols, (y + offset_y) / rows, width, height))
        layer = last
    return np.asarray(anchors, dtype=np.float32)
