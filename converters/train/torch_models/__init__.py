"""Plain-torch model definitions for edge_bml's own models (torchvision does not import here)."""
