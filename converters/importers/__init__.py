"""Plugging users' own models into ``quantized_models/`` (Ultralytics YOLO detector exports)."""
