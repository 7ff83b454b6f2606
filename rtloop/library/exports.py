"""Exports of a selection of loops: CSV, an M3U playlist, or copies in a folder the user names."""

from __future__ import annotations

import csv
import io
import shutil
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SelectedLoop:
    """One loop of a selection, with what the exports write about it."""

    id: int
    path: Path
    folder: str
    duration: float
    raw: float
    variation: float
    flagged: bool
    aspects: dict[str, float]


def to_csv(loops: list[SelectedLoop], aspects: list[str]) -> str:
    """CSV text: path, folder, name, duration, raw score, variation, flag, then one column per aspect."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["path", "folder", "name", "duration_s", "score", "variation", "flagged", *aspects])
    for loop in loops:
        writer.writerow(
            [
                str(loop.path),
                loop.folder,
                loop.path.name,
                f"{loop.duration:.3f}",
                f"{loop.raw:.6g}",
                f"{loop.variation:.4f}",
                int(loop.flagged),
                *(f"{loop.aspects[a]:.4f}" if a in loop.aspects else "" for a in aspects),
            ]
        )
    return out.getvalue()


def to_m3u(loops: list[SelectedLoop]) -> str:
    """Extended M3U playlist with absolute paths, in the selection's order."""
    lines = ["#EXTM3U"]
    for loop in loops:
        lines.append(f"#EXTINF:{round(loop.duration)},{loop.path.name} (variation {loop.variation:.2f})")
        lines.append(str(loop.path))
    return "\n".join(lines) + "\n"


def copy_into(sources: list[Path], folder: Path) -> tuple[list[Path], list[str]]:
    """Copy files into ``folder`` (created if needed), never overwriting: a name taken gets a number.

    Returns:
        (the files written, a message per file not copied).
    """
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    skipped: list[str] = []
    for source in sources:
        target = folder / source.name
        n = 1
        while target.exists():
            n += 1
            target = folder / f"{source.stem}-{n}{source.suffix}"
        try:
            shutil.copy2(source, target)
        except OSError as exc:
            skipped.append(f"{source}: {exc.strerror or exc}")
            continue
        written.append(target)
    return written, skipped
