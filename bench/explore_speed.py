"""Explorer responsiveness with a large library: page load and re-draw times in headless Chromium.

    python bench/explore_speed.py [--loops 10000]

Builds a library database of ``--loops`` entries (one real WAV file shared by every entry, made-up
scores and 512-d embeddings: the page is measured, not the scorer), serves it, opens it in Debian's
Chromium through Playwright and times: the page until ready, then the median of 5 of each: a change of
the threshold slider (the map's flagged points and the table's rows), a change of the colouring aspect
(map and table re-drawn), and a sort by name (the table); then Chromium's own mouse over the header
(nothing to draw), across the map in a drag and on it with the wheel: each step's frame time (median,
p90, frames/s), then again with the map's WebGL drawn at Plotly's default resolution (twice the
screen's) instead of the page's (the screen's). Chromium here draws WebGL in software (SwiftShader),
which bounds those.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
from playwright.sync_api import Page, sync_playwright

from rtloop.library.db import LibraryDB, LoopResult
from rtloop.library.explore import ExploreConfig, Explorer
from rtloop.library.projection import update_map
from rtloop.synth import write_loop_set


def gesture(page: Page, steps: int = 30) -> dict[str, list[float]]:
    """Chromium's own mouse, through Plotly's own handlers: moves over the page's header (nothing to
    draw: the input pipeline's floor), a drag across the map (``steps`` moves), then wheel notches (two
    thirds in, then out). Chromium hands a page at most one mouse event per frame and answers each once
    handled, so the time of each, back to back, is the time of a frame. Returns the milliseconds of each."""
    box = page.locator("#map .nsewdrag").first.bounding_box()
    assert box is not None, "the map has no drag layer"
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    view = "() => document.getElementById('map').layout.xaxis.range"
    before = page.evaluate(view)

    def timed(action: Callable[[], None]) -> float:
        start = time.perf_counter()
        action()
        return 1000 * (time.perf_counter() - start)

    page.mouse.move(300, 20)
    floor = [timed(partial(page.mouse.move, 300 + 6 * k, 20 + k % 2)) for k in range(1, steps + 1)]
    page.mouse.move(x, y)
    page.mouse.down()
    drag = [timed(partial(page.mouse.move, x + 6 * k, y + 4 * k)) for k in range(1, steps + 1)]
    page.mouse.up()
    page.wait_for_timeout(200)
    dragged = page.evaluate(view)
    wheel = [timed(partial(page.mouse.wheel, 0, -120 if k < 2 * steps // 3 else 120)) for k in range(steps)]
    page.wait_for_timeout(500)  # Plotly settles the wheel's zoom into the layout after a pause
    assert before != dragged != page.evaluate(view), "the drag or the wheel did not move the map"
    return {"nothing to draw (the floor)": floor, "drag (pan)": drag, "wheel (zoom)": wheel}


def build(root: Path, loops: int) -> Path:
    source = write_loop_set(root / "lib", 1, seed=0)[0].resolve()
    rng = np.random.default_rng(0)
    database = root / "library.db"
    with LibraryDB(database) as db, db.conn:
        root_id = db.root_id((root / "lib").resolve())
        db.set_meta("aspects", json.dumps(["rhythm", "harmony", "timbre"]))
        for k in range(loops):
            path = (root / "lib" / f"folder{k % 20}" / f"loop{k:05d}.wav").resolve()
            db.conn.execute(
                "INSERT INTO files (path, root_id, folder, name, size, mtime_ns, state, seen_at) "
                "VALUES (?, ?, ?, ?, 1, 1, 'missing', 'now')",
                (str(source if k == 0 else path), root_id, f"folder{k % 20}", path.name),
            )
            v = rng.uniform(size=4)
            db.store(
                k + 1,
                LoopResult(
                    str(path),
                    "x",
                    duration=2.0,
                    raw=float(v[0]),
                    variation=float(v[0]),
                    flagged=bool(v[0] > 0.5),
                    aspects=(
                        ("rhythm", float(v[1]), None),
                        ("harmony", float(v[2]), None),
                        ("timbre", float(v[3]), None),
                    ),
                    embedding=rng.normal(size=512).astype(np.float32).tobytes(),
                ),
            )
        update_map(db)
    return database


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loops", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rtloop-explore-bench-") as tmp:
        database = build(Path(tmp), args.loops)
        with Explorer(ExploreConfig(database)) as ex, sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium")
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            start = time.perf_counter()
            page.goto(ex.url)
            page.wait_for_selector('body[data-ready="1"]', timeout=120_000)
            load = time.perf_counter() - start

            def timed(action: str) -> float:
                # the action, then two animation frames: the browser has drawn the result
                return page.evaluate(
                    f"""() => new Promise(done => {{
                        const t0 = performance.now(); {action};
                        requestAnimationFrame(() => requestAnimationFrame(() => done(performance.now() - t0)));
                    }})"""
                )

            def median(actions: list[str]) -> float:
                return float(np.median([timed(actions[k % len(actions)]) for k in range(5)]))

            slider = median(
                [
                    f"const s = document.getElementById('threshold'); s.value = {v}; "
                    "s.dispatchEvent(new Event('input'))"
                    for v in (0.7, 0.6)
                ]
            )
            aspect = median(
                [
                    f"const m = document.getElementById('metric'); m.value = '{a}'; "
                    "m.dispatchEvent(new Event('change'))"
                    for a in ("timbre", "rhythm")
                ]
            )
            sort = median(["document.querySelector('th[data-key=name]').click()"])
            frames = gesture(page)
            # the same gesture with Plotly's own default: WebGL drawn at twice the screen's resolution
            page.evaluate("() => { rt.plotConfig.plotGlPixelRatio = 2; drawMap(); }")
            page.wait_for_timeout(500)
            default = gesture(page)
            browser.close()
    print(f"command: python bench/explore_speed.py --loops {args.loops}")
    print(
        f"{args.loops} loops: page ready in {load:.2f} s; median of 5: threshold change {slider:.0f} ms, "
        f"colour by aspect {aspect:.0f} ms, sort by name {sort:.0f} ms (headless Chromium, software WebGL)"
    )
    for name, times in frames.items():
        middle, slow = np.percentile(times, [50, 90])
        print(
            f"mouse, {name}: {len(times)} steps, a frame each in median {middle:.1f} ms, p90 {slow:.1f} ms "
            f"({1000 / middle:.0f} frames/s); with Plotly's default 2x WebGL resolution "
            f"{np.median(default[name]):.1f} ms ({1000 / np.median(default[name]):.0f} frames/s)"
        )


if __name__ == "__main__":
    main()
