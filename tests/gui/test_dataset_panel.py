"""The dataset panel: choosing, importing and loading data off the GUI thread."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent, QStandardItemModel
from PySide6.QtWidgets import QComboBox, QPushButton
from pytestqt.qtbot import QtBot

from dnnstudio.core.data.spec import DatasetSpec
from dnnstudio.gui.panels.dataset import DatasetPanel, read_header

LOAD_MS = 15_000


@pytest.fixture
def errors() -> list[str]:
    return []


@pytest.fixture
def panel(qtbot: QtBot, errors: list[str], monkeypatch: pytest.MonkeyPatch) -> DatasetPanel:
    widget = DatasetPanel()
    qtbot.addWidget(widget)
    # The real method opens a modal QMessageBox; record the message instead.
    monkeypatch.setattr(widget, "_show_error", errors.append)
    return widget


def _button(panel: DatasetPanel, name: str) -> QPushButton:
    button = panel.findChild(QPushButton, name)
    assert button is not None
    return button


def _combo(panel: DatasetPanel, name: str) -> QComboBox:
    combo = panel.findChild(QComboBox, name)
    assert combo is not None
    return combo


def _points(panel: DatasetPanel) -> int:
    return sum(len(item.getData()[0]) for item in panel.plot.listDataItems())


def _write_csv(path: Path, rows: list[str], header: str = "x1,x2,label") -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def _good_rows(n: int = 30) -> list[str]:
    return [f"{i * 0.1:.1f},{(n - i) * 0.2:.1f},{'a' if i % 2 else 'b'}" for i in range(n)]


def _load(qtbot: QtBot, panel: DatasetPanel, spec: DatasetSpec) -> DatasetSpec:
    with qtbot.waitSignal(panel.datasetChanged, timeout=LOAD_MS) as blocker:
        panel.set_spec(spec)
    loaded = blocker.args[0]
    assert isinstance(loaded, DatasetSpec)
    return loaded


def test_nothing_is_loaded_at_first(panel: DatasetPanel) -> None:
    assert panel.spec() is None
    assert panel.splits() is None
    assert not panel.is_loading()


def test_choosing_iris_and_applying_loads_it(
    qtbot: QtBot, panel: DatasetPanel, errors: list[str]
) -> None:
    combo = _combo(panel, "datasetCombo")
    combo.setCurrentIndex(combo.findData("iris"))
    apply = _button(panel, "applyButton")
    with qtbot.waitSignal(panel.datasetChanged, timeout=LOAD_MS) as blocker:
        qtbot.mouseClick(apply, Qt.MouseButton.LeftButton)
        assert panel.is_loading()  # the load runs in a worker, not in the click
        assert not apply.isEnabled()
    spec = blocker.args[0]
    assert spec == DatasetSpec(source="builtin", name="iris")
    assert panel.spec() == spec
    splits = panel.splits()
    assert splits is not None
    assert splits.sizes == (90, 30, 30)
    summary = panel.summary()
    assert summary["examples"] == "150"
    assert summary["features"] == "4"
    assert summary["classes"] == "3: setosa, versicolor, virginica"
    assert summary["split"] == "90 train · 30 validation · 30 test"
    assert "3-class classification" in summary["task"]
    assert not panel.is_loading()
    assert apply.isEnabled()
    assert errors == []
    assert _points(panel) == 0  # four features: no scatter
    assert panel.plot_widget.isHidden()


def test_set_spec_round_trips_a_generated_dataset(qtbot: QtBot, panel: DatasetPanel) -> None:
    spec = DatasetSpec(name="moons", n_samples=200, noise=0.3, seed=3, split=(0.7, 0.15, 0.15))
    assert _load(qtbot, panel, spec) == spec
    splits = panel.splits()
    assert splits is not None
    assert splits.sizes == (140, 30, 30)
    assert panel.summary()["examples"] == "200"


def test_a_two_feature_dataset_is_drawn_by_class(qtbot: QtBot, panel: DatasetPanel) -> None:
    _load(qtbot, panel, DatasetSpec(name="planar"))
    splits = panel.splits()
    assert splits is not None
    items = panel.plot.listDataItems()
    assert len(items) == 2  # one scatter per class
    assert _points(panel) == splits.sizes[0] == 240  # the training points
    assert not panel.plot_widget.isHidden()

    _load(qtbot, panel, DatasetSpec(name="iris"))
    assert _points(panel) == 0


def test_importing_a_good_csv_loads_it(
    qtbot: QtBot, panel: DatasetPanel, errors: list[str], tmp_path: Path
) -> None:
    path = _write_csv(tmp_path / "points.csv", _good_rows())
    with qtbot.waitSignal(panel.datasetChanged, timeout=LOAD_MS) as blocker:
        panel.import_csv(path)
    spec = blocker.args[0]
    assert spec.source == "csv"
    assert spec.path == str(path)
    assert spec.target == "label"
    assert spec.task is None
    summary = panel.summary()
    assert summary["examples"] == "30"
    assert summary["classes"] == "2: a, b"
    assert summary["split"] == "18 train · 6 validation · 6 test"
    assert _points(panel) == 18
    assert errors == []
    target = _combo(panel, "targetCombo")
    assert [target.itemText(i) for i in range(target.count())] == ["x1", "x2", "label"]


def test_a_numeric_target_offers_regression_and_a_text_one_does_not(
    qtbot: QtBot, panel: DatasetPanel, tmp_path: Path
) -> None:
    rows = [f"{i},{i % 7},{i * 1.37:.2f}" for i in range(40)]
    path = _write_csv(tmp_path / "prices.csv", rows, header="size,rooms,price")
    with qtbot.waitSignal(panel.datasetChanged, timeout=LOAD_MS):
        panel.import_csv(path)
    task = _combo(panel, "taskCombo")
    model = task.model()
    assert isinstance(model, QStandardItemModel)
    regression = task.findData("regression")
    assert task.itemText(0) == "Auto (regression)"
    assert model.item(regression).isEnabled()
    assert panel.summary()["task"].startswith("regression")

    with qtbot.waitSignal(panel.datasetChanged, timeout=LOAD_MS):
        panel.import_csv(_write_csv(tmp_path / "labels.csv", _good_rows()))
    assert task.itemText(0) == "Auto (classification)"
    assert not model.item(regression).isEnabled()


def test_a_chosen_target_and_task_are_used(
    qtbot: QtBot, panel: DatasetPanel, tmp_path: Path
) -> None:
    rows = [f"{i},{i % 3},{i * 0.5}" for i in range(30)]
    path = _write_csv(tmp_path / "three.csv", rows, header="a,b,c")
    spec = DatasetSpec(source="csv", path=str(path), target="b", task="multiclass")
    assert _load(qtbot, panel, spec) == spec
    assert panel.summary()["classes"] == "3: 0, 1, 2"
    assert _combo(panel, "targetCombo").currentText() == "b"


def test_a_malformed_csv_names_the_line_and_keeps_the_previous_dataset(
    qtbot: QtBot, panel: DatasetPanel, errors: list[str], tmp_path: Path
) -> None:
    iris = _load(qtbot, panel, DatasetSpec(name="iris"))
    rows = _good_rows()
    rows[3] = "abc,1.0,a"  # line 5: the header is line 1
    path = _write_csv(tmp_path / "broken.csv", rows)
    with qtbot.waitSignal(panel.loadFailed, timeout=LOAD_MS) as blocker:
        panel.import_csv(path)
    message = blocker.args[0]
    assert errors == [message]
    assert "line 5" in message
    assert "'x1'" in message
    assert "broken.csv" in message
    assert panel.spec() == iris
    splits = panel.splits()
    assert splits is not None
    assert splits.dataset.name == "iris"
    assert panel.summary()["examples"] == "150"
    assert not panel.is_loading()


def test_a_missing_file_is_reported_without_loading(
    qtbot: QtBot, panel: DatasetPanel, errors: list[str], tmp_path: Path
) -> None:
    with qtbot.waitSignal(panel.loadFailed, timeout=LOAD_MS):
        panel.import_csv(tmp_path / "nowhere.csv")
    assert len(errors) == 1
    assert "nowhere.csv" in errors[0]
    assert not panel.is_loading()
    assert panel.spec() is None


def test_a_split_that_does_not_add_up_is_refused_by_the_engine(
    qtbot: QtBot, panel: DatasetPanel, errors: list[str]
) -> None:
    spec = DatasetSpec(name="planar", split=(0.6, 0.3, 0.3))
    with qtbot.waitSignal(panel.loadFailed, timeout=LOAD_MS) as blocker:
        panel.set_spec(spec)
    assert "add up to 1" in blocker.args[0]
    assert errors == [blocker.args[0]]
    assert panel.spec() is None


def test_a_dropped_csv_file_is_imported(
    qtbot: QtBot, panel: DatasetPanel, tmp_path: Path
) -> None:
    path = _write_csv(tmp_path / "dropped.csv", _good_rows())
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(
        QPointF(5, 5),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    with qtbot.waitSignal(panel.datasetChanged, timeout=LOAD_MS) as blocker:
        panel.dropEvent(event)
    assert blocker.args[0].path == str(path)


def test_closing_while_loading_leaves_no_worker_running(
    qtbot: QtBot, panel: DatasetPanel
) -> None:
    panel.set_spec(DatasetSpec(name="digits"))
    assert panel.is_loading()
    panel.close()  # waits for the worker
    assert panel._pool.activeThreadCount() == 0


def test_read_header_reads_names_and_a_sample(tmp_path: Path) -> None:
    path = tmp_path / "semi.csv"
    path.write_text("\ufeffa;b;target\n1;2;x\n3;4;y\n", encoding="utf-8")
    names, rows = read_header(path)
    assert names == ["a", "b", "target"]
    assert rows == [["1", "2", "x"], ["3", "4", "y"]]
