"""What edge_bml knows about MediaPipe's BlazePose files: where they are, their hashes, how to run them.

The decoder values are those of MediaPipe's pose_detection_cpu and pose_landmark_by_roi graphs.
"""

from __future__ import annotations

MEDIAPIPE_REQUIREMENT = "mediapipe==0.10.21"
SOURCE = {
    "project": "MediaPipe BlazePose (Google)",
    "url": "https://github.com/google-ai-edge/mediapipe",
    "package": MEDIAPIPE_REQUIREMENT,
}
LICENSE = "Apache-2.0"

DETECTION = {
    "name": "blazepose_detection",
    "wheel_path": "mediapipe/modules/pose_detection/pose_detection.tflite",
    "sha256": "9ba9dd3d42efaaba86b4ff0122b06f29c4122e756b329d89dca1e297fd8f866c",
    "task": "pose_detection",
    "input": {
        "name": "input_1",
        "width": 224,
        "height": 224,
        "layout": "NHWC",
        "color": "RGB",
        "mean": [127.5, 127.5, 127.5],
        "std": [127.5, 127.5, 127.5],
        "resize": "letterbox",
        "dtype": "float32",
    },
    "outputs": {"boxes": "Identity", "scores": "Identity_1"},
    "labels": ["person"],
    "decoder": {
        "anchors": {
            "num_layers": 5,
            "min_scale": 0.1484375,
            "max_scale": 0.75,
            "input_size_width": 224,
            "input_size_height": 224,
            "anchor_offset_x": 0.5,
            "anchor_offset_y": 0.5,
            "strides": [8, 16, 32, 32, 32],
            "aspect_ratios": [1.0],
            "reduce_boxes_in_lowest_layer": False,
            "interpolated_scale_aspect_ratio": 1.0,
            "fixed_anchor_size": True,
        },
        "num_coords": 12,
        "num_keypoints": 4,
        "x_scale": 224.0,
        "y_scale": 224.0,
        "w_scale": 224.0,
        "h_scale": 224.0,
        "score_clipping_thresh": 100.0,
        "min_score_thresh": 0.5,
        "min_suppression_threshold": 0.3,
        "nms": "weighted",
        "roi": {"start_keypoint": 0, "end_keypoint": 1, "target_angle_degrees": 90.0, "scale": 1.25},
    },
}

LANDMARKS = {
    "name": "blazepose_landmarks_full",
    "wheel_path": "mediapipe/modules/pose_landmark/pose_landmark_full.tflite",
    "sha256": "e9a5c5cb17f736fafd4c2ec1da3b3d331d6edbe8a0d32395855aeb2cdfd64b9f",
    "task": "pose_landmarks",
    "input": {
        "name": "input_1",
        "width": 256,
        "height": 256,
        "layout": "NHWC",
        "color": "RGB",
        "mean": [0.0, 0.0, 0.0],
        "std": [255.0, 255.0, 255.0],
        "resize": "rotated_crop",
        "dtype": "float32",
    },
    "outputs": {"landmarks": "Identity", "pose_flag": "Identity_1", "heatmap": "Identity_3"},
    "labels": [],
    "decoder": {
        "num_landmarks": 33,
        "values_per_landmark": 5,
        "min_pose_score": 0.5,
        "visibility_activation": "sigmoid",
        "presence_activation": "sigmoid",
        "heatmap_refinement": {"kernel_size": 7, "min_confidence": 0.5},
    },
}

MODELS = (DETECTION, LANDMARKS)
