"""Shot type and facing direction from the 33 landmarks, each decision with its reasons.

Shot: ``full_shot`` (head and both feet in the frame and visible), ``upper_body``,
``lower_body`` or ``no_person``. Facing is as seen in the photo: ``front``, ``back``,
``left`` (the person looks towards the photo's left edge) or ``right``; mirroring a
photo swaps left and right and keeps front and back.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from edge_bml.stages.pose import PersonPose

HEAD = (0, 1, 2, 3, 4, 5, 6, 7, 8)
FACE = (0, 2, 5)
LEFT_FOOT = (27, 29, 31)
RIGHT_FOOT = (28, 30, 32)
SHOULDERS = (11, 12)
HIPS = (23, 24)
SHOTS = ("full_shot", "upper_body", "lower_body", "no_person")
FACINGS = ("front", "back", "left", "right")


@dataclass(frozen=True)
class PoseClassifierOptions:
    """Thresholds; the defaults meet the CCP figures in the README.

    visibility: a landmark counts as seen at or above this visibility (feet under long
        clothes score low: CCP's full shots need a low bar here) ...
    presence: ... and at or above this presence (BlazePose's "inside the frame" probability).
    frame_margin: a seen landmark must lie this fraction of the image size inside the frame.
    side_ratio: shoulders narrower than this fraction of the torso length mean a side view.
    face_visibility: a face less visible than this, with wide shoulders, means a back view.
    """

    visibility: float = 0.25
    presence: float = 0.5
    frame_margin: float = 0.0
    side_ratio: float = 0.3
    face_visibility: float = 0.3


@dataclass(frozen=True)
class PoseClass:
    """The decision for one photo and why."""

    shot: str
    facing: str | None
    reasons: list[str] = field(default_factory=list)


def _in_frame(
    pose: PersonPose, indices: tuple[int, ...], size: tuple[int, int], options: PoseClassifierOptions
) -> np.ndarray:
    width, height = size
    xy = pose.keypoints[list(indices), :2]
    mx, my = options.frame_margin * width, options.frame_margin * height
    inside = (xy[:, 0] >= mx) & (xy[:, 0] <= width - mx) & (xy[:, 1] >= my) & (xy[:, 1] <= height - my)
    seen = (pose.visibility[list(indices)] >= options.visibility) & (pose.presence[list(indices)] >= options.presence)
    return inside & seen


def _where_out(pose: PersonPose, indices: tuple[int, ...], size: tuple[int, int]) -> str:
    x, y = pose.keypoints[list(indices), :2].mean(0)
    width, height = size
    if y > height:
        return "below the bottom edge"
    if y < 0:
        return "above the top edge"
    if x < 0 or x > width:
        return "beyond the side edge"
    return "hidden"


class PoseClassifier:
    """Classifies a ``PersonPose``; stateless, cheap (no model)."""

    def __init__(self, options: PoseClassifierOptions | None = None) -> None:
        self.options = options or PoseClassifierOptions()

    def __call__(self, pose: PersonPose | None, image_size: tuple[int, int]) -> PoseClass:
        """Shot type and facing of ``pose`` in an image of ``image_size`` (width, height)."""
        if pose is None:
            return PoseClass("no_person", None, ["no person was found in the photo"])
        o = self.options
        head = _in_frame(pose, HEAD, image_size, o).any()
        feet = [_in_frame(pose, foot, image_size, o).any() for foot in (LEFT_FOOT, RIGHT_FOOT)]
        torso = _in_frame(pose, SHOULDERS + HIPS, image_size, o)
        reasons = ["head in frame" if head else f"head out of frame ({_where_out(pose, HEAD, image_size)})"]
        for name, foot, seen in zip(("left", "right"), (LEFT_FOOT, RIGHT_FOOT), feet):
            reasons.append(
                f"{name} foot in frame" if seen else f"{name} foot out of frame ({_where_out(pose, foot, image_size)})"
            )
        if head and all(feet):
            shot = "full_shot"
        elif head or torso[:2].any():
            shot = "upper_body"
        elif any(feet) or torso[2:].any():
            shot = "lower_body"
        else:
            return PoseClass("no_person", None, reasons + ["no body part is clearly visible"])
        facing, why = self._facing(pose)
        return PoseClass(shot, facing, reasons + [why])

    def _facing(self, pose: PersonPose) -> tuple[str, str]:
        o = self.options
        xyz = pose.keypoints
        shoulders_mid = xyz[list(SHOULDERS), :2].mean(0)
        hips_mid = xyz[list(HIPS), :2].mean(0)
        torso = max(float(np.linalg.norm(shoulders_mid - hips_mid)), 1e-6)
        shoulder_dx = float(xyz[11, 0] - xyz[12, 0])
        hip_dx = float(xyz[23, 0] - xyz[24, 0])
        ratio = (shoulder_dx + 0.5 * hip_dx) / 1.5 / torso
        face = float(pose.visibility[list(FACE)].max())
        if abs(ratio) >= o.side_ratio:
            if ratio < 0:
                return "back", f"left shoulder on the photo's left (width {ratio:+.2f} torso): seen from behind"
            if face < o.face_visibility:
                return "back", f"face not visible ({face:.2f}) with square shoulders: seen from behind"
            return "front", f"left shoulder on the photo's right (width {ratio:+.2f} torso): seen from the front"
        nose_dx = float(xyz[0, 0] - shoulders_mid[0]) / torso
        depth = float(xyz[12, 2] - xyz[11, 2])
        if abs(nose_dx) > 0.05:
            side = "left" if nose_dx < 0 else "right"
            return side, f"narrow shoulders ({ratio:+.2f} torso), nose towards the photo's {side}"
        side = "right" if depth > 0 else "left"
        return side, f"narrow shoulders ({ratio:+.2f} torso), {'left' if depth > 0 else 'right'} shoulder nearer"
