"""Trainer speed against the PyTorch CPU reference, measured side by side in one run.

The reference script (``torch_reference.py``, kept outside the project in ``shared/bench``)
writes three workloads to .npz files and times the idiomatic PyTorch equivalent on them. This
script trains the same workloads with DNN Studio's trainer, alternating with PyTorch run for
run, everything at one BLAS thread, and prints samples per second, the ratio to PyTorch, the
cost of per-epoch validation, and for W3 the fraction of NumPy's own float32 matrix-multiply
peak measured in the same run.

    python benchmarks/bench_trainer.py                   # all workloads, 5 rounds
    python benchmarks/bench_trainer.py --only W1 --rounds 3
    python benchmarks/bench_trainer.py --reference ../shared/bench/torch_reference.py
    python benchmarks/bench_trainer.py --only W1 --rounds 15 --no-torch   # our figures only

Without PyTorch installed (``pip install torch==2.13.0`` takes the CPU build on this machine)
only our own figures are printed. Medians over the rounds are reported; the machine is shared
and noisy, so compare ratios, not absolute times.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DEFAULT_REFERENCE = HERE.parent.parent / "shared" / "bench" / "torch_reference.py"
ONE_THREAD = {
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}


@dataclass(frozen=True)
class Case:
    """One benchmark configuration on one workload."""

    name: str
    workload: str
    hidden: tuple[int, ...]
    activation: str
    optimizer: str
    alpha: float
    epochs: int
    batch_size: int  # 0 = full batch


CASES = [
    Case("W1 gd", "W1", (4,), "tanh", "gd", 1.2, 10_000, 0),
    Case("W1 adam", "W1", (4,), "tanh", "adam", 0.01, 10_000, 0),
    Case("W2 adam", "W2", (64, 64), "relu", "adam", 0.001, 50, 64),
    Case("W3 adam", "W3", (256, 128), "relu", "adam", 0.001, 3, 256),
]


def _ours(args: argparse.Namespace) -> None:
    """Child process: train once with our trainer and print one JSON line."""
    import numpy as np

    from dnnstudio.core.data import load_npz
    from dnnstudio.core.hyperparams import Hyperparameters
    from dnnstudio.core.training import train

    data = load_npz(args.data)
    hp = Hyperparameters(
        alpha=args.alpha, epochs=args.epochs, hidden=tuple(args.hidden), activation=args.activation,
        optimizer=args.optimizer, batch_size=args.batch_size or None, dtype="float32", seed=0,
    )
    result = train(hp, data, eval_every=1 if args.eval_every_epoch else None)
    out: dict[str, Any] = {
        "train_time_s": result.train_time_s,
        "samples_per_s": result.epochs_run * data.X_train.shape[0] / result.train_time_s,
        "val_accuracy": result.val_metric,
        "status": result.status.value,
    }
    if args.peak:
        out["gemm_peak_gflops"] = _gemm_peak(np)
        sizes = (hp.batch_size or data.X_train.shape[0], *hp.layer_sizes(data.n_features,
                                                                         data.n_outputs))
        out["gemm_step_gflops"] = _gemm_peak(np, sizes)
    print(json.dumps(out))


def _gemm_peak(np: Any, sizes: tuple[int, ...] = ()) -> float:
    """Best float32 GFLOP/s of NumPy's matmul, one thread.

    With ``sizes`` empty: on large square matrices. With the network's ``sizes`` (first the
    batch): on exactly the products of one W3 training step, the best the step could do.
    """
    rng = np.random.default_rng(0)
    if sizes:
        batch, *units = sizes
        mats = []
        for n_in, n_out in zip(units[:-1], units[1:], strict=True):
            A = rng.standard_normal((batch, n_in), dtype=np.float32)
            W = rng.standard_normal((n_out, n_in), dtype=np.float32)
            dZ = rng.standard_normal((batch, n_out), dtype=np.float32)
            mats += [(A, W.T), (dZ.T, A), (dZ, W)]
        flops = sum(2 * a.shape[0] * a.shape[1] * b.shape[1] for a, b in mats)
        best = 0.0
        for _ in range(20):
            t0 = time.perf_counter()
            for a, b in mats:
                a @ b
            best = max(best, flops / (time.perf_counter() - t0) / 1e9)
        return float(best)
    best = 0.0
    for n in (1024, 2048):
        a = rng.standard_normal((n, n), dtype=np.float32)
        b = rng.standard_normal((n, n), dtype=np.float32)
        a @ b
        for _ in range(3):
            t0 = time.perf_counter()
            a @ b
            best = max(best, 2 * n**3 / (time.perf_counter() - t0) / 1e9)
    return float(best)


def _training_flops(case: Case, n_x: int, n_y: int, m: int) -> float:
    """Multiply-add FLOPs of one run's training products (forward, dW, and dA[l>=1])."""
    sizes = (n_x, *case.hidden, n_y)
    products = [sizes[i] * sizes[i + 1] for i in range(len(sizes) - 1)]
    per_example = 2 * (sum(products) * 2 + sum(products[1:]))
    return float(per_example * m * case.epochs)


def _child(cmd: list[str]) -> dict[str, Any]:
    env = {**os.environ, **ONE_THREAD}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise SystemExit(f"benchmark child failed: {' '.join(cmd)}\n{done.stderr}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _ours_cmd(case: Case, data: Path, *, eval_every_epoch: bool, peak: bool = False) -> list[str]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "_ours", str(data),
           "--hidden", *map(str, case.hidden), "--activation", case.activation,
           "--optimizer", case.optimizer, "--alpha", str(case.alpha),
           "--epochs", str(case.epochs), "--batch-size", str(case.batch_size)]
    if eval_every_epoch:
        cmd.append("--eval-every-epoch")
    if peak:
        cmd.append("--peak")
    return cmd


def _torch_cmd(reference: Path, case: Case, data: Path, *, eval_every_epoch: bool) -> list[str]:
    cmd = [sys.executable, str(reference), "train", str(data),
           "--hidden", ",".join(map(str, case.hidden)), "--activation", case.activation,
           "--optimizer", case.optimizer, "--alpha", str(case.alpha),
           "--epochs", str(case.epochs), "--batch-size", str(case.batch_size), "--threads", "1"]
    if eval_every_epoch:
        cmd.append("--eval-every-epoch")
    return cmd


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reference", type=Path, default=DEFAULT_REFERENCE)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", nargs="*", help="workloads to run, e.g. W1 W3")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    parser.add_argument("--no-torch", action="store_true",
                        help="skip the PyTorch runs (quicker, for our validation overhead)")
    args = parser.parse_args(argv)
    if not args.reference.exists():
        parser.error(f"no reference script at {args.reference}; pass --reference")
    have_torch = not args.no_torch and importlib.util.find_spec("torch") is not None
    if not have_torch and not args.no_torch:
        print("PyTorch is not installed: printing our figures only "
              "(pip install torch==2.13.0 for the CPU build)")

    cases = [c for c in CASES if not args.only or c.workload in args.only]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        files: dict[str, Path] = {}
        for workload in sorted({c.workload for c in cases}):
            files[workload] = Path(tmp) / f"{workload}.npz"
            subprocess.run([sys.executable, str(args.reference), "make", workload,
                            "--out", str(files[workload])], check=True, capture_output=True)
        for case in cases:
            data = files[case.workload]
            times: dict[str, list[float]] = {"ours": [], "ours_eval": [], "torch": [],
                                             "torch_eval": []}
            peaks: list[float] = []
            step_peaks: list[float] = []
            accuracy = {}
            for _ in range(args.rounds):
                peak = case.workload == "W3"
                ours = _child(_ours_cmd(case, data, eval_every_epoch=False, peak=peak))
                times["ours"].append(ours["train_time_s"])
                peaks += [ours["gemm_peak_gflops"]] if peak else []
                step_peaks += [ours["gemm_step_gflops"]] if peak else []
                accuracy["ours"] = ours["val_accuracy"]
                if have_torch:
                    ref = _child(_torch_cmd(args.reference, case, data, eval_every_epoch=False))
                    times["torch"].append(ref["train_time_s"])
                    accuracy["torch"] = ref["val_accuracy"]
                ours = _child(_ours_cmd(case, data, eval_every_epoch=True))
                times["ours_eval"].append(ours["train_time_s"])
                if have_torch:
                    ref = _child(_torch_cmd(args.reference, case, data, eval_every_epoch=True))
                    times["torch_eval"].append(ref["train_time_s"])
            med = {k: statistics.median(v) for k, v in times.items() if v}
            import numpy as np

            with np.load(data) as f:
                m, n_x = f["X_train"].shape
                n_y = int(max(f["y_train"].max(), f["y_val"].max())) + 1
            n_y = 1 if n_y == 2 else n_y
            row: dict[str, Any] = {
                "case": case.name,
                "samples_per_s": case.epochs * m / med["ours"],
                "val_overhead": med["ours_eval"] / med["ours"] - 1,
                "median_s": med,
                "val_accuracy": accuracy,
            }
            if "torch" in med:
                row["ratio_vs_torch"] = med["torch"] / med["ours"]
                row["ratio_vs_torch_eval"] = med["torch_eval"] / med["ours_eval"]
            if peaks:
                gflops = _training_flops(case, n_x, n_y, m) / med["ours"] / 1e9
                row["gflops"] = gflops
                row["gemm_peak_gflops"] = max(peaks)
                row["fraction_of_peak"] = gflops / max(peaks)
                row["gemm_step_gflops"] = max(step_peaks)
                row["fraction_of_step_peak"] = gflops / max(step_peaks)
            rows.append(row)
            _print_row(row)
    if args.json:
        print(json.dumps(rows, indent=2))
    return 0


def _print_row(row: dict[str, Any]) -> None:
    parts = [f"{row['case']:<8}", f"{row['samples_per_s']:>12,.0f} samples/s"]
    if "ratio_vs_torch" in row:
        parts.append(f"{row['ratio_vs_torch']:.2f}x PyTorch")
        parts.append(f"({row['ratio_vs_torch_eval']:.2f}x with per-epoch validation on both)")
    parts.append(f"validation every epoch +{100 * row['val_overhead']:.1f}%")
    if "fraction_of_peak" in row:
        parts.append(f"{row['gflops']:.0f} of {row['gemm_peak_gflops']:.0f} GFLOP/s "
                     f"= {100 * row['fraction_of_peak']:.0f}% of GEMM peak "
                     f"({100 * row['fraction_of_step_peak']:.0f}% of the "
                     f"{row['gemm_step_gflops']:.0f} GFLOP/s its own products reach)")
    print("  ".join(parts), flush=True)


def _child_main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("cmd")
    parser.add_argument("data")
    parser.add_argument("--hidden", type=int, nargs="*", default=[])
    parser.add_argument("--activation")
    parser.add_argument("--optimizer")
    parser.add_argument("--alpha", type=float)
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--eval-every-epoch", action="store_true")
    parser.add_argument("--peak", action="store_true")
    _ours(parser.parse_args())


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_ours":
        _child_main()
    else:
        sys.exit(main())
