"""edge_bml: an on-device "Buy Me That Look" engine built from INT8 models.

``LookPipeline`` predicts (``final(X)``); ``evaluate`` predicts and scores (``final(X, Y)``).
Both load lazily so that ``import edge_bml`` stays cheap.
"""

from edge_bml.native_libs import preload_cxx_runtime

__version__ = "0.1.0"

preload_cxx_runtime()


def __getattr__(name: str):
    if name == "evaluate":
        from edge_bml.scoring import evaluate

        return evaluate
    if name in ("LookPipeline", "LookOptions"):
        from edge_bml import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module 'edge_bml' has no attribute {name!r}")
