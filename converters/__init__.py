"""edge_bml's converters: fetch, quantize, train and import models into ``quantized_models/``."""
