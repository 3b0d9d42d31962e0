"""This venv's machine, runtimes and installed wheels (with their platform tags), as JSON, for ``check.sh``.

Usage: python env_info.py --out meta.json [--extra KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import json
import platform
from importlib import metadata
from pathlib import Path


def wheels() -> tuple[dict[str, str], dict[str, list[str]]]:
    """Every installed distribution's version, and the wheel tags pip recorded for it."""
    versions: dict[str, str] = {}
    tags: dict[str, list[str]] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if not name:
            continue
        versions[name.lower()] = dist.version
        text = dist.read_text("WHEEL") or ""
        found = [line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("Tag:")]
        if found:
            tags[name.lower()] = found
    return dict(sorted(versions.items())), dict(sorted(tags.items()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--extra", action="append", default=[], help="KEY=VALUE")
    args = parser.parse_args(argv)
    versions, tags = wheels()
    info: dict = {
        "platform_machine": platform.machine(),
        "python": platform.python_version(),
        "libc": " ".join(platform.libc_ver()),
        "wheels": versions,
        "wheel_tags": tags,
    }
    try:
        import edge_bml  # noqa: F401  (loads the system libstdc++ first)
        from edge_bml.machine import current_machine

        machine = current_machine()
        info["edge_bml_machine"] = machine.__dict__ if hasattr(machine, "__dict__") else str(machine)
    except Exception as error:  # noqa: BLE001 - informative only
        info["edge_bml_machine"] = f"unavailable: {error}"
    for item in args.extra:
        key, _, value = item.partition("=")
        info[key] = value
    args.out.write_text(json.dumps(info, indent=1, default=str) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
