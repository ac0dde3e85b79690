"""Take the README's search screenshot from the real app, after the workflows it shows.

Run the learning-rate lab, then the comparison of grid, random and Bayesian search, each to
the end, saving the window and every tab of the search views along the way to a folder
(``/tmp`` by default), and the window after the lab as the README's screenshot::

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python packaging/make_search_screenshot.py

Settings and untitled sessions go to a temporary folder, never the user's.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(out: Path = Path("/tmp")) -> int:
    from PySide6.QtCore import QEventLoop, QSettings, Qt, QTimer
    from PySide6.QtWidgets import QApplication

    from dnnstudio.gui.controller import SessionController
    from dnnstudio.gui.main_window import MainWindow
    from dnnstudio.gui.search.views import CURVES_TAB

    _app = QApplication(sys.argv)  # noqa: F841 - kept alive for the whole run
    tmp = Path(tempfile.mkdtemp(prefix="dnnstudio-search-shot-"))
    settings = QSettings(str(tmp / "settings.ini"), QSettings.Format.IniFormat)

    def wait(condition: Callable[[], bool], timeout_s: float = 300.0) -> None:
        loop = QEventLoop()
        timer = QTimer()
        timer.timeout.connect(lambda: loop.quit() if condition() else None)
        timer.start(50)
        QTimer.singleShot(int(timeout_s * 1000), loop.quit)
        loop.exec()
        timer.stop()
        if not condition():
            raise TimeoutError("the app did not get there in time")

    def settle(ms: int = 1000) -> None:
        loop = QEventLoop()
        QTimer.singleShot(ms, loop.quit)
        loop.exec()

    controller = SessionController(workers=2, session_dir=tmp / "sessions")
    window = MainWindow(controller, settings)
    controller.new_session()
    controller.start()
    window.resize(1500, 940)
    window.show()
    wait(lambda: window.dataset_panel.splits() is not None)
    settle(500)
    panel = window.search_panel
    manager = window.search_manager
    # The search views need height: the bottom docks get half the window.
    window.resizeDocks([window.docks["Search"]], [470], Qt.Orientation.Vertical)

    def finished(names: list[str]) -> bool:
        return all(manager.runner(n).state.value == "finished" for n in names)

    def grab_tabs(prefix: str) -> None:
        for index in range(panel.views.tabs.count()):
            panel.views.tabs.setCurrentIndex(index)
            settle(600)
            panel.views.grab().save(str(out / f"{prefix}_tab{index}.png"))

    lab = panel.start_lab()
    assert lab is not None
    wait(lambda: finished([lab]))
    best = manager.runner(lab).best()
    assert best is not None
    window.results.select(best.experiment_id)
    panel.views.tabs.setCurrentIndex(CURVES_TAB)
    settle(1500)
    shot = window.grab()
    shot.save(str(out / "search_lab_window.png"))
    target = HERE / "screenshots" / "search.png"
    target.parent.mkdir(exist_ok=True)
    shot.save(str(target))
    grab_tabs("search_lab")

    names = panel.compare_strategies()
    wait(lambda: finished(names))
    panel.views.set_current(names[-1])
    panel.views.tabs.setCurrentIndex(2)
    settle(1500)
    window.grab().save(str(out / "search_compare_window.png"))
    window.grab().save(str(HERE / "screenshots" / "search-compare.png"))
    grab_tabs("search_compare")

    dialog = panel.new_search()
    settle(500)
    dialog.grab().save(str(out / "search_dialog.png"))
    dialog.reject()
    print(f"saved {target}, search-compare.png beside it, and {out}/search_*.png "
          f"(session in {tmp})")
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
