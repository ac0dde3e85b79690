"""DNN Studio: a desktop studio for the empirical loop of deep learning.

Hyperparameters are chosen; parameters ``W[l]`` and ``b[l]`` are learned. The core
(``dnnstudio.core``) is plain Python and NumPy and imports no Qt; only ``dnnstudio.gui`` does.
"""

from __future__ import annotations

__version__ = "0.1.0"
