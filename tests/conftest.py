"""Test configuration shared by the pure and the GUI tests.

GUI tests live under ``tests/gui`` and are marked ``gui`` automatically; Qt runs offscreen so
the suite needs no display.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Before anything imports Qt: render offscreen, so no display or X server is needed.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

GUI_DIR = Path(__file__).parent / "gui"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if GUI_DIR in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.gui)


@pytest.fixture(autouse=True)
def _no_dangling_processes() -> object:
    """Fail any test that leaves a child process (a training worker) running."""
    import multiprocessing

    yield
    alive = multiprocessing.active_children()  # also reaps the ones that have ended
    if alive:
        for child in alive:
            child.kill()
            child.join(5)
        pytest.fail(f"the test left {len(alive)} worker process(es) running: {alive}")
