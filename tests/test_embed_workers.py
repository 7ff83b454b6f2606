"""Training's embedding workers (``rtloop train --jobs``): the same features as one process, bit for bit,
in the loops' order, a clear error when a worker dies, and a clean stop on Ctrl-C."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import time
import types
from pathlib import Path

import numpy as np
import pytest
from rtloop_console import RTLOOP_CONSOLE

pytest.importorskip("torch")

from export.embed_workers import EmbedWorkers  # noqa: E402
from rtloop.bundle import ENCODER_FILE, load_bundle  # noqa: E402
from rtloop.errors import RtloopError  # noqa: E402
from rtloop.scorer import Scorer, run_encoder  # noqa: E402
from rtloop.synth import bass_loop, write_loop_set  # noqa: E402


@pytest.fixture(scope="module")
def graph(trained_bundle: Path) -> types.SimpleNamespace:
    """What EmbedWorkers needs of an ``export.encoder_graph.EncoderGraph``, over a trained bundle's real
    encoder graph: the file, its front-end, and its one-loop-per-run embedding in this process."""
    bundle = load_bundle(trained_bundle)
    scorer = Scorer(bundle, ["CPUExecutionProvider"], threads=2, self_test=False)
    return types.SimpleNamespace(
        shipped=trained_bundle / ENCODER_FILE,
        frontend=bundle.frontend,
        embed=lambda waves: run_encoder(scorer.encoder, waves, bundle.frontend, one_loop_per_run=True),
    )


def _waves(count: int) -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    return [bass_loop(120.0 + 10 * i, 1, 48000, rng) for i in range(count)]


def test_workers_embed_as_this_process_does_in_the_loops_order(graph: types.SimpleNamespace) -> None:
    waves = _waves(5)
    expected_latent, expected_embedding = graph.embed(waves)
    with EmbedWorkers(graph, jobs=2) as workers:
        latent, embedding = workers.embed(waves)
        again = workers.embed(waves[::-1])  # the same pool, the loops reversed
    np.testing.assert_array_equal(latent, expected_latent)  # one-loop runs: bit-identical at any thread count
    np.testing.assert_array_equal(embedding, expected_embedding)
    np.testing.assert_array_equal(again[0], expected_latent[::-1])
    assert not multiprocessing.active_children(), "closing left worker processes running"


def test_one_job_embeds_in_this_process(graph: types.SimpleNamespace) -> None:
    waves = _waves(2)
    with EmbedWorkers(graph, jobs=1) as workers:
        latent, _ = workers.embed(waves)
        assert not multiprocessing.active_children()
    np.testing.assert_array_equal(latent, graph.embed(waves)[0])


def test_a_dead_worker_is_reported(graph: types.SimpleNamespace) -> None:
    with EmbedWorkers(graph, jobs=2) as workers:
        workers.embed(_waves(2))
        for child in multiprocessing.active_children():
            os.kill(child.pid, signal.SIGKILL)
        with pytest.raises(RtloopError, match="embedding worker process died"):
            workers.embed(_waves(2))


def test_ctrl_c_while_embedding_stops_training_with_one_line(tmp_path: Path) -> None:
    """Ctrl-C reaches the whole process group: the workers ignore it, the trainer stops them and says so."""
    write_loop_set(tmp_path / "loops", 24, seed=11)
    cache = tmp_path / "cache"
    argv = ["train", str(tmp_path / "loops"), "-o", str(tmp_path / "b.rtloop"), "--random-encoder", "--jobs", "2"]
    train = subprocess.Popen(
        [*RTLOOP_CONSOLE, *argv, "--cache-dir", str(cache)],
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while not list(cache.glob("embeddings/*/*.npz")):  # the workers have embedded a first batch
        assert train.poll() is None and time.monotonic() < deadline, "training ended before it embedded"
        time.sleep(0.05)
    os.killpg(train.pid, signal.SIGINT)
    _, stderr = train.communicate(timeout=60)
    # It said so, then ended as Ctrl-C ends a program, so that a shell loop around it stops too.
    assert train.returncode == -signal.SIGINT, (train.returncode, stderr)
    assert "rtloop train: interrupted" in stderr and "Traceback" not in stderr, stderr
    assert not (tmp_path / "b.rtloop").exists()
