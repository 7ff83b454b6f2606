"""The library explorer: a real uvicorn server on 127.0.0.1, raw HTTP for the safety rules, and headless
Chromium (Debian's, driven by Playwright) for the page: sort, filter, click-to-play, export, takes timeline.

The library here is a real SQLite database of real WAV files whose scores are made up (the explorer is
under test, not the scorer; tests/test_library_scan.py scans with a real bundle).
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from rtloop.library.db import LibraryDB, LoopResult
from rtloop.library.projection import update_map
from rtloop.synth import write_loop_set
from rtloop.takes import JSONL, LoopRecord

pytest.importorskip("starlette", reason="the explore extra is not installed: pip install 'rtloop[explore]'")
pytest.importorskip("plotly", reason="the explore extra is not installed: pip install 'rtloop[explore]'")

from rtloop.library.explore import TOKEN_HEADER, ExploreConfig, Explorer, Mode  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
ASPECTS = ("rhythm", "timbre")


def make_library(root: Path) -> tuple[Path, list[Path]]:
    """Loops in two folders, stored with made-up scores (variation rises with the file's index)."""
    lib = root / "lib"
    files = write_loop_set(lib / "bass", 6, seed=1) + write_loop_set(lib / "odd", 3, seed=2, deviation="noise")
    database = root / "library.db"
    rng = np.random.default_rng(0)
    with LibraryDB(database) as db, db.conn:
        root_id = db.root_id(lib.resolve())
        db.set_meta("aspects", json.dumps(ASPECTS))
        db.set_meta("bundle_path", "made-up.rtloop")
        for k, path in enumerate(files):
            path = path.resolve()
            file_id = db.upsert_file(path, root_id, lib.resolve(), path.stat().st_size, path.stat().st_mtime_ns)
            centre = 3.0 if "odd" in path.parts else 0.0
            result = LoopResult(
                str(path),
                hashlib.sha256(path.read_bytes()).hexdigest(),
                duration=2.0,
                raw=float(k),
                variation=k / 10,
                flagged=k >= 6,
                aspects=((ASPECTS[0], 1 - k / 10, None), (ASPECTS[1], k / 20, float(k))),
                embedding=(centre + rng.normal(size=16)).astype(np.float32).tobytes(),
            )
            db.store(file_id, result)
        update_map(db)
    return database, [p.resolve() for p in files]


@pytest.fixture
def library(tmp_path: Path) -> tuple[Path, list[Path]]:
    return make_library(tmp_path)


@pytest.fixture
def explorer(library: tuple[Path, list[Path]]) -> Iterator[Explorer]:
    with Explorer(ExploreConfig(library[0])) as ex:
        yield ex


def get(ex: Explorer, raw_path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    """GET a raw, unnormalised path (http.client sends it as written)."""
    conn = http.client.HTTPConnection("127.0.0.1", ex.port, timeout=10)
    try:
        conn.request("GET", raw_path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def post(ex: Explorer, path: str, body: object, token: str | None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", ex.port, timeout=30)
    headers = {"Content-Type": "application/json"} | ({TOKEN_HEADER: token} if token is not None else {})
    try:
        conn.request("POST", path, body=json.dumps(body), headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def ids_by_name(ex: Explorer) -> dict[str, int]:
    loops = json.loads(get(ex, "/api/library")[1])["loops"]
    return dict(zip(loops["name"], loops["id"], strict=True))


# -- the server ---------------------------------------------------------------------------------------


def test_api_lists_every_scored_loop_with_aspects_and_map(explorer: Explorer, library: tuple[Path, list[Path]]) -> None:
    status, body = get(explorer, "/api/library")
    assert status == 200
    data = json.loads(body)
    loops = data["loops"]
    assert sorted(loops["name"]) == sorted(p.name for p in library[1])
    assert set(loops["aspects"]) == set(ASPECTS)
    assert all(v is not None for v in loops["x"] + loops["y"]), "every loop has map coordinates"
    odd = [x for x, f in zip(loops["x"], loops["folder"], strict=True) if f == "odd"]
    bass = [x for x, f in zip(loops["x"], loops["folder"], strict=True) if f == "bass"]
    assert min(odd) > max(bass) or max(odd) < min(bass), "the map's first axis separates the two clusters"
    assert data["summary"]["aspects"] == list(ASPECTS)


def test_audio_is_served_by_id(explorer: Explorer, library: tuple[Path, list[Path]]) -> None:
    ids = ids_by_name(explorer)
    target = library[1][4]
    status, body = get(explorer, f"/audio/{ids[target.name]}")
    assert status == 200 and body == target.read_bytes()
    assert get(explorer, "/audio/99999")[0] == 404


@pytest.mark.parametrize(
    "raw_path",
    [
        "/static/../../../../etc/passwd",
        "/static/..%2f..%2f..%2f..%2fetc%2fpasswd",
        "/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/static/%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/audio/..%2f..%2f..%2fetc%2fpasswd",
        "/audio/%2e%2e/%2e%2e/etc/passwd",
        "/audio/1/../../../etc/passwd",
        "/static/library.js%00.html",
        "/static/..%252f..%252fetc%252fpasswd",
    ],
)
def test_path_traversal_is_refused(explorer: Explorer, raw_path: str) -> None:
    status, body = get(explorer, raw_path)
    assert status in (400, 403, 404), f"{raw_path} answered {status}"
    assert b"root:" not in body


def test_files_outside_the_library_are_not_served(tmp_path: Path, library: tuple[Path, list[Path]]) -> None:
    database, files = library
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "secret.wav"
    shutil.copy(files[0], secret)
    link = files[0].parent / "link_out.wav"
    link.symlink_to(secret)
    swapped = files[1]
    swapped.unlink()
    swapped.symlink_to(secret)  # a scanned file replaced by a link out after the scan
    with LibraryDB(database) as db, db.conn:
        root_id = db.root_id(files[0].parent.parent)
        for path in (secret, link):  # rows as a crafted or stale database could hold them
            file_id = db.conn.execute(
                "INSERT INTO files (path, root_id, folder, name, size, mtime_ns, state, seen_at) "
                "VALUES (?, ?, 'x', ?, 1, 1, 'missing', 'now')",
                (str(path), root_id, path.name),
            ).lastrowid
            db.store(file_id, LoopResult(str(path), "x", embedding=np.zeros(16, np.float32).tobytes()))
    with Explorer(ExploreConfig(database)) as ex:
        ids = ids_by_name(ex)
        for name in ("secret.wav", "link_out.wav", swapped.name):
            status, body = get(ex, f"/audio/{ids[name]}")
            assert status == 403, f"{name} (outside the scanned folder) answered {status}"
        assert get(ex, f"/audio/{ids[files[2].name]}")[0] == 200


def test_only_loopback_host_names_are_answered(explorer: Explorer) -> None:
    assert get(explorer, "/api/library", {"Host": "evil.example"})[0] == 400, "DNS rebinding: a foreign Host"
    assert get(explorer, "/api/library", {"Host": f"localhost:{explorer.port}"})[0] == 200


def test_server_binds_loopback_by_default(explorer: Explorer) -> None:
    assert explorer.socket.getsockname()[0] == "127.0.0.1"
    assert explorer.url == f"http://127.0.0.1:{explorer.port}/"


def test_exports_need_the_page_token(explorer: Explorer, tmp_path: Path) -> None:
    ids = list(ids_by_name(explorer).values())
    for token in (None, "wrong"):
        status, _ = post(explorer, "/api/export/copy", {"ids": ids, "folder": str(tmp_path / "x")}, token)
        assert status == 403
    assert not (tmp_path / "x").exists(), "a refused export wrote nothing"


def test_csv_m3u_and_copy_exports(explorer: Explorer, library: tuple[Path, list[Path]], tmp_path: Path) -> None:
    token = json.loads(get(explorer, "/api/library")[1])["token"]
    by_name = ids_by_name(explorer)
    chosen = [library[1][7], library[1][2]]
    ids = [by_name[p.name] for p in chosen]
    status, body = post(explorer, "/api/export/m3u", {"ids": ids}, token)
    assert status == 200
    lines = body.decode().splitlines()
    assert lines[0] == "#EXTM3U" and [line for line in lines if not line.startswith("#")] == [str(p) for p in chosen]
    status, body = post(explorer, "/api/export/csv", {"ids": ids}, token)
    rows = [r.split(",") for r in body.decode().splitlines()]
    assert rows[0] == ["path", "folder", "name", "duration_s", "score", "variation", "flagged", *ASPECTS]
    assert [r[0] for r in rows[1:]] == [str(p) for p in chosen] and rows[1][5] == "0.7000"
    target = tmp_path / "picked"
    for _ in range(2):
        status, body = post(explorer, "/api/export/copy", {"ids": ids, "folder": str(target)}, token)
        assert status == 200 and json.loads(body)["copied"] == 2
    names = sorted(p.name for p in target.iterdir())
    assert names == sorted([p.name for p in chosen] + [f"{p.stem}-2{p.suffix}" for p in chosen]), "never overwrites"
    assert (target / chosen[0].name).read_bytes() == chosen[0].read_bytes()
    assert post(explorer, "/api/export/copy", {"ids": ids, "folder": "relative/dir"}, token)[0] == 400
    for bad in ({"ids": "23"}, {"ids": [2**63]}, {"ids": [1.5]}, {"ids": [True]}, {"ids": [-1]}, [1, 2]):
        assert post(explorer, "/api/export/csv", bad, token)[0] == 400, bad
    assert get(explorer, f"/audio/{2**64}")[0] == 404


def test_a_file_name_that_is_not_utf8_is_listed_played_and_exported(tmp_path: Path) -> None:
    """Its JSON shows the odd byte as U+FFFD; audio, M3U, CSV and copies use the name's own bytes (HTTP 500 before)."""
    lib = tmp_path / "lib"
    written = write_loop_set(lib, 1, seed=3)[0]  # soundfile cannot name such a file itself
    path = written.rename(lib / os.fsdecode(b"caf\xe9.wav")).resolve()
    database = tmp_path / "library.db"
    with LibraryDB(database) as db, db.conn:
        file_id = db.upsert_file(path, db.root_id(lib.resolve()), lib.resolve(), 1, 1)
        embedding = np.ones(16, dtype=np.float32).tobytes()
        db.store(file_id, LoopResult(str(path), "0" * 64, duration=2.0, raw=1.0, variation=0.5, embedding=embedding))
        junk = lib / os.fsdecode(b"bad\xff.wav")
        db.store(db.upsert_file(junk, 1, lib.resolve(), 1, 1), LoopResult(str(junk), None, reason=f"{junk}: no"))
        update_map(db)
    with Explorer(ExploreConfig(database)) as ex:
        status, body = get(ex, "/api/library")
        assert status == 200
        data = json.loads(body.decode("utf-8"))
        assert data["loops"]["name"] == ["caf\ufffd.wav"]
        unreadable = data["summary"]["unreadable"]
        assert [Path(u["path"]).name for u in unreadable] == ["bad\ufffd.wav"]
        assert unreadable[0]["reason"].endswith("bad\ufffd.wav: no")
        assert get(ex, f"/audio/{file_id}") == (200, path.read_bytes())
        token = data["token"]
        status, body = post(ex, "/api/export/m3u", {"ids": [file_id]}, token)
        assert status == 200 and body.splitlines()[-1] == os.fsencode(path), "a player opens the path it is given"
        status, body = post(ex, "/api/export/csv", {"ids": [file_id]}, token)
        assert status == 200 and body.splitlines()[1].startswith(os.fsencode(path) + b",")
        target = tmp_path / "picked"
        status, body = post(ex, "/api/export/copy", {"ids": [file_id], "folder": str(target)}, token)
        assert status == 200 and json.loads(body)["copied"] == 1
        assert os.listdir(os.fsencode(target)) == [b"caf\xe9.wav"]


def test_the_database_is_opened_read_only(library: tuple[Path, list[Path]]) -> None:
    database = library[0]
    before = database.read_bytes()
    with Explorer(ExploreConfig(database)) as ex:
        assert get(ex, "/api/library")[0] == 200
    assert database.read_bytes() == before
    assert not Path(str(database) + "-journal").exists() and not Path(str(database) + "-wal").exists()


def write_session(folder: Path, source: Path) -> None:
    """A takes folder as rtloop run --takes leaves it: WAV takes and session.jsonl."""
    folder.mkdir(parents=True)
    shutil.copy(source, folder / "take1.wav")
    records = [
        LoopRecord("loop", "2026-01-01T10:00:00.000", 1, 120.0, 1.0, 0.2, False, False, ""),
        LoopRecord("loop", "2026-01-01T10:00:02.000", 2, 120.0, 5.0, 0.9, True, False, "take1.wav"),
        LoopRecord("mark", "2026-01-01T10:00:03.000", 2, 120.0, 5.0, 0.9, True, True, "take1.wav"),
        LoopRecord("loop", "2026-01-01T10:00:04.000", 3, 120.0, 5.0, 0.9, True, False, "../../etc/passwd"),
    ]
    (folder / JSONL).write_text("".join(json.dumps(r.__dict__) + "\n" for r in records), encoding="utf-8")


def test_takes_mode_serves_only_the_takes_folder(tmp_path: Path, library: tuple[Path, list[Path]]) -> None:
    write_session(tmp_path / "takes", library[1][0])
    with Explorer(ExploreConfig(tmp_path / "takes", Mode.TAKES)) as ex:
        records = json.loads(get(ex, "/api/takes")[1])["records"]
        assert [r["bar"] for r in records] == [1, 2, 2], "a log line naming a file outside the folder is not a take"
        assert get(ex, "/take/1") == (200, (tmp_path / "takes" / "take1.wav").read_bytes())
        assert get(ex, "/take/0")[0] == 404, "a loop that was not kept has no audio"
        assert get(ex, "/take/3")[0] == 404, "the line naming ../../etc/passwd was dropped when the log was read"
        assert get(ex, "/audio/1")[0] == 404


# -- the page in a real browser -------------------------------------------------------------------------


@pytest.fixture
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed (apt-get install chromium; scripts/setup.sh --test does)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed: pip install playwright")
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--autoplay-policy=no-user-gesture-required", "--use-gl=angle", "--use-angle=swiftshader"],
        )
        try:
            yield chromium
        finally:
            chromium.close()


def open_page(browser: object, url: str, tmp_path: Path) -> tuple[object, list[str]]:
    page = browser.new_page(viewport={"width": 1280, "height": 900}, accept_downloads=True)  # type: ignore[attr-defined]
    requests: list[str] = []
    errors: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    page.wait_for_selector('body[data-ready="1"]', timeout=60_000)
    assert not errors, errors
    return page, requests


def table_column(page: object, index: int) -> list[str]:
    return page.eval_on_selector_all(  # type: ignore[attr-defined]
        "#table-body tr", f"rows => rows.map(r => r.children[{index}].textContent)"
    )


def click_point(page: object, name: str) -> None:
    """Click the map's point of the loop called ``name``, at its pixel position as Plotly drew it."""
    x, y = page.evaluate(  # type: ignore[attr-defined]
        """name => {
            const gd = document.getElementById('map'), t = gd.data[0];
            const k = t.text.findIndex(s => s.endsWith('/' + name));
            const L = gd._fullLayout, box = gd.getBoundingClientRect();
            return [box.left + L._size.l + L.xaxis.l2p(t.x[k]), box.top + L._size.t + L.yaxis.l2p(t.y[k])];
        }""",
        name,
    )
    page.mouse.move(x, y)  # type: ignore[attr-defined]
    page.mouse.click(x, y)  # type: ignore[attr-defined]


def wait_until_played(page: object) -> dict:
    page.wait_for_function(  # type: ignore[attr-defined]
        "() => { const a = document.getElementById('player'); return a.played.length > 0 && a.currentTime > 0; }",
        timeout=30_000,
    )
    return page.evaluate(  # type: ignore[attr-defined]
        "() => { const a = document.getElementById('player'); return {src: a.currentSrc, played: a.played.length}; }"
    )


@pytest.mark.slow
def test_library_page_sorts_filters_plays_and_exports(
    browser: object, explorer: Explorer, library: tuple[Path, list[Path]], tmp_path: Path
) -> None:
    page, requests = open_page(browser, explorer.url, tmp_path)
    ids = ids_by_name(explorer)
    names = [p.name for p in library[1]]
    # sorted by overall variation, highest first, on load
    assert table_column(page, 1)[0] == names[-1]
    page.click("th[data-key=name]")
    assert table_column(page, 1) == sorted(names)
    page.click("th[data-key=name]")
    assert table_column(page, 1) == sorted(names, reverse=True)
    # filter by folder, then by the stored flag
    page.select_option("#folder", "odd")
    assert set(table_column(page, 0)) == {"odd"} and len(table_column(page, 0)) == 3
    page.select_option("#folder", "")
    page.select_option("#flag-filter", "flagged")
    assert sorted(table_column(page, 1)) == sorted(names[6:])
    page.select_option("#flag-filter", "")
    # the threshold slider says what it would flag
    page.fill("#threshold", "0.45")
    page.dispatch_event("#threshold", "input")
    page.wait_for_function(
        "() => document.getElementById('would-flag').textContent.startsWith('4 of 9 would be flagged')"
    )
    assert page.evaluate("() => document.getElementById('map').data[0].selectedpoints.length") == 4
    assert page.locator("#table-body tr.would-flag").count() == 4
    # colour by an aspect: the table follows it
    page.select_option("#metric", "rhythm")
    assert table_column(page, 1)[0] == names[0], "rhythm variation is highest for the first file"
    # a click on a point plays that loop
    target = library[1][3]
    click_point(page, target.name)
    played = wait_until_played(page)
    assert played["src"].endswith(f"/audio/{ids[target.name]}")
    assert any(r.endswith(f"/audio/{ids[target.name]}") for r in requests)
    assert page.inner_text("#now-playing").endswith(target.name)
    # export the 2 first rows as an M3U playlist
    page.fill("#limit", "2")
    with page.expect_download() as download_info:
        page.click("#export-m3u")
    saved = tmp_path / "selection.m3u"
    download_info.value.save_as(saved)
    wanted = [str(library[1][k]) for k in (0, 1)]  # rhythm: highest first
    assert [line for line in saved.read_text().splitlines() if not line.startswith("#")] == wanted
    page.fill("#copy-folder", str(tmp_path / "copied"))
    page.click("#export-copy")
    page.wait_for_function("() => document.getElementById('export-status').textContent.startsWith('copied')")
    assert sorted(p.name for p in (tmp_path / "copied").iterdir()) == sorted(Path(w).name for w in wanted)
    shot = Path(os.environ.get("RTLOOP_SCREENSHOT", tmp_path / "explore.png"))
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000


@pytest.mark.slow
def test_map_draws_at_the_screens_resolution_pans_with_a_drag_and_zooms_with_the_wheel(
    browser: object, explorer: Explorer, tmp_path: Path
) -> None:
    page, _ = open_page(browser, explorer.url, tmp_path)
    view = "() => { const L = document.getElementById('map').layout; return [L.xaxis.range, L.yaxis.range]; }"
    # Plotly's default would draw WebGL at twice the screen's resolution (devicePixelRatio is 1 here)
    canvas = page.evaluate(
        "() => { const c = document.querySelector('#map canvas.gl-canvas-context'); "
        "return [c.width, c.getBoundingClientRect().width]; }"
    )
    assert canvas[0] == round(canvas[1])
    box = page.locator("#map .nsewdrag").first.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    (x0, x1), (y0, y1) = page.evaluate(view)
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x - 100, y, steps=5)
    page.mouse.up()
    page.wait_for_function(f"() => document.getElementById('map').layout.xaxis.range[0] > {x0}")
    (px0, px1), _ = page.evaluate(view)
    assert px1 - px0 == pytest.approx(x1 - x0), "a drag moves the view without zooming"
    page.mouse.wheel(0, -300)  # zooms in by about a tenth
    narrower = 0.95 * (x1 - x0)
    page.wait_for_function(
        f"() => {{ const r = document.getElementById('map').layout.xaxis.range; return r[1] - r[0] < {narrower}; }}"
    )


@pytest.mark.slow
def test_takes_page_plays_a_take_from_the_timeline(
    browser: object, tmp_path: Path, library: tuple[Path, list[Path]]
) -> None:
    write_session(tmp_path / "takes", library[1][0])
    with Explorer(ExploreConfig(tmp_path / "takes", Mode.TAKES)) as ex:
        page, requests = open_page(browser, ex.url, tmp_path)
        assert "2 loops, 1 over threshold, 1 marked, 1 kept as takes" in page.inner_text("#summary")
        x, y = page.evaluate(
            """() => {
                const gd = document.getElementById('timeline'), t = gd.data[1], L = gd._fullLayout;
                const box = gd.getBoundingClientRect();
                return [box.left + L._size.l + L.xaxis.d2p(t.x[0]), box.top + L._size.t + L.yaxis.d2p(t.y[0])];
            }"""
        )
        page.mouse.move(x, y)
        page.mouse.click(x, y)
        played = wait_until_played(page)
        assert played["src"].endswith("/take/1")


def test_missing_extra_is_one_clear_message(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys) -> None:
    import sys

    from rtloop.cli import main

    monkeypatch.setitem(sys.modules, "uvicorn", None)
    database, _ = make_library(tmp_path)
    assert main(["explore", str(database), "--no-browser"]) == 2
    assert "pip install 'rtloop[explore]'" in capsys.readouterr().err
