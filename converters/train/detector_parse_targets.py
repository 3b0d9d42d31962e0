"""Garment-parsing targets for the detector's auxiliary loss (``train detector --parse-weight``).

CCP labels every pixel of its photos, not only boxes. A box says roughly where a belt or a scarf is;
the label map says which pixels are the belt. With ``--parse-weight``, training also asks the
detector's stride-8 features to predict, for each grid cell, the share of each parser class
(background, skin, hair and the 12 articles) in that cell. The head that reads them is dropped at
export: the exported network, its ONNX file and its latency are those of the plain detector.
Photos without a label map (pseudo-labelled ones) and pasted articles carry no parsing target.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from converters.train.detector_dataset import CcpRecord
from converters.train.parser_dataset import load_parser_records, read_class_map
from converters.train.torch_models.article_detector import STRIDES
from edge_bml.data_fetch.parser_labels import PARSER_CLASSES

PARSE_STRIDE = STRIDES[0]  # the pyramid's finest level, which the parsing head reads


def load_class_maps(data_dir: Path, records: Iterable[CcpRecord]) -> dict[str, np.ndarray]:
    """The parser class map (H, W) uint8 of each record that is a CCP photo with a label map, by photo path.

    Raises:
        ParserDatasetError: ``ccp/annotations.json`` is missing or malformed, or a label map is missing or
            not an 8-bit single-channel image.
    """
    parser_records, table = load_parser_records(Path(data_dir), split=None)
    maps = {str(record.photo): record.label_map for record in parser_records}
    return {str(r.path): read_class_map(maps[str(r.path)], table) for r in records if str(r.path) in maps}


def cell_shares(class_maps: np.ndarray, known: np.ndarray, *, stride: int = PARSE_STRIDE):
    """Each cell's share of every parser class, (B, C, H/stride, W/stride) float, and a cell weight
    (B, H/stride, W/stride): 1 where every pixel of the cell has a known label, else 0.

    ``class_maps`` (B, H, W) holds parser class ids; ``known`` (B, H, W) marks the pixels whose label
    is known. A one-pixel belt keeps a share of its cells, which a nearest-neighbour downscale would lose.

    Raises:
        ValueError: the maps are not (B, H, W) with H and W multiples of ``stride``.
    """
    import torch
    import torch.nn.functional as F

    if class_maps.ndim != 3 or class_maps.shape[1] % stride or class_maps.shape[2] % stride:
        raise ValueError(f"class maps must be (B, H, W) with H and W multiples of {stride}, got {class_maps.shape}")
    ids = torch.from_numpy(np.ascontiguousarray(class_maps)).long()
    one_hot = F.one_hot(ids, len(PARSER_CLASSES)).permute(0, 3, 1, 2).float()
    shares = F.avg_pool2d(one_hot, stride)
    known_share = F.avg_pool2d(torch.from_numpy(np.ascontiguousarray(known, np.float32))[:, None], stride)[:, 0]
    return shares, (known_share > 0.999).float()
