"""The library explorer: a local web page (Starlette + uvicorn) with a map, a table, playback and exports.

Safe by default: it binds 127.0.0.1, answers only requests whose Host is the loopback name it serves
(no DNS rebinding), serves audio only by database id and only when the file, symlinks resolved, lies
inside a scanned folder (or the takes folder), opens the database read-only, and writes only where an
export asks, on a request that carries the page's random token (no cross-site writes).
"""

from __future__ import annotations

import json
import secrets
import socket
import threading
import time
import webbrowser
from dataclasses import dataclass
from enum import Enum
from importlib import resources
from pathlib import Path
from typing import Any

from rtloop.errors import RtloopError
from rtloop.library.db import LibraryDB, shown
from rtloop.library.exports import copy_into, to_csv, to_m3u
from rtloop.takes import read_session

TOKEN_HEADER = "x-rtloop-token"
MAX_FILE_ID = 2**63 - 1  # SQLite's largest INTEGER
STATIC = {
    "style.css": "text/css",
    "library.js": "text/javascript",
    "takes.js": "text/javascript",
    "common.js": "text/javascript",
}


class Mode(str, Enum):
    """What the explorer shows."""

    LIBRARY = "library"
    TAKES = "takes"


@dataclass(frozen=True)
class ExploreConfig:
    """What to serve and where.

    Args:
        source: the library database, or the takes folder in takes mode.
        mode: library or takes.
        host: interface to bind (127.0.0.1 by default: this machine only).
        port: TCP port (0: a free one).
    """

    source: Path
    mode: Mode = Mode.LIBRARY
    host: str = "127.0.0.1"
    port: int = 0


def _import_web() -> tuple[Any, Any]:
    try:
        import starlette  # noqa: F401
        import uvicorn
    except ModuleNotFoundError:
        raise RtloopError("explore needs the web extra: pip install 'rtloop[explore]'") from None
    return starlette, uvicorn


def plotly_js() -> Path:
    """plotly.min.js as installed with the plotly Python package (served locally: no CDN)."""
    try:
        import plotly
    except ModuleNotFoundError:
        raise RtloopError("explore needs plotly: pip install 'rtloop[explore]'") from None
    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    if not path.is_file():
        raise RtloopError(f"this plotly package has no {path}")
    return path


def is_file_id(value: Any) -> bool:
    """Whether ``value`` can be a file's id: a whole number (not a bool) from 1 that SQLite can hold."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_FILE_ID


def file_ids(body: Any) -> list[int] | None:
    """The file ids of an export request's JSON body (``{"ids": [whole numbers from 1]}``), or None."""
    ids = body.get("ids") if isinstance(body, dict) else None
    return ids if isinstance(ids, list) and all(map(is_file_id, ids)) else None


def contained(path: Path, roots: list[Path]) -> Path | None:
    """``path`` with every symlink resolved if that is an existing file inside one of ``roots``, else None."""
    try:
        real = path.resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if not real.is_file():
        return None
    for root in roots:
        root_real = root.resolve()
        if real == root_real or real.is_relative_to(root_real):
            return real
    return None


def build_app(cfg: ExploreConfig, token: str, allowed_hosts: list[str]) -> Any:
    """The Starlette application serving ``cfg.source``.

    Raises:
        RtloopError: the web extra is missing.
        LibraryError: not a library database (library mode).
        FileNotFoundError: not a takes folder (takes mode).
    """
    _import_web()
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.middleware.trustedhost import TrustedHostMiddleware
    from starlette.requests import Request
    from starlette.responses import FileResponse, PlainTextResponse, Response
    from starlette.routing import Route

    static = resources.files("rtloop.library") / "static"
    plotly_path = plotly_js()

    def page(request: Request) -> Response:
        name = "takes.html" if cfg.mode is Mode.TAKES else "library.html"
        html = (static / name).read_text(encoding="utf-8")
        return Response(html, media_type="text/html", headers={"Cache-Control": "no-store"})

    def static_file(request: Request) -> Response:
        name = request.path_params["name"]
        if name == "plotly.min.js":
            return FileResponse(plotly_path, media_type="text/javascript")
        if name not in STATIC:
            return PlainTextResponse("not found", status_code=404)
        return Response((static / name).read_bytes(), media_type=STATIC[name])

    def authorised(request: Request) -> bool:
        return secrets.compare_digest(request.headers.get(TOKEN_HEADER, ""), token)

    def no_icon(request: Request) -> Response:
        return Response(status_code=204)

    routes = [Route("/", page), Route("/static/{name}", static_file), Route("/favicon.ico", no_icon)]

    if cfg.mode is Mode.LIBRARY:
        db = LibraryDB(cfg.source, readonly=True)
        roots = db.roots()
        lock = threading.Lock()  # one sqlite connection shared by uvicorn's threads

        def library(request: Request) -> Response:
            with lock:
                body = {"summary": db.summary(), "loops": db.loops(), "token": token, "source": str(cfg.source)}
            return _json(body)

        def audio(request: Request) -> Response:
            file_id = request.path_params["id"]
            with lock:
                path = db.file_path(file_id) if is_file_id(file_id) else None
            real = None if path is None else contained(path, roots)
            if real is None:
                return PlainTextResponse("not in the library", status_code=403 if path is not None else 404)
            return FileResponse(real)

        async def export(request: Request) -> Response:
            if not authorised(request):
                return PlainTextResponse("missing or wrong token", status_code=403)
            try:
                body = await request.json()
            except ValueError:
                body = None
            ids = file_ids(body)
            if ids is None:
                return PlainTextResponse("expected JSON {ids: [...]}, whole numbers from 1", status_code=400)
            kind = request.path_params["kind"]
            with lock:
                loops = [loop for loop in db.selection(ids) if contained(loop.path, roots)]
                aspects = json.loads(db.meta("aspects") or "[]")
            if kind == "csv":
                return _attachment(to_csv(loops, aspects), "text/csv", "selection.csv")
            if kind == "m3u":
                return _attachment(to_m3u(loops), "audio/x-mpegurl", "selection.m3u")
            if kind == "copy":
                folder = body.get("folder")
                if not isinstance(folder, str) or not folder.strip():
                    return PlainTextResponse("name a folder to copy into", status_code=400)
                target = Path(folder).expanduser()
                if not target.is_absolute():
                    return PlainTextResponse("give an absolute folder path", status_code=400)
                try:
                    written, skipped = copy_into([loop.path for loop in loops], target)
                except OSError as exc:
                    return PlainTextResponse(f"cannot write {target}: {exc.strerror or exc}", status_code=400)
                return _json({"folder": str(target), "copied": len(written), "skipped": skipped})
            return PlainTextResponse("unknown export", status_code=404)

        routes += [
            Route("/api/library", library),
            Route("/audio/{id:int}", audio),
            Route("/api/export/{kind}", export, methods=["POST"]),
        ]
    else:
        folder = cfg.source
        read_session(folder)  # FileNotFoundError now if it is not a takes folder

        def takes(request: Request) -> Response:
            rows = [record.__dict__ for record in read_session(folder)]
            return _json({"folder": str(folder), "records": rows, "threshold": 0.5})

        def take_audio(request: Request) -> Response:
            current = read_session(folder)
            index = request.path_params["index"]
            if not 0 <= index < len(current) or not current[index].file:
                return PlainTextResponse("no such take", status_code=404)
            real = contained(folder / current[index].file, [folder])
            if real is None:
                return PlainTextResponse("not in the takes folder", status_code=403)
            return FileResponse(real)

        routes += [Route("/api/takes", takes), Route("/take/{index:int}", take_audio)]

    middleware = [Middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts)]
    return Starlette(routes=routes, middleware=middleware)


def _json(content: Any) -> Any:
    """A JSON response, valid UTF-8 even when a file name is not (its odd bytes are shown as U+FFFD)."""
    from starlette.responses import Response

    text = json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return Response(shown(text), media_type="application/json")


def _attachment(text: str, media_type: str, filename: str) -> Any:
    """A download whose paths are the bytes the file system has, whatever their encoding: players open them."""
    from starlette.responses import Response

    return Response(
        text.encode("utf-8", "surrogateescape"),
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


class Explorer:
    """The explorer's server on its own thread (a context manager: ``with Explorer(cfg) as ex: ex.url``).

    Raises:
        RtloopError: the web extra is missing or the port cannot be bound.
    """

    def __init__(self, cfg: ExploreConfig) -> None:
        _, uvicorn = _import_web()
        self.token = secrets.token_urlsafe(24)
        try:
            self.socket = socket.socket(socket.AF_INET6 if ":" in cfg.host else socket.AF_INET)
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.socket.bind((cfg.host, cfg.port))
            self.socket.listen(128)  # connections wait in the backlog until uvicorn accepts them
        except OSError as exc:
            raise RtloopError(f"cannot listen on {cfg.host}:{cfg.port}: {exc.strerror or exc}") from exc
        self.port = self.socket.getsockname()[1]
        hosts = ["127.0.0.1", "localhost", "[::1]", "::1"]
        if cfg.host not in ("127.0.0.1", "localhost", "::1"):
            hosts = ["*"]  # bound beyond loopback on purpose: any name that reaches it
        host = f"[{cfg.host}]" if ":" in cfg.host else cfg.host
        self.url = f"http://{'127.0.0.1' if cfg.host in ('0.0.0.0', '::') else host}:{self.port}/"
        app = build_app(cfg, self.token, hosts)
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True)

    def start(self) -> Explorer:
        """Start serving; returns once the server accepts requests.

        Raises:
            RtloopError: the server did not start within 30 s.
        """
        self._thread.start()
        deadline = time.monotonic() + 30.0
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.close()
                raise RtloopError("the explorer's web server did not start")
            time.sleep(0.02)
        return self

    def wait(self) -> None:
        """Block until the server stops (Ctrl-C stops it)."""
        try:
            while self._thread.is_alive():
                self._thread.join(0.5)
        except KeyboardInterrupt:
            pass

    def close(self) -> None:
        self.server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(5.0)
        self.socket.close()

    def __enter__(self) -> Explorer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def serve(cfg: ExploreConfig, open_browser: bool = True) -> None:
    """Serve until Ctrl-C, printing the address (and opening it in the browser unless told not to)."""
    with Explorer(cfg) as explorer:
        print(f"rtloop explore: {explorer.url}  (Ctrl-C to stop)", flush=True)
        if open_browser:
            webbrowser.open(explorer.url)
        explorer.wait()
