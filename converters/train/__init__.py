"""Training edge_bml's own models (detector, embedder, parser): datasets, losses, networks, ONNX export."""
