"""What the advisor costs per diagnosis, on histories of 1,000 to 100,000 epochs.

The results table diagnoses a running experiment each time its row is refreshed (at most
four times a second), so one diagnosis must stay far below a frame.

    .venv/bin/python benchmarks/bench_advisor.py
"""

from __future__ import annotations

import timeit

import numpy as np

from dnnstudio.core.advisor import diagnose_curves


def main() -> int:
    print(f"{'epochs':>8}{'ms per diagnosis':>18}")
    for n in (1_000, 10_000, 100_000):
        epochs = np.arange(1, n + 1)
        train = 0.1 + 0.6 * np.exp(-epochs / (n / 5))
        val = train + 0.05
        val[1::2] = np.nan
        def once(train: np.ndarray = train, val: np.ndarray = val) -> None:
            diagnose_curves(train, val, train_metric=0.9, val_metric=0.88, alpha=0.1)

        repeats = timeit.repeat(once, number=20, repeat=5)
        print(f"{n:8d}{1000 * min(repeats) / 20:18.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
