"""The core, the CLI and everything but ``dnnstudio.gui`` work with Qt absent."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import dnnstudio

PACKAGE = Path(dnnstudio.__file__).parent

BLOCKER = textwrap.dedent(
    """
    import importlib.abc, sys

    class NoQt(importlib.abc.MetaPathFinder):
        blocked = ("PySide6", "shiboken6", "pyqtgraph", "PyQt5", "PyQt6", "PySide2")

        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in self.blocked:
                raise ImportError(f"{name} is blocked: this code must not need Qt")
            return None

    sys.meta_path.insert(0, NoQt())
    """
)


def _modules_outside_gui() -> list[str]:
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = list(rel.parts)
        if "gui" in parts or parts[-1] == "__main__":
            continue
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names.append(".".join(parts))
    return names


def test_every_module_outside_gui_imports_without_qt() -> None:
    modules = _modules_outside_gui()
    assert "dnnstudio.core.training" in modules
    assert "dnnstudio.cli" in modules
    code = BLOCKER + textwrap.dedent(
        f"""
        import importlib
        for name in {modules!r}:
            importlib.import_module(name)
        leaked = sorted(m for m in sys.modules if m.split(".")[0] in NoQt.blocked)
        assert not leaked, leaked
        from dnnstudio.cli import main
        assert main(["train", "--epochs", "3", "--json"]) == 0
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert '"status": "completed"' in done.stdout


def test_the_blocker_really_blocks() -> None:
    code = BLOCKER + "import PySide6.QtCore\n"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode != 0
    assert "blocked" in done.stderr
