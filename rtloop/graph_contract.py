"""The graphs' contract with the manifest: input/output names, element types, ranks and static widths.

Checked on the loaded onnxruntime sessions, before anything is scored, so a graph that does not fit
its manifest is refused with one message naming the graph, the tensor and both shapes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from rtloop.errors import BundleError
from rtloop.frontend import FrontEndConfig
from rtloop.manifest_schema import DETECTOR_FILE, ENCODER_FILE

EMBEDDING_WIDTH = 512  # CLAP's joint embedding
BATCH = "batch"  # how a dynamic batch axis is shown in messages


class TensorInfo(Protocol):
    """What onnxruntime's ``NodeArg`` tells about one input or output."""

    name: str
    shape: list[Any]
    type: str


class Session(Protocol):
    """The part of ``onnxruntime.InferenceSession`` the contract reads."""

    def get_inputs(self) -> list[Any]: ...

    def get_outputs(self) -> list[Any]: ...


@dataclass(frozen=True)
class Spec:
    """One expected tensor: ``dims`` holds ints for static widths and ``None`` for the batch axis."""

    name: str
    type: str
    dims: tuple[int | None, ...]

    def shown(self) -> str:
        return "[" + ", ".join(BATCH if d is None else str(d) for d in self.dims) + "]"


def _shown(shape: list[Any]) -> str:
    return "[" + ", ".join(str(d) if isinstance(d, int) else BATCH for d in shape) + "]"


def _check_tensor(graph: str, role: str, actual: TensorInfo, spec: Spec) -> None:
    if actual.type != spec.type:
        raise BundleError(f"{graph}: {role} {spec.name!r} is {actual.type}, the bundle needs {spec.type}")
    shape = list(actual.shape)
    fits = len(shape) == len(spec.dims) and all(
        not isinstance(got, int) if want is None else got == want for got, want in zip(shape, spec.dims, strict=False)
    )
    if not fits:
        raise BundleError(
            f"{graph}: {role} {spec.name!r} has shape {_shown(shape)}, the manifest needs {spec.shown()} "
            "(batch = a dynamic axis)"
        )


def _check(graph: str, session: Session, inputs: list[Spec], optional: list[Spec], outputs: list[Spec]) -> None:
    given = {i.name: i for i in session.get_inputs()}
    known = {s.name: s for s in inputs + optional}
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise BundleError(f"{graph}: input {unknown[0]!r} is not one rtloop feeds (it feeds {', '.join(known)})")
    for spec in inputs:
        if spec.name not in given:
            raise BundleError(f"{graph}: no input {spec.name!r} (it has {', '.join(given) or 'none'})")
    for spec in inputs + optional:
        if spec.name in given:
            _check_tensor(graph, "input", given[spec.name], spec)
    produced = {o.name: o for o in session.get_outputs()}
    for spec in outputs:
        if spec.name not in produced:
            raise BundleError(f"{graph}: no output {spec.name!r} (it has {', '.join(produced) or 'none'})")
        _check_tensor(graph, "output", produced[spec.name], spec)


def check_encoder(session: Session, frontend: FrontEndConfig) -> dict[str, int]:
    """Check ``mel [batch, C, frames, mels]`` (+ optional ``longer [batch]``) -> ``latent [batch, D]``,
    ``embedding [batch, 512]`` against the front-end.

    Returns:
        the width of each output: ``{"latent": D, "embedding": 512}``.

    Raises:
        BundleError: a missing, extra or misshapen tensor, naming it and both shapes.
    """
    mel = Spec("mel", "tensor(float)", (None, frontend.channels, frontend.chunk_frames, frontend.n_mels))
    longer = Spec("longer", "tensor(bool)", (None,))
    latent_shape = next((o.shape for o in session.get_outputs() if o.name == "latent"), [])
    latent_width = latent_shape[1] if len(latent_shape) == 2 and isinstance(latent_shape[1], int) else -1
    outputs = [
        Spec("latent", "tensor(float)", (None, latent_width)),
        Spec("embedding", "tensor(float)", (None, EMBEDDING_WIDTH)),
    ]
    if latent_width <= 0 and latent_shape:
        raise BundleError(f"{ENCODER_FILE}: output 'latent' has shape {_shown(latent_shape)}, not [batch, width]")
    _check(ENCODER_FILE, session, [mel], [longer], outputs)
    return {"latent": latent_width, "embedding": EMBEDDING_WIDTH}


def check_detector(session: Session, width: int, features: str, file: str = DETECTOR_FILE) -> None:
    """Check ``features [batch, width]`` -> ``score [batch]`` of the detector graph ``file``.

    Raises:
        BundleError: a missing, extra or misshapen tensor, naming it and both shapes.
    """
    try:
        _check(
            file,
            session,
            [Spec("features", "tensor(float)", (None, width))],
            [],
            [Spec("score", "tensor(float)", (None,))],
        )
    except BundleError as exc:
        what = f"the encoder's {features}" if file == DETECTOR_FILE else f"the {features} descriptors"
        raise BundleError(f"{exc}; the manifest's features are {what} ({width} wide)") from None
