"""Catalog text (titles, ids, files) as a terminal may show it: control characters removed.

Product tables come from retailers and users; an escape sequence in a title must not move the cursor,
recolour or retitle the operator's terminal.
"""

from __future__ import annotations

import re
import unicodedata

# Whole escape sequences: CSI (colours, cursor moves), OSC (window titles, links) and two-byte escapes.
_ESCAPES = re.compile(r"(\x1b\[|\x9b)[0-?]*[ -/]*[@-~]|(\x1b\]|\x9d)[^\x07\x1b\x9c]*(\x07|\x1b\\|\x9c)?|\x1b.?")


def printable(text: object, *, width: int | None = None) -> str:
    """``text`` without escape sequences and control or format characters (CR, BEL, bidi overrides, ...),
    cut to ``width``."""
    cleaned = "".join(ch for ch in _ESCAPES.sub("", str(text)) if unicodedata.category(ch)[0] != "C")
    if width is not None and len(cleaned) > width:
        return cleaned[: max(width - 1, 0)] + "…"
    return cleaned
