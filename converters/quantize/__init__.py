"""FP32 -> INT8: the ``quantize`` driver, one module per target format, calibration, validation and reports."""
