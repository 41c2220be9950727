"""Things done to a model or a run rather than training it: finite-difference gradient checks
(`gradcheck`), the time of a training step (`timing`), and export to ONNX or plain NPZ (`export`)."""
