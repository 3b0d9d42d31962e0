"""One garment per place: resolve detections of mutually exclusive categories on the same region.

Where two boxes of an exclusive pair (pants, shorts, skirt or dress; top or dress) overlap at IoU > ``iou``,
the better-scored one stays and the other is demoted below its category's shown threshold (still listed
with ``--all-detections``). A top on the very place of a better outerwear box (IoU > ``worn_over_iou``),
and a box lying mostly inside a better one of its own category, are demoted too. The rules and their
settings come from the detector manifest's ``decoder.exclusive``. Why these rules: the decision record
``docs/decisions/exclusive-articles.md``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from edge_bml.errors import ManifestError
from edge_bml.geometry import box_iou, share_inside

DEFAULT_GROUPS = (("pants", "shorts", "skirt", "dress"), ("top", "dress"))


@dataclass(frozen=True)
class ExclusiveRule:
    """Which categories exclude each other (``groups``), from what overlap, and how hard."""

    groups: tuple[tuple[str, ...], ...] = DEFAULT_GROUPS
    iou: float = 0.5
    penalty: float = 0.3
    # A box lying this much (of its own area) inside a better-scored box of its own category is a second
    # guess at the same garment: on CCP val, 10 of the 12 such shown boxes matched nothing the outer one
    # missed (benchmarks/contained_boxes_study.py).
    contained: float = 0.7
    # (outer, under) categories: a box of ``under`` on the place of a better-scored ``outer`` box at
    # IoU > ``worn_over_iou`` is demoted (one direction only).
    worn_over: tuple[tuple[str, str], ...] = (("outerwear", "top"),)
    worn_over_iou: float = 0.8

    @classmethod
    def from_decoder(cls, decoder: Mapping) -> ExclusiveRule | None:
        """The rule in a detector manifest's ``decoder.exclusive`` (None where it has none).

        Raises:
            ManifestError: the entry is malformed.
        """
        entry = decoder.get("exclusive")
        if entry is None:
            return None
        try:
            groups = tuple(tuple(str(name) for name in group) for group in entry["groups"])
            worn_over = tuple((str(outer), str(under)) for outer, under in entry.get("worn_over", cls.worn_over))
            rule = cls(
                groups=groups,
                iou=float(entry.get("iou", 0.5)),
                penalty=float(entry.get("penalty", 0.3)),
                contained=float(entry.get("contained", cls.contained)),
                worn_over=worn_over,
                worn_over_iou=float(entry.get("worn_over_iou", cls.worn_over_iou)),
            )
        except (KeyError, TypeError, ValueError) as error:
            shape = (
                "{'groups': [[label, ...], ...], 'iou': x, 'penalty': y, 'contained': z, "
                "'worn_over': [[outer, under], ...], 'worn_over_iou': w}"
            )
            raise ManifestError(f"decoder.exclusive must be {shape}: {error}") from error
        in_range = (
            0.0 < rule.iou < 1.0
            and 0.0 <= rule.penalty < 1.0
            and 0.0 < rule.contained <= 1.0
            and 0.0 < rule.worn_over_iou < 1.0
        )
        if not in_range:
            raise ManifestError(
                "decoder.exclusive: iou and worn_over_iou must be in (0, 1), penalty in [0, 1) and contained in "
                f"(0, 1], got {entry}"
            )
        return rule

    def to_json(self) -> dict:
        return {
            "groups": [list(group) for group in self.groups],
            "iou": self.iou,
            "penalty": self.penalty,
            "contained": self.contained,
            "worn_over": [list(pair) for pair in self.worn_over],
            "worn_over_iou": self.worn_over_iou,
        }

    def pair_table(self, labels: Sequence[str]) -> np.ndarray:
        """(C, C) bool: True where class i and class j exclude each other."""
        index = {label: i for i, label in enumerate(labels)}
        table = np.zeros((len(labels), len(labels)), bool)
        for group in self.groups:
            ids = [index[name] for name in group if name in index]
            for i in ids:
                for j in ids:
                    table[i, j] = i != j
        return table

    def worn_over_table(self, labels: Sequence[str]) -> np.ndarray:
        """(C, C) bool: True where a better-scored box of class i demotes a box of class j on its place."""
        index = {label: i for i, label in enumerate(labels)}
        table = np.zeros((len(labels), len(labels)), bool)
        for outer, under in self.worn_over:
            if outer in index and under in index:
                table[index[outer], index[under]] = True
        return table


@functools.lru_cache(maxsize=16)
def rule_tables(rule: ExclusiveRule, labels: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """``rule.pair_table(labels)`` and ``rule.worn_over_table(labels)``, built once per rule and label set
    (read-only), so a detector whose ``exclusive`` rule is replaced never applies the old one's tables."""
    tables = rule.pair_table(labels), rule.worn_over_table(labels)
    for table in tables:
        table.setflags(write=False)
    return tables


def exclusive_conflicts(xyxy: np.ndarray, class_id: np.ndarray, table: np.ndarray, iou: float) -> list[tuple[int, int]]:
    """Index pairs (i < j) of boxes of exclusive categories that overlap at IoU > ``iou``."""
    pairs = []
    for i in range(len(class_id)):
        others = np.arange(i + 1, len(class_id))
        exclusive = others[table[class_id[i], class_id[others]]]
        if exclusive.size:
            overlapping = exclusive[box_iou(xyxy[i], xyxy[exclusive]) > iou]
            pairs.extend((i, int(j)) for j in overlapping)
    return pairs


def resolve_exclusive(
    xyxy: np.ndarray,
    confidence: np.ndarray,
    class_id: np.ndarray,
    *,
    table: np.ndarray,
    rule: ExclusiveRule,
    shown_thresholds: np.ndarray,
    worn_over: np.ndarray | None,
) -> np.ndarray:
    """New confidences: every box that conflicts with a better-scored kept box is demoted: an exclusive
    category overlapping it at IoU > ``rule.iou``, its own category lying more than ``rule.contained``
    of its area inside it, or a category worn under it (``worn_over``, from ``rule.worn_over_table``;
    None: no such pairs) overlapping it at IoU > ``rule.worn_over_iou``.

    Boxes are visited best first; a demoted box no longer demotes others. A demoted confidence is
    ``confidence * penalty``, and always under its class's shown threshold.
    """
    result = np.asarray(confidence, np.float32).copy()
    if len(result) < 2:
        return result
    demoted = np.zeros(len(result), bool)
    order = np.argsort(-result, kind="stable")
    for rank, best in enumerate(order):
        if demoted[best]:
            continue
        rest = order[rank + 1 :]
        rest = rest[~demoted[rest]]
        exclusive = rest[table[class_id[best], class_id[rest]]]
        if exclusive.size:
            demoted[exclusive[box_iou(xyxy[best], xyxy[exclusive]) > rule.iou]] = True
        under = rest[worn_over[class_id[best], class_id[rest]]] if worn_over is not None else rest[:0]
        if under.size:
            demoted[under[box_iou(xyxy[best], xyxy[under]) > rule.worn_over_iou]] = True
        same = rest[class_id[rest] == class_id[best]]
        if same.size:
            demoted[same[share_inside(xyxy[same], xyxy[best]) > rule.contained]] = True
    if demoted.any():
        ceiling = np.maximum(shown_thresholds[class_id[demoted]] - 1e-3, 0.0)
        result[demoted] = np.minimum(result[demoted] * rule.penalty, ceiling)
    return result
