"""Matrix products that keep OpenBLAS on the calling thread.

A threaded OpenBLAS call wakes worker threads, and after it they spin for a while waiting for more
work. On a small machine that costs twice: the wake-up costs milliseconds per call on a busy CPU (the
daemon shares it with audio and the network), far more than a small product itself, and the spinning
workers take cores from whatever runs next. Measured on the 2-core Xeon VM, an int8 encoder run one loop
at a time with the front-end between runs: 6.7 loops/s with OpenBLAS's threads, 12 with
OPENBLAS_NUM_THREADS=1.
"""

from __future__ import annotations

import numpy as np

BLAS_SINGLE_THREAD = 1 << 18  # OpenBLAS runs a product of fewer multiply-adds (m*n*k) on one thread


def matmul_unthreaded(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` for 2-D arrays, in row blocks small enough for OpenBLAS to keep on the calling thread.

    Vector products need no blocks: einsum never calls BLAS.
    """
    rows = max(1, BLAS_SINGLE_THREAD // max(1, b.shape[0] * b.shape[1]) - 1)
    out = np.empty((a.shape[0], b.shape[1]), dtype=np.result_type(a, b))
    for i in range(0, a.shape[0], rows):
        np.matmul(a[i : i + rows], b, out=out[i : i + rows])
    return out
