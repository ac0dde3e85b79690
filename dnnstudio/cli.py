"""The ``dnnstudio`` command: no subcommand opens the desktop app, a subcommand works headless.

``dnnstudio datasets`` lists the built-in datasets; ``dnnstudio train`` trains one experiment
and prints a summary (``--json`` for one JSON object). Bad input exits with status 2 and one
line on stderr. Nothing here imports Qt; the desktop app is imported only when it is opened.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import signal
import sys
import time
from collections.abc import Callable, Sequence
from types import FrameType
from typing import Any, NoReturn, TextIO

from . import __version__
from .core.data import (
    Splits,
    Task,
    TrainData,
    list_datasets,
    load_dataset,
    load_npz,
    read_csv,
    split_dataset,
)
from .core.errors import DnnStudioError
from .core.hyperparams import ACTIVATIONS, DECAYS, DTYPES, INITS, OPTIMIZERS, Hyperparameters
from .core.training import EpochRecord, TrainResult, train

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _number(kind: Callable[[str], Any], what: str) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            return kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None

    parse.__name__ = what  # argparse names the type in some messages
    return parse


def _hidden(text: str) -> tuple[int, ...]:
    """``"64,64"`` -> ``(64, 64)``; ``""`` -> ``()`` (no hidden layer)."""
    parts = [p.strip() for p in text.replace(" ", ",").split(",") if p.strip()]
    try:
        return tuple(int(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a list of layer sizes such as 64,64 (or '' for none)"
        ) from None


def _activation(text: str) -> str | tuple[str, ...]:
    parts = [p.strip() for p in text.split(",") if p.strip()]
    return parts[0] if len(parts) == 1 else tuple(parts)


def _split(text: str) -> tuple[float, float, float]:
    """``"60/20/20"`` or ``"0.6,0.2,0.2"`` -> fractions."""
    parts = [p for p in text.replace("/", ",").split(",") if p.strip()]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) != 3:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not three train/validation/test shares such as 60/20/20"
        )
    total = sum(values)
    if total > 1.5:  # given in percent
        values = [v / 100 for v in values]
    return values[0], values[1], values[2]


_TASKS = {
    "auto": None,
    "classification": Task.MULTICLASS,
    "binary": Task.BINARY,
    "multiclass": Task.MULTICLASS,
    "regression": Task.REGRESSION,
}


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="dnnstudio",
        description="DNN Studio: choose hyperparameters, train, observe, refine. "
        "Without a command it opens the desktop app.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("session", nargs="?", help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")

    ds = sub.add_parser("datasets", help="list the built-in datasets")
    ds.add_argument("--json", action="store_true", help="print a JSON list")

    tr = sub.add_parser(
        "train",
        help="train one experiment headless",
        description="Train one network and print its results. Hyperparameters are named as "
        "in the course: alpha, L and n[l] (--hidden), activations, and so on.",
    )
    data = tr.add_argument_group("data (one of --dataset, --csv, --data)")
    source = data.add_mutually_exclusive_group()
    source.add_argument("--dataset", metavar="NAME", help="a built-in dataset (default planar)")
    source.add_argument("--csv", metavar="FILE", help="a CSV file with a header row")
    source.add_argument(
        "--data", metavar="FILE.npz",
        help="arrays X_train, y_train, X_val, y_val (rows are examples), used as given",
    )
    data.add_argument("--target", metavar="COLUMN",
                      help="the CSV column to predict (default: last)")
    data.add_argument("--task", choices=sorted(_TASKS), default="auto",
                      help="what the target is (default: guessed from its values)")
    data.add_argument("--n-samples", type=_number(int, "a whole number"), metavar="N",
                      help="points of a generated dataset")
    data.add_argument("--noise", type=_number(float, "a number"),
                      help="noise of a generated dataset")
    data.add_argument("--split", type=_split, default=(0.6, 0.2, 0.2), metavar="T/V/T",
                      help="train/validation/test shares (default 60/20/20)")
    data.add_argument("--data-seed", type=_number(int, "a whole number"), default=0, metavar="N",
                      help="seed for generating and splitting the data (default 0)")

    defaults = Hyperparameters(hidden=(4,), activation="tanh")
    hp = tr.add_argument_group("hyperparameters")
    num, whole = _number(float, "a number"), _number(int, "a whole number")
    hp.add_argument("--alpha", type=num, default=defaults.alpha,
                    help="learning rate (default %(default)s)")
    hp.add_argument("--epochs", type=whole, default=defaults.epochs,
                    help="passes over the training set; with full batch, iterations "
                    "(default %(default)s)")
    hp.add_argument("--hidden", type=_hidden, default=defaults.hidden, metavar="N1,N2,...",
                    help="hidden layer sizes n[1..L-1]; '' for none (default 4)")
    hp.add_argument("--activation", type=_activation, default=defaults.activation,
                    metavar="NAME", help="hidden activation, or one per layer: "
                    f"{', '.join(ACTIVATIONS)} (default tanh)")
    hp.add_argument("--init", choices=INITS, default=defaults.init, help="weight initialisation")
    hp.add_argument("--optimizer", choices=OPTIMIZERS, default=defaults.optimizer)
    hp.add_argument("--beta", type=num, default=defaults.beta, help="momentum's beta")
    hp.add_argument("--beta1", type=num, default=defaults.beta1, help="Adam's beta1")
    hp.add_argument("--beta2", type=num, default=defaults.beta2,
                    help="Adam's and RMSprop's beta2")
    hp.add_argument("--epsilon", type=num, default=defaults.epsilon)
    hp.add_argument("--batch-size", type=whole, default=0, metavar="N",
                    help="mini-batch size; 0 for full batch (default)")
    hp.add_argument("--l2", type=num, default=defaults.l2, metavar="LAMBDA",
                    help="L2 regularisation lambda")
    hp.add_argument("--keep-prob", type=num, default=defaults.keep_prob, metavar="P",
                    help="dropout keep probability (1 = no dropout)")
    hp.add_argument("--decay", choices=DECAYS, default=defaults.decay, help="learning-rate decay")
    hp.add_argument("--decay-rate", type=num, default=defaults.decay_rate, metavar="R")
    hp.add_argument("--decay-step", type=whole, default=defaults.decay_step, metavar="EPOCHS")
    hp.add_argument("--patience", type=whole, default=0, metavar="EPOCHS",
                    help="early stopping on validation cost; 0 = off (default)")
    hp.add_argument("--seed", type=whole, default=defaults.seed,
                    help="seed for initialisation, shuffling and dropout")
    hp.add_argument("--dtype", choices=DTYPES, default=defaults.dtype)

    out = tr.add_argument_group("output")
    out.add_argument("--json", action="store_true", help="print one JSON object")
    out.add_argument("--evaluate-test", action="store_true",
                     help="also evaluate on the held-out test set; do this once, for the "
                     "final model, never to choose hyperparameters")
    return parser


def hyperparameters_from_args(args: argparse.Namespace) -> Hyperparameters:
    return Hyperparameters(
        alpha=args.alpha,
        epochs=args.epochs,
        hidden=args.hidden,
        activation=args.activation,
        init=args.init,
        optimizer=args.optimizer,
        beta=args.beta,
        beta1=args.beta1,
        beta2=args.beta2,
        epsilon=args.epsilon,
        batch_size=None if args.batch_size == 0 else args.batch_size,
        l2=args.l2,
        keep_prob=args.keep_prob,
        decay=args.decay,
        decay_rate=args.decay_rate,
        decay_step=args.decay_step,
        patience=None if args.patience == 0 else args.patience,
        seed=args.seed,
        dtype=args.dtype,
    )


def _load(args: argparse.Namespace) -> tuple[str, TrainData, Splits | None]:
    task = _TASKS[args.task]
    generated_only = (args.n_samples, args.noise)
    if args.data is not None:
        if args.evaluate_test:
            raise DnnStudioError(
                "--evaluate-test needs a test set, and a --data file has none; "
                "use --dataset or --csv, which are split into training, validation and test"
            )
        return args.data, load_npz(args.data, task=task), None
    if args.csv is not None:
        if any(v is not None for v in generated_only):
            raise DnnStudioError("--n-samples and --noise only apply to generated datasets")
        dataset = read_csv(args.csv, args.target, task=task)
    else:
        if args.target is not None:
            raise DnnStudioError("--target only applies to --csv files")
        dataset = load_dataset(args.dataset or "planar", n_samples=args.n_samples,
                               noise=args.noise, seed=args.data_seed)
    splits = split_dataset(dataset, args.split, seed=args.data_seed)
    return dataset.name, splits.training_data(), splits


class _ProgressBar:
    """A one-line progress bar on a terminal, redrawn at most ten times a second."""

    def __init__(self, epochs: int, stream: TextIO) -> None:
        self.epochs = epochs
        self.stream = stream
        self.last = 0.0

    def __call__(self, record: EpochRecord) -> None:
        now = time.monotonic()
        if now - self.last < 0.1 and record.epoch != self.epochs:
            return
        self.last = now
        width = 30
        filled = int(width * record.epoch / self.epochs)
        cost = f"{record.train_cost:.4f}" if math.isfinite(record.train_cost) else "-"
        val = f"{record.val_cost:.4f}" if math.isfinite(record.val_cost) else "-"
        self.stream.write(
            f"\r[{'#' * filled}{'.' * (width - filled)}] epoch {record.epoch}/{self.epochs}"
            f"  cost {cost}  val cost {val}  {record.elapsed_s:.1f}s "
        )
        self.stream.flush()

    def close(self) -> None:
        self.stream.write("\n")
        self.stream.flush()


def _fmt(value: float | None, digits: int = 4) -> str:
    if value is None or not math.isfinite(value):
        return "-"
    return f"{value:.{digits}f}"


def _summary_lines(name: str, data: TrainData, result: TrainResult,
                   test: tuple[float, float] | None) -> list[str]:
    hp = result.hyperparameters
    metric = "accuracy" if result.metric == "accuracy" else "R²"
    sizes = hp.layer_sizes(data.n_features, data.n_outputs)
    lines = [
        f"dataset      {name}: {data.X_train.shape[0]} training, {data.X_val.shape[0]} "
        f"validation examples, {data.n_features} features, {data.task.value}",
        f"network      L = {hp.L}, n = {list(sizes)}, {result.parameter_count:,} parameters "
        f"(W[l], b[l])",
        f"status       {result.status.value}: {result.message}",
        f"epochs       {result.epochs_run} in {result.train_time_s:.2f} s",
        f"cost         train {_fmt(result.train_cost)}   validation {_fmt(result.val_cost)}",
        f"{metric:<12} train {_fmt(result.train_metric)}   validation {_fmt(result.val_metric)}",
    ]
    if test is not None:
        lines.append(f"test         cost {_fmt(test[0])}   {metric} {_fmt(test[1])}  "
                     "(use the test set once, for the final model)")
    return lines


def result_json(name: str, data: TrainData, result: TrainResult,
                test: tuple[float, float] | None = None) -> dict[str, Any]:
    """The JSON object ``dnnstudio train --json`` prints."""
    out = result.summary()
    out["dataset"] = {
        "name": name,
        "task": data.task.value,
        "n_train": int(data.X_train.shape[0]),
        "n_val": int(data.X_val.shape[0]),
        "n_features": data.n_features,
        "classes": list(data.class_names),
    }
    out["hyperparameters"] = result.hyperparameters.to_dict()
    history = result.history.to_dict()
    metric = "accuracy" if result.metric == "accuracy" else "r2"
    out["history"] = {
        "epoch": list(range(1, result.epochs_run + 1)),
        "train_cost": history["train_cost"],
        "val_cost": history["val_cost"],
        f"train_{metric}": history["train_metric"],
        f"val_{metric}": history["val_metric"],
        "learning_rate": history["learning_rate"],
        "elapsed_s": history["elapsed_s"],
    }
    if test is not None:
        out["test_cost"] = test[0] if math.isfinite(test[0]) else None
        out[f"test_{metric}"] = test[1] if math.isfinite(test[1]) else None
    return out


def _cmd_datasets(args: argparse.Namespace) -> int:
    infos = list_datasets()
    if args.json:
        print(json.dumps([
            {"name": i.name, "kind": i.kind, "title": i.title, "task": i.task.value,
             "n_samples": i.n_samples, "n_features": i.n_features, "n_classes": i.n_classes,
             "description": i.description, "source": i.source}
            for i in infos
        ], indent=2))
        return 0
    print(f"{'name':<14}{'kind':<11}{'examples':>9}{'features':>10}{'classes':>9}  description")
    for i in infos:
        classes = str(i.n_classes) if i.n_classes else "-"
        print(f"{i.name:<14}{i.kind:<11}{i.n_samples:>9}{i.n_features:>10}{classes:>9}  "
              f"{i.description}")
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    hp = hyperparameters_from_args(args)
    name, data, splits = _load(args)

    interrupted = False

    def on_sigint(signum: int, frame: FrameType | None) -> None:
        nonlocal interrupted
        interrupted = True

    previous = signal.signal(signal.SIGINT, on_sigint)
    bar = None if args.json or not sys.stderr.isatty() else _ProgressBar(hp.epochs, sys.stderr)
    try:
        result = train(hp, data, on_epoch=bar, should_stop=lambda: interrupted)
    finally:
        signal.signal(signal.SIGINT, previous)
        if bar is not None:
            bar.close()

    test = None
    if args.evaluate_test and splits is not None and result.model is not None:
        X_test, y_test = splits.test_data()
        if len(y_test) == 0:
            raise DnnStudioError("--evaluate-test needs a test set; --split gave it no examples")
        test = result.model.evaluate(X_test, y_test)
    if args.json:
        print(json.dumps(result_json(name, data, result, test), allow_nan=False))
    else:
        print("\n".join(_summary_lines(name, data, result, test)))
    return EXIT_INTERRUPTED if interrupted else 0


def _open_app(session: str | None) -> int:
    try:
        # Qt is imported only when the window opens, never for headless commands.
        app = importlib.import_module("dnnstudio.gui.app")
    except ModuleNotFoundError as exc:
        if exc.name is not None and exc.name.startswith("dnnstudio.gui"):
            print("The desktop window is not part of this version yet; use "
                  "'dnnstudio train --help' to train headless.", file=sys.stderr)
            return 1
        print(f"dnnstudio: error: cannot open the desktop app: {exc}", file=sys.stderr)
        return 1
    return int(app.run(session))


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "datasets":
            return _cmd_datasets(args)
        if args.command == "train":
            return _cmd_train(args)
        return _open_app(args.session)
    except DnnStudioError as exc:
        print(f"dnnstudio {args.command or ''}: error: {exc}".replace("  ", " "), file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"dnnstudio: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
