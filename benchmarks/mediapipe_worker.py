"""MediaPipe's own pose solution as a subprocess worker, for benchmarks/test_pose_reference.py.

mediapipe 0.10.21 needs numpy<2 and the project runs numpy 2, so this script runs in its own venv
(see README "Benchmarks") and imports only mediapipe, numpy, cv2 and the standard library.

Protocol: one JSON object per line on stdin, one JSON answer per line on stdout.

    {"op": "pose", "path": "/abs/photo.jpg"}
        -> {"ok": true, "ms": 41.2, "size": [w, h], "landmarks": [[x, y, z, visibility], ...33] | null}
           ``ms`` is the worker's own time for ``pose.process`` alone; the photo is decoded (BGR -> RGB)
           once, on its first request, and cached, so decoding is never timed. x, y are in pixels;
           z is MediaPipe's relative depth scaled by the image width; null means no person found.
    {"op": "echo", ...} -> {"ok": true, "echo": {...the request...}}   (no inference: the pipe overhead)
    {"op": "info"}      -> {"ok": true, "mediapipe": "0.10.21", "numpy": ..., "cv2": ...}

A request that fails answers {"ok": false, "error": "..."}; the worker keeps serving. EOF ends it.
"""

from __future__ import annotations

import json
import sys
import time


def _load_rgb(path: str, cv2, np):
    # imdecode of the file's bytes, as edge_bml.image_io does, so both sides see the same pixels.
    data = np.fromfile(path, np.uint8)
    bgr = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError(f"{path}: could not be decoded")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def main() -> int:
    import cv2
    import mediapipe as mp
    import numpy as np

    model_complexity = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    pose = mp.solutions.pose.Pose(static_image_mode=True, model_complexity=model_complexity, enable_segmentation=False)
    cache: dict[str, object] = {}
    out = sys.stdout
    try:
        for line in sys.stdin:
            line = line.strip()
            if not line:
                continue
            try:
                request = json.loads(line)
                op = request.get("op")
                if op == "echo":
                    answer = {"ok": True, "echo": request}
                elif op == "info":
                    answer = {
                        "ok": True,
                        "mediapipe": mp.__version__,
                        "numpy": np.__version__,
                        "cv2": cv2.__version__,
                        "model_complexity": model_complexity,
                    }
                elif op == "pose":
                    path = request["path"]
                    image = cache.get(path)
                    if image is None:
                        image = cache[path] = _load_rgb(path, cv2, np)
                    start = time.perf_counter()
                    result = pose.process(image)
                    ms = (time.perf_counter() - start) * 1000.0
                    height, width = image.shape[:2]
                    landmarks = None
                    if result.pose_landmarks is not None:
                        landmarks = [
                            [p.x * width, p.y * height, p.z * width, p.visibility]
                            for p in result.pose_landmarks.landmark
                        ]
                    answer = {"ok": True, "ms": ms, "size": [width, height], "landmarks": landmarks}
                else:
                    answer = {"ok": False, "error": f"unknown op {op!r}"}
            except Exception as error:  # noqa: BLE001 - report it to the caller and keep serving
                answer = {"ok": False, "error": f"{type(error).__name__}: {error}"}
            out.write(json.dumps(answer) + "\n")
            out.flush()
    finally:
        pose.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
