"""rtloop's offline stage (needs torch): embed loops, train detectors, export verified ONNX bundles."""
