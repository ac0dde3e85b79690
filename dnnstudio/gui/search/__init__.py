"""Hyperparameter search in the window: the dialog, the manager of a session's searches, their
views and the Search panel. The searching itself is :mod:`dnnstudio.search` (no Qt)."""

from __future__ import annotations

from dnnstudio.gui.search.data import SearchSnapshot, TrialView
from dnnstudio.gui.search.dialog import SearchDialog
from dnnstudio.gui.search.manager import SearchManager
from dnnstudio.gui.search.panel import SearchPanel
from dnnstudio.gui.search.views import SearchViews

__all__ = [
    "SearchDialog",
    "SearchManager",
    "SearchPanel",
    "SearchSnapshot",
    "SearchViews",
    "TrialView",
]
