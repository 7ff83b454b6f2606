"""Fetching an official LAION-CLAP checkpoint once into the cache: progress bar, resume, sha256 check.

The Hugging Face hub answers a ``resolve`` URL with the file's sha256 in ``X-Linked-Etag`` (large files
are stored by content hash) before redirecting to its CDN; we read it from that first answer, download
into ``NAME.part`` (resuming with an HTTP Range request where one is left over), and only rename the
file into place once its sha256 matches.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from pathlib import Path

from tqdm import tqdm

from rtloop.bundle import sha256_file
from rtloop.errors import CheckpointError

HF_BASE_URL = "https://huggingface.co/lukewys/laion_clap/resolve/main"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return None


def _announced_sha256(url: str, timeout: float) -> str:
    """The sha256 the hub announces for ``url`` (``X-Linked-Etag``, else a content-hash ``ETag``)."""
    request = urllib.request.Request(url, method="HEAD")
    try:
        response = urllib.request.build_opener(_NoRedirect).open(request, timeout=timeout)
        headers = response.headers
    except urllib.error.HTTPError as exc:  # the 302 towards the CDN lands here, headers and all
        if exc.code >= 400:
            raise
        headers = exc.headers
    for name in ("X-Linked-Etag", "ETag"):
        tag = (headers.get(name) or "").removeprefix("W/").strip('"').lower()
        if _SHA256.match(tag):
            return tag
    raise CheckpointError(f"{url} announces no sha256 to check the download against")


def fetch_checkpoint(name: str, cache_dir: Path, base_url: str = HF_BASE_URL, timeout: float = 30.0) -> Path:
    """Return the cached checkpoint ``name``, downloading it first if needed.

    Raises:
        CheckpointError: the hub cannot be reached (offline), refuses, or the bytes do not match the sha256.
    """
    target = cache_dir / "checkpoints" / name
    stamp = target.with_name(name + ".sha256")
    if target.is_file() and stamp.is_file() and stamp.read_text().strip() == sha256_file(target):
        return target
    url = f"{base_url.rstrip('/')}/{name}"
    part = target.with_name(name + ".part")
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        expected = _announced_sha256(url, timeout)
        offset = part.stat().st_size if part.is_file() else 0
        request = urllib.request.Request(url, headers={"Range": f"bytes={offset}-"} if offset else {})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            if response.status != 206:  # the server ignored the Range: start over
                offset = 0
            length = response.headers.get("Content-Length")
            total = offset + int(length) if length else None
            with (
                part.open("ab" if offset else "wb") as out,
                tqdm(
                    total=total, initial=offset, unit="B", unit_scale=True, desc=f"downloading {name}", disable=None
                ) as bar,
            ):
                for block in iter(lambda: response.read(1 << 20), b""):
                    out.write(block)
                    bar.update(len(block))
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise CheckpointError(
            f"cannot download {url}: {exc}. Offline? Pass --clap-ckpt PATH to a local checkpoint, "
            "or --random-encoder to train on a randomly initialised encoder"
        ) from exc
    actual = sha256_file(part)
    if actual != expected:
        part.unlink()
        raise CheckpointError(f"{name}: downloaded sha256 {actual} does not match the announced {expected}")
    part.replace(target)
    stamp.write_text(actual + "\n")
    return target
