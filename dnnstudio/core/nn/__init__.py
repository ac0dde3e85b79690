"""NumPy kernels: activations, output layers with their costs, optimizers and the network."""

from __future__ import annotations

from .activations import ACTIVATIONS, Activation
from .losses import OUTPUTS, OutputLoss
from .network import Network
from .optimizers import OPTIMIZERS, Optimizer, make_optimizer

__all__ = [
    "ACTIVATIONS",
    "OPTIMIZERS",
    "OUTPUTS",
    "Activation",
    "Network",
    "Optimizer",
    "OutputLoss",
    "make_optimizer",
]
