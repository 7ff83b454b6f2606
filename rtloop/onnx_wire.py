"""A minimal reader of the ONNX protobuf wire format: finds tensors whose data lives outside the graph.

onnxruntime loads a model given as bytes and resolves tensors stored as *external data* against the
current working directory: those weights would be read from files the bundle's hashes do not cover.
The ``onnx`` package could tell, but the runtime must not need it, so this walks the serialised
``ModelProto`` itself. It descends into every message that can hold a ``TensorProto`` (graphs,
subgraphs of node attributes, sparse tensors, training graphs, model functions) and skips everything
else (weights' ``raw_data`` is skipped as one slice, so a 100 MB graph walks in milliseconds).
"""

from __future__ import annotations

from rtloop.errors import BundleError

MAX_NESTING = 64  # subgraphs inside subgraphs; real models use a handful

# message kind -> {field number: kind of the embedded message} (onnx/onnx.proto, IR version 10)
_CHILDREN: dict[str, dict[int, str]] = {
    "model": {7: "graph", 20: "training", 25: "function"},
    "graph": {1: "node", 5: "tensor", 15: "sparse"},
    "node": {5: "attribute"},
    "function": {7: "node", 11: "attribute"},
    "attribute": {5: "tensor", 6: "graph", 10: "tensor", 11: "graph", 22: "sparse", 23: "sparse"},
    "sparse": {1: "tensor", 2: "tensor"},
    "training": {1: "graph", 2: "graph"},
    "tensor": {},
}
_TENSOR_EXTERNAL_DATA = 13  # TensorProto.external_data: repeated StringStringEntryProto
_TENSOR_DATA_LOCATION = 14  # TensorProto.data_location: DEFAULT = 0, EXTERNAL = 1
_TENSOR_NAME = 8
_MODEL_GRAPH = 7
ORT_FORMAT_ID = b"ORTM"  # onnxruntime's own flatbuffer format carries this at bytes 4..8


class WireError(ValueError):
    """Bytes that are not a well-formed protobuf message."""


def _varint(data: memoryview, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise WireError("a varint runs past its message")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(data: memoryview) -> list[tuple[int, int, int | memoryview]]:
    """(field number, wire type, value) of one message; length-delimited values as slices."""
    out: list[tuple[int, int, int | memoryview]] = []
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        value: int | memoryview
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 1:
            value, pos = 0, pos + 8
        elif wire == 5:
            value, pos = 0, pos + 4
        elif wire == 2:
            size, pos = _varint(data, pos)
            value, pos = data[pos : pos + size], pos + size
        else:  # groups (3, 4) are not in onnx.proto; refuse rather than guess their extent
            raise WireError(f"field {number} has wire type {wire}")
        if pos > len(data):
            raise WireError(f"field {number} runs past its message")
        out.append((number, wire, value))
    return out


def external_tensors(model: bytes) -> list[str]:
    """Where tensors of a serialised ONNX model keep their data outside it.

    Returns:
        one description per external tensor (empty: every weight is inside ``model``).

    Raises:
        BundleError: bytes that are not a protobuf ModelProto with a graph, onnxruntime's own
            ``.ort`` format, or subgraphs nested deeper than 64.
    """
    if model[4:8] == ORT_FORMAT_ID:
        raise BundleError("is in onnxruntime's .ort format; a bundle holds ONNX protobuf graphs")
    found: list[str] = []
    stack: list[tuple[str, memoryview, int]] = [("model", memoryview(model), 0)]
    try:
        while stack:
            kind, data, depth = stack.pop()
            if depth > MAX_NESTING:
                raise BundleError(f"nests subgraphs deeper than {MAX_NESTING}")
            fields = _fields(data)
            if kind == "model" and not any(number == _MODEL_GRAPH and wire == 2 for number, wire, _ in fields):
                raise BundleError("is not an ONNX model: it has no graph")
            if kind == "tensor" and _is_external(fields):
                name = next((bytes(v).decode(errors="replace") for n, w, v in fields if n == _TENSOR_NAME), "")
                found.append(f"tensor {name!r} keeps its data in an external file")
            children = _CHILDREN[kind]
            stack.extend(
                (children[number], value, depth + 1)
                for number, wire, value in fields
                if wire == 2 and number in children and isinstance(value, memoryview)
            )
    except WireError as exc:
        raise BundleError(f"is not a well-formed ONNX file: {exc}") from None
    return found


def _is_external(fields: list[tuple[int, int, int | memoryview]]) -> bool:
    return any(
        number == _TENSOR_EXTERNAL_DATA or (number == _TENSOR_DATA_LOCATION and wire == 0 and value != 0)
        for number, wire, value in fields
    )
