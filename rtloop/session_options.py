"""The onnxruntime session options every rtloop graph runs with: live, scan, training and benchmarks."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import onnxruntime as ort

# A ModelProto whose graph is y = Identity(x), float[1] (IR 8, opset 17), serialised by onnx.helper.
_IDENTITY_GRAPH = bytes.fromhex(
    "080812003a3b0a100a017812017922084964656e746974791205636c61696d5a0f0a0178120a0a08080112040a020801"
    "620f0a0179120a0a08080112040a02080142040a001011"
)

_flush_first_sessions_thread = False


def flush_denormals_in_this_process() -> None:
    """For the processes rtloop owns (the command line, the scoring child, scan workers): the thread that
    makes the process's first session will flush denormal floats to zero as onnxruntime's threads do, so
    its share of every run gets the speed-up (all of the run in a single-threaded session, a scan
    worker's). From then on numpy on that thread flushes as well.

    Call it before the first session; after one, it changes nothing. Loads nothing. A program that uses
    rtloop as a library and does not call it keeps IEEE floats on its own threads.
    """
    global _flush_first_sessions_thread
    _flush_first_sessions_thread = True


@functools.cache
def _make_first_session() -> None:
    """Make this process's first onnxruntime session, flagged as :func:`flush_denormals_in_this_process`
    asked; later calls change nothing.

    onnxruntime applies the first session's denormal flag, once per process, to the thread that creates
    it as well as to its own threads; later sessions set it on onnxruntime's threads only.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    if _flush_first_sessions_thread:
        options.add_session_config_entry("session.set_denormal_as_zero", "1")
    ort.InferenceSession(_IDENTITY_GRAPH, options, providers=["CPUExecutionProvider"])


def session_options(threads: int = 0, flush_denormals: bool = True) -> ort.SessionOptions:
    """Options for a session of a bundle's graph.

    * onnxruntime's threads flush denormal floats to zero. HTS-AT's shifted windows mask attention with
      -100, so the softmax holds values near exp(-100) = 4e-44, below float32's smallest normal number;
      x86 CPUs multiply such numbers in microcode, and the attention-times-values products of every
      shifted block ran 15x slower than the same products in the unshifted blocks (onnxruntime's
      profiler, HTS-AT-tiny). Flushed, the outputs are bit-identical and the encoder is much faster
      (``bench/embed_speed.py`` against ``bench/embed_speed.py --keep-denormals``; README, Numbers).
      The thread that creates and runs the sessions keeps IEEE floats, and so does its share of each
      run, unless its process called :func:`flush_denormals_in_this_process` first, as rtloop's own
      processes do.
    * No memory pattern: its one block for every intermediate tensor held 18 MiB more resident
      (measured with HTS-AT-tiny, one loop per run) and made the encoder no faster.

    Args:
        threads: intra-op threads (0 = onnxruntime's default: one per core).
        flush_denormals: False only to measure what flushing gains.
    """
    import onnxruntime as ort

    _make_first_session()
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.log_severity_level = 3
    options.add_session_config_entry("session.load_model_format", "ONNX")
    options.add_session_config_entry("session.set_denormal_as_zero", "1" if flush_denormals else "0")
    options.enable_mem_pattern = False
    return options
