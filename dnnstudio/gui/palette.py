"""One colour per experiment, the same everywhere (plots, tables, scatter plots).

The palette is Tableau 10 (the 2016 redesign), whose ten hues were chosen to stay apart
under the common colour-vision deficiencies and on light and dark backgrounds alike.
Experiment ``id`` takes colour ``(id - 1) mod 10``, so experiments #1 and #11 share a hue;
the legend's "#id" tells them apart.
"""

from __future__ import annotations

from PySide6.QtGui import QColor

PALETTE: tuple[str, ...] = (
    "#4e79a7",  # blue
    "#f28e2b",  # orange
    "#e15759",  # red
    "#76b7b2",  # teal
    "#59a14f",  # green
    "#edc948",  # yellow
    "#b07aa1",  # purple
    "#ff9da7",  # pink
    "#9c755f",  # brown
    "#bab0ac",  # grey
)
"""The qualitative palette, as ``#rrggbb`` strings, in the order experiments take them."""


def color_for(experiment_id: int) -> QColor:
    """The colour of experiment ``experiment_id`` (ids start at 1).

    Parameters
    ----------
    experiment_id : int

    Returns
    -------
    QColor
        A new, opaque colour; callers may change its alpha freely.
    """
    return QColor(PALETTE[(experiment_id - 1) % len(PALETTE)])


def class_color(class_index: int) -> QColor:
    """The colour of class ``class_index`` (from 0) in data and decision-boundary views.

    Parameters
    ----------
    class_index : int

    Returns
    -------
    QColor
    """
    return QColor(PALETTE[class_index % len(PALETTE)])
