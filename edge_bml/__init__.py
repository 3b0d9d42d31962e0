"""edge_bml: an on-device "Buy Me That Look" engine built from INT8 models."""

__version__ = "0.1.0"
