"""Take the README's screenshot from the real app, after the workflow it illustrates.

Pick the planar dataset, queue alpha = 0.01, 0.03 and 0.3 (4 tanh units, plain gradient
descent), let them train, save the session, quit, reopen it in a new window, export the CSV,
and grab the reopened window::

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python packaging/make_screenshot.py

Settings and untitled sessions go to a temporary folder, never the user's.
"""

from __future__ import annotations

import csv
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    from PySide6.QtCore import QEventLoop, QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    from dnnstudio.core.hyperparams import Hyperparameters
    from dnnstudio.gui.controller import SessionController
    from dnnstudio.gui.main_window import MainWindow

    _app = QApplication(sys.argv)  # noqa: F841 - kept alive for the whole run
    tmp = Path(tempfile.mkdtemp(prefix="dnnstudio-shot-"))
    settings = QSettings(str(tmp / "settings.ini"), QSettings.Format.IniFormat)

    def wait(condition: object, timeout_s: float = 120.0) -> None:
        loop = QEventLoop()
        timer = QTimer()
        timer.timeout.connect(lambda: loop.quit() if condition() else None)  # type: ignore[operator]
        timer.start(50)
        QTimer.singleShot(int(timeout_s * 1000), loop.quit)
        loop.exec()
        timer.stop()
        if not condition():  # type: ignore[operator]
            raise TimeoutError("the app did not get there in time")

    def window() -> MainWindow:
        controller = SessionController(workers=2, session_dir=tmp / "sessions")
        win = MainWindow(controller, settings)
        controller.new_session()
        controller.start()
        win.resize(1500, 940)
        win.show()
        return win

    first = window()
    wait(lambda: first.dataset_panel.splits() is not None)
    for alpha in (0.01, 0.03, 0.3):
        first.editor.set_hyperparameters(
            Hyperparameters(alpha=alpha, epochs=5000, hidden=(4,), activation="tanh"))
        first.add_to_queue()
    wait(lambda: all(r.state.is_finished() for r in first.controller.records))
    first.controller.set_note(3, "alpha = 0.3: fast and stable; 0.01 and 0.03 learn slowly")
    session = tmp / "learning-rate.dnnsession"
    assert first.save_as(str(session))
    first.close()

    second = window()
    assert second.open_session(str(session))
    wait(lambda: second.dataset_panel.splits() is not None)
    records = second.controller.records
    assert [r.hyperparameters.alpha for r in records] == [0.01, 0.03, 0.3]
    assert all(r.epochs_run == 5000 for r in records)
    out = tmp / "results.csv"
    assert second.export_csv(str(out))
    with out.open(newline="", encoding="utf-8") as f:
        assert len(list(csv.DictReader(f))) == 3
    second.results.select(3)
    second.docks["Data"].raise_()
    loop = QEventLoop()
    QTimer.singleShot(1200, loop.quit)  # let the boundary and the curves draw
    loop.exec()
    wait(second.results.columns_fitted)
    target = HERE / "screenshots" / "main-window.png"
    target.parent.mkdir(exist_ok=True)
    second.grab().save(str(target))
    print(f"saved {target} (session and CSV in {tmp})")
    second.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
