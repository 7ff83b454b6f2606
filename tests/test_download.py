"""Checkpoint download against a local HTTP server: sha256 from the hub's header, resume, refusals."""

from __future__ import annotations

import hashlib
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("tqdm")
from export.download import fetch_checkpoint  # noqa: E402
from rtloop.errors import CheckpointError  # noqa: E402

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB


class _Hub(http.server.BaseHTTPRequestHandler):
    """A stand-in for huggingface.co/.../resolve/main: 302 with X-Linked-Etag, then a CDN with Range."""

    payload = PAYLOAD
    announced = hashlib.sha256(PAYLOAD).hexdigest()
    ranges: list[str] = []

    def log_message(self, *args: object) -> None:
        pass

    def do_HEAD(self) -> None:
        if self.path.startswith("/resolve/"):
            self.send_response(302)
            self.send_header("X-Linked-Etag", f'"{self.announced}"')
            self.send_header("Location", "/cdn" + self.path)
            self.end_headers()
        else:
            self.send_response(200)
            self.end_headers()

    def do_GET(self) -> None:
        if self.path.startswith("/resolve/"):
            self.send_response(302)
            self.send_header("Location", "/cdn" + self.path)
            self.end_headers()
            return
        start = 0
        header = self.headers.get("Range")
        if header:
            self.ranges.append(header)
            start = int(header.removeprefix("bytes=").split("-")[0])
        body = self.payload[start:]
        self.send_response(206 if header else 200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def hub() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Hub.ranges = []
    yield f"http://127.0.0.1:{server.server_address[1]}/resolve/main"
    server.shutdown()
    server.server_close()


def test_download_checks_sha256_and_is_cached(hub: str, tmp_path: Path) -> None:
    path = fetch_checkpoint("630k-audioset-fusion-best.pt", tmp_path, base_url=hub)
    assert path.read_bytes() == PAYLOAD
    path.with_name(path.name + ".part").write_bytes(b"untouched")
    assert fetch_checkpoint("630k-audioset-fusion-best.pt", tmp_path, base_url="http://127.0.0.1:1/") == path


def test_download_resumes_a_partial_file(hub: str, tmp_path: Path) -> None:
    part = tmp_path / "checkpoints" / "x.pt.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(PAYLOAD[:300_000])
    path = fetch_checkpoint("x.pt", tmp_path, base_url=hub)
    assert _Hub.ranges == ["bytes=300000-"]
    assert path.read_bytes() == PAYLOAD and not part.exists()


def test_corrupt_download_is_refused_and_discarded(hub: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_Hub, "payload", PAYLOAD[:-1] + b"\x00")
    with pytest.raises(CheckpointError, match="does not match the announced"):
        fetch_checkpoint("x.pt", tmp_path, base_url=hub)
    assert not list((tmp_path / "checkpoints").iterdir())


def test_offline_gives_a_clear_message(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="--clap-ckpt PATH.*--random-encoder"):
        fetch_checkpoint("x.pt", tmp_path, base_url="http://127.0.0.1:1/resolve/main", timeout=2)
