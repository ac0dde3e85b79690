"""Details of one experiment: how it ended, its hyperparameters, and the user's note."""

from __future__ import annotations

import html
import math
from typing import Any

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QLabel, QPlainTextEdit, QVBoxLayout, QWidget

from ...core.advisor import diagnose
from ...runs.records import ExperimentRecord, ExperimentState
from ..models.results import hp_text, time_text


def _figure(value: float) -> str:
    return f"{value:.4f}" if math.isfinite(value) else "–"


def describe(record: ExperimentRecord) -> str:
    """Rich text describing ``record`` for the details view."""
    metric = "R²" if record.metric == "r2" else "accuracy"
    lines = [f"<b>Experiment #{record.id}</b> — {record.state.value}"]
    if record.message:
        lines.append(html.escape(record.message))
    if record.state.is_finished() and math.isfinite(record.val_metric):
        lines.append(
            f"{metric}: train {_figure(record.train_metric)}, validation "
            f"{_figure(record.val_metric)} (gap {_figure(record.gap)}); cost: train "
            f"{_figure(record.train_cost)}, validation {_figure(record.val_cost)}; "
            f"{record.epochs_run} epochs in {record.train_time_s:.2f} s; "
            f"{record.parameter_count:,} parameters"
        )
    if record.tested:
        lines.append(
            f"<b>Test set</b> (its one final evaluation, {time_text(record.tested_at)}): {metric} "
            f"{_figure(record.test_metric)}, cost {_figure(record.test_cost)}"
        )
    if record.state is not ExperimentState.QUEUED:
        # A long run's comes from its worker; reading its whole curve here would take ms.
        found = record.diagnosis if record.diagnosis is not None else diagnose(record)
        lines.append(f"<b>Diagnosis:</b> {html.escape(found.label)} — {html.escape(found.text)}")
    hp = record.hyperparameters.to_dict()
    chosen = ", ".join(f"{name} = {html.escape(hp_text(name, value))}"
                       for name, value in hp.items())
    lines.append(f"<span style='color:#555'>Hyperparameters (chosen): {chosen}</span>")
    return "<br>".join(lines)


class DetailsPanel(QWidget):
    """The selected experiment, and its note ("document everything").

    Signals
    -------
    noteEdited(int, str)
        Emitted half a second after the user stops typing, and when the selection moves on.
    """

    noteEdited = Signal(int, str)

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.summary = QLabel("Select an experiment to see its details.", self)
        self.summary.setWordWrap(True)
        self.note = QPlainTextEdit(self)
        self.note.setPlaceholderText("Note: what you tried, why, and what you saw.")
        self.note.setEnabled(False)
        self.note.textChanged.connect(self._on_text_changed)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(500)
        self._debounce.timeout.connect(self._emit_note)
        self._record: ExperimentRecord | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.summary)
        layout.addWidget(self.note, 1)

    @property
    def experiment_id(self) -> int | None:
        return None if self._record is None else self._record.id

    def show_record(self, record: ExperimentRecord | None) -> None:
        """Show ``record`` (None: nothing selected). A pending note edit is sent first."""
        if self._debounce.isActive():
            self._debounce.stop()
            self._emit_note()
        same = (self._record is not None and record is not None
                and self._record.id == record.id)
        self._record = record
        if record is None:
            self.summary.setText("Select an experiment to see its details.")
            self.note.setEnabled(False)
            self.note.blockSignals(True)
            self.note.setPlainText("")
            self.note.blockSignals(False)
            return
        self.summary.setText(describe(record))
        self.note.setEnabled(True)
        if not same or (not self.note.hasFocus() and self.note.toPlainText() != record.note):
            self.note.blockSignals(True)
            self.note.setPlainText(record.note)
            self.note.blockSignals(False)

    def _on_text_changed(self) -> None:
        self._debounce.start()

    def _emit_note(self) -> None:
        if self._record is not None and self.note.toPlainText() != self._record.note:
            self.noteEdited.emit(self._record.id, self.note.toPlainText())
