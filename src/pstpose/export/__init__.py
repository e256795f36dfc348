"""Model export: ONNX (``pstpose.export.onnx``), checked against PyTorch in onnxruntime.

Importing this package does not import onnx or onnxruntime; the functions do, and say how to
install them when they are missing.
"""

from pstpose.export.onnx import (
    DEFAULT_OPSET,
    MIN_OPSET,
    ExportDependencyError,
    ExportError,
    VerificationError,
    export_onnx,
    read_onnx_metadata,
    verify_onnx,
)

__all__ = [
    "DEFAULT_OPSET",
    "MIN_OPSET",
    "ExportDependencyError",
    "ExportError",
    "VerificationError",
    "export_onnx",
    "read_onnx_metadata",
    "verify_onnx",
]
