"""The live runtime (``rtloop``) never imports torch."""

from __future__ import annotations

import subprocess
import sys


def test_importing_every_runtime_module_does_not_import_torch() -> None:
    code = (
        "import pkgutil, importlib, sys, rtloop\n"
        "for m in pkgutil.iter_modules(rtloop.__path__): importlib.import_module('rtloop.' + m.name)\n"
        "print(sorted(k for k in sys.modules if k.split('.')[0] in ('torch', 'export', 'sklearn')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
