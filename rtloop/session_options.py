"""The onnxruntime session options every rtloop graph runs with: live, scan, training and benchmarks."""

from __future__ import annotations

import functools

import onnxruntime as ort

# A ModelProto whose graph is y = Identity(x), float[1] (IR 8, opset 17), serialised by onnx.helper.
_IDENTITY_GRAPH = bytes.fromhex(
    "080812003a3b0a100a017812017922084964656e746974791205636c61696d5a0f0a0178120a0a08080112040a020801"
    "620f0a0179120a0a08080112040a02080142040a001011"
)


@functools.cache
def _leave_the_calling_thread_ieee() -> None:
    """Make this process's first onnxruntime session one without the denormal flag.

    onnxruntime applies the first session's flag, once per process, to the thread that creates it as
    well as to its own threads; flushed there, numpy in that thread (and anything else the process
    runs on it) would silently lose IEEE semantics. Later sessions flush on onnxruntime's threads only.
    """
    options = ort.SessionOptions()
    options.log_severity_level = 3
    ort.InferenceSession(_IDENTITY_GRAPH, options, providers=["CPUExecutionProvider"])


def session_options(threads: int = 0) -> ort.SessionOptions:
    """Options for a session of a bundle's graph.

    * onnxruntime's threads flush denormal floats to zero. HTS-AT's shifted windows mask attention with
      -100, so the softmax holds values near exp(-100) = 4e-44, below float32's smallest normal number;
      x86 CPUs multiply such numbers in microcode, and the attention-times-values products of every
      shifted block ran 15x slower than the same products in the unshifted blocks. Flushed, a whole
      encoder run is 1.4x (fp32) to 1.6x (int8) faster on the 2-core Xeon VM, and its outputs are
      bit-identical (bench/embed_speed.py). The calling thread keeps IEEE floats (see
      :func:`_leave_the_calling_thread_ieee`); its share of a run, the smaller one, is not flushed.
    * No memory pattern: its one block for every intermediate tensor held 18 MiB more resident
      (measured with HTS-AT-tiny, one loop per run) and made the encoder no faster.

    Args:
        threads: intra-op threads (0 = onnxruntime's default: one per core).
    """
    _leave_the_calling_thread_ieee()
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.log_severity_level = 3
    options.add_session_config_entry("session.load_model_format", "ONNX")
    options.add_session_config_entry("session.set_denormal_as_zero", "1")
    options.enable_mem_pattern = False
    return options
