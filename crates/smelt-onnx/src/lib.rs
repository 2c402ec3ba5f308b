//! ONNX importer.
