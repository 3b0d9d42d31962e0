"""Where a source's files come from: a local copy (folder or archive) or a downloaded GitHub archive."""

from __future__ import annotations

import shutil
import sys
import tarfile
import tempfile
import urllib.request
import zipfile
from pathlib import Path

from tqdm import tqdm

from edge_bml.data_fetch.ccp_prepare import DataPrepareError
from edge_bml.data_fetch.sources import GITHUB_ARCHIVE


def _extract(archive: Path, into: Path) -> Path:
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as handle:
            handle.extractall(into)
    elif tarfile.is_tarfile(archive):
        with tarfile.open(archive) as handle:
            handle.extractall(into, filter="data")
    else:
        raise DataPrepareError(f"{archive} is neither a zip nor a tar archive")
    tops = [p for p in into.iterdir() if p.is_dir()]
    return tops[0] if len(tops) == 1 else into


def _download(url: str, target: Path) -> None:
    print(f"downloading {url}", file=sys.stderr)
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(target, "wb") as out:
            total = int(response.headers.get("content-length") or 0)
            with tqdm(total=total or None, unit="B", unit_scale=True, desc="  download", file=sys.stderr) as bar:
                while chunk := response.read(1 << 20):
                    out.write(chunk)
                    bar.update(len(chunk))
    except OSError as error:
        raise DataPrepareError(
            f"cannot download {url}: {error}. Offline? Pass a local copy with --from DIR (or a --mirror URL)"
        ) from error


def source_folder(repo: str, commit: str, work: Path, *, local: Path | None, mirror: str | None) -> Path:
    """A folder holding the repository's files at ``commit``.

    ``local`` may hold the checkout as ``<name>``/``<name>-<commit>`` folders or ``.zip``/``.tar.gz``
    archives of that name. Otherwise the archive is downloaded from GitHub or from ``mirror``
    (a URL prefix standing in for ``https://github.com``).

    Raises:
        DataPrepareError: nothing usable is found, or the download fails.
    """
    name = repo.split("/")[1]
    if local is not None:
        for stem in (f"{name}-{commit}", name):
            if (local / stem).is_dir():
                return local / stem
            for suffix in (".zip", ".tar.gz", ".tgz", ".tar"):
                if (local / f"{stem}{suffix}").is_file():
                    return _extract(local / f"{stem}{suffix}", Path(tempfile.mkdtemp(dir=work)))
        raise DataPrepareError(f"{local} holds no {name} or {name}-{commit} folder or archive")
    url = GITHUB_ARCHIVE.format(repo=repo, commit=commit)
    if mirror:
        url = mirror.rstrip("/") + url.removeprefix("https://github.com")
    archive = work / f"{name}.zip"
    _download(url, archive)
    folder = _extract(archive, Path(tempfile.mkdtemp(dir=work)))
    archive.unlink()
    return folder


def replace_folder(staging: Path, target: Path) -> None:
    """Swap a finished ``staging`` folder in for ``target`` (any old one removed only afterwards)."""
    old = target.with_name(f".{target.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    staging.rename(target)
    shutil.rmtree(old, ignore_errors=True)
