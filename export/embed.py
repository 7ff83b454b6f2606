"""Batched embedding extraction, cached on disk by file content and the encoder's fingerprint."""

from __future__ import annotations

import collections
import contextlib
import hashlib
import os
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from export.htsat import HTSATEncoder
from rtloop.audio_io import load_audio
from rtloop.bundle import sha256_file
from rtloop.errors import AudioError
from rtloop.frontend import FrontEndConfig, batch_inputs


def torch_embed(model: HTSATEncoder, waves: list[np.ndarray], cfg: FrontEndConfig) -> tuple[np.ndarray, np.ndarray]:
    """(latent, embedding) of waveforms with the PyTorch encoder."""
    mel, longer = batch_inputs(waves, cfg)
    with torch.no_grad():
        latent, embedding = model(torch.from_numpy(mel), torch.from_numpy(longer))
    return latent.numpy(), embedding.numpy()


@dataclass
class EmbeddedSet:
    """Embeddings of the usable files of a folder, and the files skipped with their reasons."""

    paths: list[Path] = field(default_factory=list)
    latents: list[np.ndarray] = field(default_factory=list)
    embeddings: list[np.ndarray] = field(default_factory=list)
    durations: list[float] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    cached: int = 0
    cache_error: str | None = None  # why new embeddings could not be cached (none were, after it)

    def features(self, kind: str) -> np.ndarray:
        """Stacked ``latent`` or ``embedding`` features, (n, dim) float32."""
        rows = self.latents if kind == "latent" else self.embeddings
        return np.stack(rows).astype(np.float32)


EmbedFunction = Callable[[list[np.ndarray]], tuple[np.ndarray, np.ndarray]]


def _write_cache(cache_file: Path, latent: np.ndarray, embedding: np.ndarray, seconds: float) -> None:
    """Store one loop's embeddings whole or not at all: written beside, then renamed into place.

    Raises:
        OSError: the entry could not be written (a full disk, a folder that is not writable); nothing
            of it is left behind.
    """
    partial = cache_file.with_name(f".{cache_file.stem}.{os.getpid()}.partial.npz")
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        np.savez(partial, latent=latent, embedding=embedding, seconds=seconds)
        os.replace(partial, cache_file)
    except OSError:
        with contextlib.suppress(OSError):  # the first error is the one to report
            partial.unlink(missing_ok=True)
        raise


def _read_cache(cache_file: Path) -> tuple[np.ndarray, np.ndarray, float] | None:
    """(latent, embedding, seconds) cached for a file, or None: not cached, or not readable as written
    (then the loop is embedded again and the entry rewritten)."""
    if not cache_file.is_file():
        return None
    try:
        with np.load(cache_file, allow_pickle=False) as hit:
            latent, embedding, seconds = np.asarray(hit["latent"]), np.asarray(hit["embedding"]), float(hit["seconds"])
    # EOF: an empty file; TypeError (AttributeError before Python 3.11): a plain .npy, an array not a context manager
    except (OSError, ValueError, KeyError, TypeError, AttributeError, EOFError, zipfile.BadZipFile):
        return None
    arrays_fit = all(
        a.ndim == 1 and a.size and a.dtype.kind == "f" and np.isfinite(a).all() for a in (latent, embedding)
    )
    return (latent, embedding, seconds) if arrays_fit and np.isfinite(seconds) and seconds > 0 else None


class Embedder:
    """Embeds audio files with one encoder; results are cached under ``cache_dir/<fingerprint>/``.

    Args:
        embed: waveforms -> (latent, embedding), e.g. :meth:`export.encoder_graph.EncoderGraph.embed`.
        frontend: the front-end that feeds it.
        fingerprint: names what ``embed`` computes (see :meth:`export.encoder_graph.EncoderGraph.cache_key`).
        cache_dir: root of the cache, or None for no cache.
        batch_size: loops per call of ``embed``.
    """

    def __init__(
        self,
        embed: EmbedFunction,
        frontend: FrontEndConfig,
        fingerprint: str,
        cache_dir: Path | None,
        batch_size: int = 8,
    ) -> None:
        self.embed = embed
        self.frontend = frontend
        self.batch_size = batch_size
        key = hashlib.sha256((fingerprint + repr(sorted(frontend.to_dict().items()))).encode()).hexdigest()[:32]
        self.cache = cache_dir / "embeddings" / key if cache_dir is not None else None

    def _cache_file(self, path: Path) -> Path | None:
        if self.cache is None:
            return None
        return self.cache / (sha256_file(path) + ".npz")

    def embed_files(self, paths: list[Path], read_cache: bool = True) -> EmbeddedSet:
        """Embed every readable file; unreadable ones are reported on stdout and listed as skipped.

        ``read_cache=False`` embeds every file again (and rewrites its entry).
        """
        result = EmbeddedSet()
        hits: set[Path] = set()  # the loops read from the cache
        pending: list[tuple[Path, np.ndarray, Path | None]] = []
        bar = tqdm(total=len(paths), desc="embedding", unit="loop", disable=None)

        def flush() -> None:
            latent, embedding = self.embed([w for _, w, _ in pending])
            for (path, wave, cache_file), lat, emb in zip(pending, latent, embedding, strict=True):
                if cache_file is not None and result.cache_error is None:
                    try:
                        _write_cache(cache_file, lat, emb, len(wave) / self.frontend.sample_rate)
                    except OSError as exc:  # the cache only saves time: training goes on without it
                        result.cache_error = f"{exc.strerror or exc} ({cache_file.parent})"
                        tqdm.write(f"cannot write the embedding cache: {result.cache_error}; going on without it")
                self._add(result, path, lat, emb, len(wave) / self.frontend.sample_rate)
            bar.update(len(pending))
            pending.clear()

        def skip(path: Path, reason: str) -> None:
            tqdm.write(f"skipped {path}: {reason}")
            result.skipped.append((path, reason))
            bar.update(1)

        for path in paths:
            try:
                cache_file = self._cache_file(path)
            except OSError as exc:
                skip(path, f"cannot read: {exc.strerror}")
                continue
            hit = _read_cache(cache_file) if cache_file is not None and read_cache else None
            if hit is not None:  # a hit needs no decoding
                self._add(result, path, *hit)
                hits.add(path)
                result.cached += 1
                bar.update(1)
                continue
            try:
                wave = load_audio(path, self.frontend.sample_rate)
            except AudioError as exc:
                skip(path, str(exc))
                continue
            pending.append((path, wave, cache_file))
            if len(pending) == self.batch_size:
                flush()
        if pending:
            flush()
        bar.close()
        self._embed_odd_hits_again(result, hits)
        # cache hits arrive before the batches they overtook: restore the input order
        rank = {p: i for i, p in enumerate(paths)}
        order = sorted(range(len(result.paths)), key=lambda i: rank[result.paths[i]])
        for name in ("paths", "latents", "embeddings", "durations"):
            column = getattr(result, name)
            setattr(result, name, [column[i] for i in order])
        return result

    def _embed_odd_hits_again(self, result: EmbeddedSet, hits: set[Path]) -> None:
        """Cache hits whose widths differ from the loops embedded now (or, all cached, from most hits) are
        entries edited or from elsewhere: they are embedded again and rewritten (stacking them failed)."""
        widths = [(len(lat), len(emb)) for lat, emb in zip(result.latents, result.embeddings, strict=True)]
        fresh = [w for w, path in zip(widths, result.paths, strict=True) if path not in hits]
        usual = collections.Counter(fresh or widths).most_common(1)[0][0] if widths else None
        odd = [k for k, w in enumerate(widths) if w != usual and result.paths[k] in hits]
        if not odd:
            return
        again = self.embed_files([result.paths[k] for k in odd], read_cache=False)
        keep = [k for k in range(len(widths)) if k not in set(odd)]
        for name in ("paths", "latents", "embeddings", "durations"):
            setattr(result, name, [getattr(result, name)[k] for k in keep] + getattr(again, name))
        result.skipped += again.skipped
        result.cached -= len(odd)
        result.cache_error = result.cache_error or again.cache_error

    @staticmethod
    def _add(result: EmbeddedSet, path: Path, latent: np.ndarray, embedding: np.ndarray, seconds: float) -> None:
        result.paths.append(path)
        result.latents.append(latent)
        result.embeddings.append(embedding)
        result.durations.append(seconds)
