"""Accuracy measures of edge_bml's stages against annotated data."""
