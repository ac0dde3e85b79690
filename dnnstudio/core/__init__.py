"""The engine: hyperparameters, NumPy network kernels, the trainer and data. No Qt here."""
