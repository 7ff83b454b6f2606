"""Explorer responsiveness with a large library: page load and re-draw times in headless Chromium.

    python bench/explore_speed.py [--loops 10000]

Builds a library database of ``--loops`` entries (one real WAV file shared by every entry, made-up
scores and 512-d embeddings: the page is measured, not the scorer), serves it, opens it in Debian's
Chromium through Playwright and times: the page until ready, then the median of 5 of each: a change of
the threshold slider (the map's flagged points and the table's rows), a change of the colouring aspect
(map and table re-drawn), and a sort by name (the table); then a pan-and-zoom gesture through 20 map views,
each view's drawing time (its median and p90, and the frame rate that median allows).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from playwright.sync_api import sync_playwright

from rtloop.library.db import LibraryDB, LoopResult
from rtloop.library.explore import ExploreConfig, Explorer
from rtloop.library.projection import update_map
from rtloop.synth import write_loop_set

# Map views a pan-and-zoom gesture passes through: fractions (x0, x1, y0, y1) of the full extent.
VIEWS = [(0.0, 1.0, 0.0, 1.0)] + [
    (0.05 * k, 0.05 * k + 0.5 / (1 + 0.1 * k), 0.03 * k, 0.03 * k + 0.5 / (1 + 0.1 * k)) for k in range(1, 20)
]
# Each view through Plotly.relayout, as a drag or the scroll wheel moves the map, then two animation
# frames: the browser has drawn it. Returns the milliseconds per view.
PAN_AND_ZOOM = """async (views) => {
    const gd = document.getElementById('map');
    const [x0, x1] = gd.layout.xaxis.range, [y0, y1] = gd.layout.yaxis.range;
    const frames = () => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)));
    const times = [];
    for (const [a, b, c, d] of views) {
        const t0 = performance.now();
        await Plotly.relayout(gd, {
            'xaxis.range': [x0 + a * (x1 - x0), x0 + b * (x1 - x0)],
            'yaxis.range': [y0 + c * (y1 - y0), y0 + d * (y1 - y0)],
        });
        await frames();
        times.push(performance.now() - t0);
    }
    return times;
}"""


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
            redraws = page.evaluate(PAN_AND_ZOOM, VIEWS)
            browser.close()
    print(f"command: python bench/explore_speed.py --loops {args.loops}")
    print(
        f"{args.loops} loops: page ready in {load:.2f} s; median of 5: threshold change {slider:.0f} ms, "
        f"colour by aspect {aspect:.0f} ms, sort by name {sort:.0f} ms (headless Chromium, software WebGL)"
    )
    middle, slow = np.percentile(redraws, [50, 90])
    print(
        f"pan and zoom: {len(redraws)} map views, each drawn in median {middle:.0f} ms, p90 {slow:.0f} ms "
        f"({1000 / middle:.0f} frames/s at the median)"
    )


if __name__ == "__main__":
    main()
