"""The onnxruntime session options every rtloop graph runs with: live, scan, training and benchmarks."""

from __future__ import annotations

import onnxruntime as ort


def session_options(threads: int = 0) -> ort.SessionOptions:
    """Options for a session of a bundle's graph.

    * Denormal floats are flushed to zero. HTS-AT's shifted windows mask attention with -100, so the
      softmax holds values near exp(-100) = 4e-44, below float32's smallest normal number; x86 CPUs
      multiply such numbers in microcode, and the attention-times-values products of every shifted
      block ran 15x slower than the same products in the unshifted blocks. Flushed, a whole encoder
      run is 1.4x (fp32) to 1.6x (int8) faster on the 2-core Xeon VM, and its outputs are bit-identical
      (bench/embed_speed.py). onnxruntime sets this on its own threads, and, once per process, on the
      thread that creates the process's first session: from then on numpy in that thread flushes too.
    * No memory pattern: its one block for every intermediate tensor held 18 MiB more resident
      (measured with HTS-AT-tiny, one loop per run) and made the encoder no faster.

    Args:
        threads: intra-op threads (0 = onnxruntime's default: one per core).
    """
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.log_severity_level = 3
    options.add_session_config_entry("session.load_model_format", "ONNX")
    options.add_session_config_entry("session.set_denormal_as_zero", "1")
    options.enable_mem_pattern = False
    return options
