"""Loading order of the native runtimes, so that no import order crashes the process.

usearch's wheel links its own copy of libstdc++ statically and exports its GNU-unique symbols
(locale facet ids among them). Loaded before the system libstdc++, those copies win, and
ONNX Runtime's first use of the system library then crashes (segfault on ``import onnxruntime``
after ``import usearch``). Loading the system libstdc++ globally first makes every later order
safe; ``import edge_bml`` does that.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

_state = {"preloaded": False, "usearch_first": False}


def preload_cxx_runtime() -> None:
    """Load the system libstdc++ with global symbols (once); a no-op where there is none (macOS, Windows)."""
    if _state["preloaded"]:
        return
    _state["preloaded"] = True
    _state["usearch_first"] = "usearch.compiled" in sys.modules
    name = ctypes.util.find_library("stdc++")
    if name and sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(name, mode=ctypes.RTLD_GLOBAL)
        except OSError:
            pass


def onnxruntime_import_is_unsafe() -> bool:
    """Whether usearch was loaded before edge_bml and ONNX Runtime is not loaded yet (the crashing order)."""
    return _state["usearch_first"] and "onnxruntime" not in sys.modules
