"""Scanning on a Ray cluster: actors each hold one ONNX Runtime session and read the files themselves.

The driver (the machine running ``rtloop scan --ray``) walks the folders, sends batches of *paths*
and writes every result to its database. So each library path must be readable under the same
absolute path on every node (a shared filesystem: NFS, SMB, a cluster file system, or the same mount
everywhere). The bundle is sent to the cluster through Ray's object store; it needs no shared path.
Each node needs rtloop installed with the ``ray`` extra (``pip install 'rtloop[ray]'``).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from rtloop.errors import RtloopError
from rtloop.library.db import LoopResult
from rtloop.library.scan import ScanConfig
from rtloop.library.worker import ScanWorker, Task
from rtloop.session_options import flush_denormals_in_this_process


def _import_ray() -> Any:
    try:
        import ray
    except ModuleNotFoundError:
        raise RtloopError("--ray needs Ray: pip install 'rtloop[ray]'") from None
    return ray


class BundleActor:
    """A Ray actor: unpacks the bundle sent by the driver into a temporary folder and scores batches."""

    def __init__(self, files: dict[str, bytes], providers: list[str] | None) -> None:
        flush_denormals_in_this_process()  # the actor's process is its own
        self._folder = tempfile.TemporaryDirectory(prefix="rtloop-bundle-")
        for name, data in files.items():
            (Path(self._folder.name) / name).write_bytes(data)
        self.worker = ScanWorker(self._folder.name, providers, threads=1)

    def run(self, tasks: list[Task]) -> list[LoopResult]:
        return self.worker.run(tasks)


class RayRunner:
    """Runs scan batches on a Ray cluster: one actor per GPU if the cluster has GPUs, else one per CPU.

    Args:
        bundle: the bundle directory on the driver.
        address: what ``ray.init`` connects to: ``auto`` (a cluster started on this machine with
            ``ray start``), ``HOST:PORT`` (a head node's GCS) or ``ray://HOST:10001`` (Ray Client). If
            this process is already connected to Ray, that connection is used.
        providers: onnxruntime execution providers (default: CUDA where the actor has a GPU, else CPU).

    Raises:
        RtloopError: Ray is not installed, or the cluster cannot be reached.
    """

    def __init__(self, bundle: Path, address: str, providers: list[str] | None = None) -> None:
        ray = self.ray = _import_ray()
        from ray.util import ActorPool

        self._owns_connection = not ray.is_initialized()
        if self._owns_connection:
            try:
                ray.init(address=address, logging_level="WARNING", log_to_driver=False)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise RtloopError(f"cannot connect to the Ray cluster at {address!r}: {exc}") from exc
        resources = ray.cluster_resources()
        gpus = int(resources.get("GPU", 0))
        self.workers = gpus or max(1, int(resources.get("CPU", 1)))
        files = {p.name: p.read_bytes() for p in sorted(bundle.iterdir()) if p.is_file()}
        actor = ray.remote(num_cpus=1, num_gpus=1 if gpus else 0)(BundleActor)
        files_ref = ray.put(files)
        self.actors = [actor.remote(files_ref, providers) for _ in range(self.workers)]
        self.pool = ActorPool(self.actors)

    def map(self, batches: Iterable[list[Task]]) -> Iterator[list[LoopResult]]:
        yield from self.pool.map_unordered(lambda a, tasks: a.run.remote(tasks), batches)

    def close(self) -> None:
        for actor in self.actors:
            self.ray.kill(actor)
        if self._owns_connection:
            self.ray.shutdown()


def ray_runner(address: str) -> Callable[[ScanConfig], RayRunner]:
    """A ``make_runner`` for :func:`rtloop.library.scan.scan` that scores on the Ray cluster at ``address``."""

    def make(cfg: ScanConfig) -> RayRunner:
        return RayRunner(cfg.bundle, address, list(cfg.providers) if cfg.providers else None)

    return make
