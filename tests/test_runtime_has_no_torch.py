"""Package layering: the live runtime (``rtloop``) never imports torch or the offline stage
(``export``); only the command line, the one top layer, reaches into ``export``, lazily."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

RUNTIME = Path(__file__).parents[1] / "rtloop"
TOP_LAYER = {"cli.py"}


def test_importing_every_runtime_module_does_not_import_torch() -> None:
    code = (
        "import pkgutil, importlib, sys, rtloop\n"
        "for m in pkgutil.walk_packages(rtloop.__path__, 'rtloop.'): importlib.import_module(m.name)\n"
        "print(sorted(k for k in sys.modules if k.split('.')[0] in ('torch', 'export', 'sklearn')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def _imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_no_runtime_module_but_the_command_line_reaches_into_export_or_torch() -> None:
    offenders = {
        str(path.relative_to(RUNTIME)): sorted(_imported_packages(path) & {"export", "torch", "sklearn"})
        for path in RUNTIME.rglob("*.py")
        if path.name not in TOP_LAYER
    }
    assert {name: found for name, found in offenders.items() if found} == {}


def test_the_live_daemons_process_does_not_load_onnxruntime() -> None:
    """onnxruntime runs in the scoring child only: in the daemon's process it would cost ~20 MB for nothing."""
    code = "import sys, rtloop.cli, rtloop.live, rtloop.daemon\nprint('onnxruntime' in sys.modules)\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
