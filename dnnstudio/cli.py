"""The ``dnnstudio`` command: no subcommand opens the desktop app, a subcommand works headless.

``dnnstudio`` opens the desktop app, ``dnnstudio FILE.dnnsession`` opens it on a session.
``dnnstudio datasets`` lists the built-in datasets; ``dnnstudio train`` trains one experiment
and prints a summary (``--json`` for one JSON object), and with ``--session FILE`` adds it to a
session file; ``dnnstudio export FILE --csv OUT`` (or ``--json OUT``) writes a session's
results without opening a window; ``dnnstudio evaluate FILE --experiment N`` gives one
experiment its final evaluation on the test set and records it in the session's audit trail.
Bad input exits with status 2 and one line on stderr.
Nothing here imports Qt; the desktop app is imported only when it is opened.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn, TextIO

from . import __version__
from .core.data import (
    Splits,
    Task,
    TrainData,
    list_datasets,
)
from .core.data.spec import DatasetSpec
from .core.errors import DnnStudioError
from .core.hyperparams import ACTIVATIONS, DECAYS, DTYPES, INITS, OPTIMIZERS, Hyperparameters
from .core.training import EpochRecord, TrainResult, check_fits
from .runs import evaluation as runs_evaluation
from .runs.messages import Failed, Finished
from .runs.pool import WorkerPool
from .runs.queue import ExperimentQueue, ProgressAppended
from .runs.records import ExperimentRecord, TestEvaluation
from .sessions.export import export_csv, export_json
from .sessions.store import SUFFIX, SessionStore

EXIT_FAILED = 1
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
        usage=f"%(prog)s [-h] [--version] [FILE{SUFFIX} | COMMAND ...]",
        description="DNN Studio: choose hyperparameters, train, observe, refine. "
        f"Without a command it opens the desktop app; with a FILE{SUFFIX} it opens that "
        "session.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    # `dnnstudio FILE` is recognised in main() before parsing: an optional positional next to
    # the subcommands would swallow the command's name (`dnnstudio export x` -> session
    # "export").
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
                     "final model, never to choose hyperparameters (with --session it is "
                     "recorded in the session's audit trail)")
    out.add_argument("--session", metavar="FILE",
                     help=f"add the experiment (history and parameters too) to this {SUFFIX} "
                     "file, creating it if needed; all experiments of a session use the same "
                     "data and split")
    out.add_argument("--note", metavar="TEXT", help="a note saved with the experiment "
                     "(with --session)")

    sw = sub.add_parser(
        "sweep",
        help="run a hyperparameter search headless from a TOML spec",
        description="Run a grid, random or Bayesian search described by a TOML file "
        "([dataset], [fixed], [search], [search.space]; see the README), print every trial "
        "and the best configuration, and optionally save the session and the results CSV. "
        "Ctrl-C cancels the search; what finished is kept.",
    )
    sw.add_argument("spec", metavar="SPEC.toml", help="the search spec")
    sw.add_argument("--session", metavar="FILE",
                    help=f"add the search and its experiments to this {SUFFIX} file as they "
                    "run (created if needed; an existing one must use the same data)")
    sw.add_argument("--csv", metavar="OUT", help="write the trials' results as CSV "
                    "('-' for standard output)")
    sw.add_argument("--json", action="store_true", help="print one JSON object")
    sw.add_argument("--workers", type=_number(int, "a whole number"), metavar="N",
                    help="worker processes (default: the spec's parallel, else the CPUs)")

    ex = sub.add_parser(
        "export",
        help="write a session's results as CSV or JSON",
        description="Write the experiments of a session file without opening a window: "
        "--csv gives one row per experiment, --json the whole session with histories.",
    )
    ex.add_argument("file", metavar=f"FILE{SUFFIX}", help="the session file (not changed)")
    fmt = ex.add_mutually_exclusive_group(required=True)
    fmt.add_argument("--csv", metavar="OUT", help="CSV file to write; '-' for standard output")
    fmt.add_argument("--json", metavar="OUT",
                     help="JSON file to write; '-' for standard output")

    ev = sub.add_parser(
        "evaluate",
        help="evaluate one experiment of a session on the test set, once",
        description="The final evaluation: one completed experiment of a session, evaluated "
        "on the held-out test set and recorded in the session's audit trail. The test set is "
        "used once per experiment; tune on the validation set, not on this figure.",
    )
    ev.add_argument("file", metavar=f"FILE{SUFFIX}", help="the session file")
    ev.add_argument("--experiment", type=_number(int, "a whole number"), required=True,
                    metavar="N", help="the experiment's id")
    ev.add_argument("--yes", action="store_true",
                    help="do not ask for confirmation (needed when standard input is not a "
                    "terminal)")
    ev.add_argument("--json", action="store_true", help="print one JSON object")
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


def dataset_spec_from_args(args: argparse.Namespace) -> DatasetSpec:
    """The :class:`DatasetSpec` that ``--dataset`` or ``--csv`` and their options describe."""
    task = _TASKS[args.task]
    common: dict[str, Any] = {
        "task": None if task is None else task.value,
        "seed": args.data_seed,
        "split": args.split,
    }
    if args.csv is not None:
        if args.n_samples is not None or args.noise is not None:
            raise DnnStudioError("--n-samples and --noise only apply to generated datasets")
        # Absolute, so that the session still finds the file from another directory.
        path = os.path.abspath(args.csv)
        return DatasetSpec(source="csv", name=Path(path).stem, path=path, target=args.target,
                           **common)
    if args.target is not None:
        raise DnnStudioError("--target only applies to --csv files")
    return DatasetSpec(source="builtin", name=args.dataset or "planar",
                       n_samples=args.n_samples, noise=args.noise, **common)


def _load(args: argparse.Namespace) -> tuple[str, TrainData, Splits | None, DatasetSpec]:
    if args.data is not None:
        if args.evaluate_test:
            raise DnnStudioError(
                "--evaluate-test needs a test set, and a --data file has none; "
                "use --dataset or --csv, which are split into training, validation and test"
            )
        task = _TASKS[args.task]
        npz = DatasetSpec(source="npz", path=os.path.abspath(args.data),
                          task=None if task is None else task.value)
        return args.data, npz.training_data(), None, npz
    spec = dataset_spec_from_args(args)
    # spec.load() is the path the desktop app and its workers take, so the CLI trains on the
    # same rows as a session that holds this spec.
    splits = spec.load()
    return splits.dataset.name, splits.training_data(), splits, spec


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


def _data_key(spec: DatasetSpec) -> tuple[Any, ...]:
    """What decides the rows a spec gives (the display name does not)."""
    if spec.source == "csv":
        what: tuple[Any, ...] = (os.path.normcase(os.path.abspath(spec.path)), spec.target)
    else:
        what = (spec.name, spec.n_samples, spec.noise)
    return (spec.source, *what, spec.task, spec.seed, tuple(float(f) for f in spec.split))


def _describe(spec: DatasetSpec) -> str:
    split = "/".join(f"{100 * f:g}" for f in spec.split)
    extra = ""
    if spec.source == "builtin" and (spec.n_samples is not None or spec.noise is not None):
        extra = f", n_samples {spec.n_samples}, noise {spec.noise}"
    if spec.source == "csv" and spec.target is not None:
        extra = f", target {spec.target}"
    task = f", task {spec.task}" if spec.task is not None else ""
    return f"{spec.title} (split {split}, data seed {spec.seed}{extra}{task})"


def _open_session(path: str, spec: DatasetSpec) -> SessionStore:
    """The session to add an experiment to, created with ``spec`` if it does not exist."""
    if not Path(path).exists():
        store = SessionStore.create(path)
        try:
            store.put_dataset(spec)
        except BaseException:
            store.close()
            raise
        return store
    store = SessionStore.open(path)
    try:
        stored = store.dataset()
        if stored is None:
            store.put_dataset(spec)
        elif _data_key(stored) != _data_key(spec):
            raise DnnStudioError(
                f"{path} trains on {_describe(stored)}, this run on {_describe(spec)}; the "
                "experiments of a session share their data and split, so use the same data "
                "options or another --session file"
            )
    except BaseException:
        store.close()
        raise
    return store


def _cmd_train(args: argparse.Namespace) -> int:
    hp = hyperparameters_from_args(args)
    if args.session is not None and args.data is not None:
        raise DnnStudioError(
            "--session needs --dataset or --csv, not --data: a session records how its data "
            "is made and split so that every experiment in it trains on the same rows, and "
            "the arrays of a --data file are not described that way"
        )
    if args.note is not None and args.session is None:
        raise DnnStudioError("--note is saved with the experiment in a session; add --session FILE")
    name, data, splits, spec = _load(args)
    # A network too large for this machine is bad input: refused here, with the size it would
    # need, before a worker starts.
    check_fits(hp, data.n_features, data.n_outputs, data.X_train.shape[0],
               data.X_val.shape[0])
    store = None if args.session is None else _open_session(args.session, spec)
    try:
        return _train_and_report(args, hp, name, data, splits, store, spec)
    finally:
        if store is not None:
            store.close()


class TrainingFailed(DnnStudioError):
    """The worker could not train the experiment (it raised or died)."""


def train_in_worker(
    hp: Hyperparameters,
    spec: DatasetSpec,
    *,
    on_epoch: Callable[[EpochRecord], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> TrainResult:
    """Train one experiment through the queue and worker processes the desktop app uses.

    Raises
    ------
    TrainingFailed
        With the worker's one-line reason.
    """
    with WorkerPool(1) as pool:
        queue = ExperimentQueue(pool, spec, max_parallel=1)
        if on_epoch is not None:
            def relay(event: object) -> None:
                if isinstance(event, ProgressAppended):
                    for record in event.records:
                        on_epoch(record)

            queue.subscribe(relay)
        experiment = queue.add(hp)
        result: TrainResult | None = None
        cancelling = False
        while result is None:
            messages = pool.poll(0.05)
            for message in messages:
                if isinstance(message, Finished):
                    result = message.result
                elif isinstance(message, Failed):
                    raise TrainingFailed(f"training failed: {message.reason}")
            queue.handle(messages)
            if not cancelling and should_stop is not None and should_stop():
                queue.cancel(experiment.id)
                cancelling = True
        return result


def _train_and_report(args: argparse.Namespace, hp: Hyperparameters, name: str,
                      data: TrainData, splits: Splits | None,
                      store: SessionStore | None, spec: DatasetSpec) -> int:
    record = ExperimentRecord(id=0, hyperparameters=hp, note=args.note or "").started()
    interrupted = False

    def on_sigint(signum: int, frame: FrameType | None) -> None:
        nonlocal interrupted
        interrupted = True

    previous = signal.signal(signal.SIGINT, on_sigint)
    bar = None if args.json or not sys.stderr.isatty() else _ProgressBar(hp.epochs, sys.stderr)
    try:
        result = train_in_worker(hp, spec, on_epoch=bar, should_stop=lambda: interrupted)
    finally:
        signal.signal(signal.SIGINT, previous)
        if bar is not None:
            bar.close()

    saved = None
    if store is not None:
        # Saved first, so nothing after training can lose the run. add_experiment picks the
        # next free id in the same transaction as the insert.
        saved = store.add_experiment(record.finished(result))
    test = None
    if args.evaluate_test and splits is not None:
        # The same final evaluation as `dnnstudio evaluate` and the desktop app's, recorded
        # in the session's audit trail when there is one.
        trained = saved if saved is not None else record.finished(result)
        if runs_evaluation.evaluation_refusal(trained) is None:
            evaluation = runs_evaluation.final_evaluation(trained, spec)
            if store is not None:
                store.add_test_evaluation(evaluation)
            test = (evaluation.test_cost, evaluation.test_metric)
        else:
            print("dnnstudio train: the test set was not used: only a completed run is "
                  f"evaluated on it, and this one is {trained.state}", file=sys.stderr)
    if args.json:
        out = result_json(name, data, result, test)
        if saved is not None and store is not None:
            out["session"] = {"path": str(store.path), "experiment_id": saved.id}
        print(json.dumps(out, allow_nan=False))
    else:
        lines = _summary_lines(name, data, result, test)
        if saved is not None and store is not None:
            lines.append(f"session      saved as experiment {saved.id} in {store.path}")
        print("\n".join(lines))
    return EXIT_INTERRUPTED if interrupted else 0


def _cmd_sweep(args: argparse.Namespace) -> int:
    from .search import SpecError
    from .search.spec import SearchSpec
    from .search.sweep import outcome_json, outcome_lines, run_sweep

    try:
        spec = SearchSpec.from_toml(args.spec)
    except SpecError as exc:
        raise DnnStudioError(f"{args.spec}: {exc}") from None
    if spec.dataset is None:
        raise DnnStudioError(f"{args.spec}: dataset: the spec needs a [dataset] table "
                             '(name = "planar", or csv = "file.csv" and target = "column")')
    if args.workers is not None and args.workers < 1:
        raise DnnStudioError("--workers must be at least 1")
    data = spec.dataset.training_data()  # bad data is refused before any worker starts
    if spec.strategy == "grid":
        # Every point is known: one too large for this machine is refused now, with its size.
        for params in spec.space.grid():
            check_fits(spec.hyperparameters(params), data.n_features, data.n_outputs,
                       data.X_train.shape[0], data.X_val.shape[0])
    session = None
    if args.session is not None:
        _open_session(args.session, spec.dataset).close()
        session = Path(args.session)
    interrupted = False

    def on_sigint(signum: int, frame: FrameType | None) -> None:
        nonlocal interrupted
        interrupted = True

    progress = None
    if not args.json and sys.stderr.isatty():
        def progress(runner: Any) -> None:
            sys.stderr.write("\r" + runner.progress_text()[:100].ljust(100))
            sys.stderr.flush()

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        outcome = run_sweep(spec, spec.dataset, session=session, workers=args.workers,
                            on_progress=progress, should_stop=lambda: interrupted)
    finally:
        signal.signal(signal.SIGINT, previous)
        if progress is not None:
            sys.stderr.write("\n")
    if args.csv is not None:
        export_csv(outcome.records, sys.stdout if args.csv == "-" else args.csv,
                   dataset=spec.dataset)
    if args.json:
        print(json.dumps(outcome_json(outcome), allow_nan=False))
    elif args.csv != "-":
        print("\n".join(outcome_lines(outcome)))
    if interrupted:
        return EXIT_INTERRUPTED
    return 0 if outcome.best is not None else EXIT_FAILED


def _cmd_export(args: argparse.Namespace) -> int:
    # Read-only: exporting never changes the session, even one from an older version.
    with SessionStore.open(args.file, read_only=True) as store:
        session = store.load()
    if args.csv is not None:
        export_csv(session.in_order(), sys.stdout if args.csv == "-" else args.csv,
                   dataset=session.dataset)
    else:
        export_json(session, sys.stdout if args.json == "-" else args.json)
    return 0


def _confirm_evaluation(args: argparse.Namespace, record: ExperimentRecord,
                        used: Sequence[TestEvaluation]) -> bool:
    """Explain why the test set is used once and ask on the terminal (``--yes`` skips it).

    Raises
    ------
    DnnStudioError
        Standard input is not a terminal and ``--yes`` was not given.
    """
    earlier = ", ".join(f"experiment {e.experiment_id} at {runs_evaluation.format_time(e.at)}"
                        for e in used)
    if args.yes:
        if used:
            print(f"dnnstudio evaluate: note: the test set of this split was already used for "
                  f"{earlier}", file=sys.stderr)
        return True
    if not sys.stdin.isatty():
        raise DnnStudioError(
            "the test set is used once per experiment, so this asks for confirmation, and "
            "standard input is not a terminal; add --yes to evaluate without asking"
        )
    lines = [
        f"Final evaluation of experiment {record.id} on the test set of {args.file}.",
        "Hyperparameters are chosen on the validation set; the test set is held back for one "
        "final, unbiased estimate, so each experiment is evaluated on it once. Tuning further "
        "on this split after looking at the result makes that estimate optimistic.",
    ]
    if used:
        lines.append(f"The test set of this split was already used for {earlier}.")
    # The question goes to stderr, so that --json output on stdout stays one JSON object.
    print("\n".join(lines), file=sys.stderr)
    sys.stderr.write("Evaluate it now and record it in the session? [y/N] ")
    sys.stderr.flush()
    return sys.stdin.readline().strip().lower() in ("y", "yes")


def _cmd_evaluate(args: argparse.Namespace) -> int:
    with SessionStore.open(args.file) as store:
        session = store.load()
        if session.dataset is None:
            raise DnnStudioError(f"{args.file} has no data yet, so it has no test set")
        by_id = {r.id: r for r in session.records}
        record = by_id.get(args.experiment)
        if record is None:
            known = ", ".join(str(i) for i in sorted(by_id)) or "none"
            raise DnnStudioError(
                f"{args.file} has no experiment {args.experiment} (its experiments: {known})")
        # Refused before asking: an experiment that cannot be evaluated is not worth a question.
        runs_evaluation.check_evaluable(record)
        used = runs_evaluation.evaluations_on_split(session.evaluations, session.dataset)
        if not _confirm_evaluation(args, record, used):
            print("dnnstudio evaluate: not evaluated; the test set was not touched",
                  file=sys.stderr)
            return EXIT_FAILED
        evaluation = runs_evaluation.final_evaluation(record, session.dataset)
        store.add_test_evaluation(evaluation)
    metric = "r2" if evaluation.metric == "r2" else "accuracy"
    if args.json:
        print(json.dumps({
            "experiment_id": evaluation.experiment_id,
            "tested_at": evaluation.at,
            "samples": evaluation.samples,
            "test_cost": _json_number(evaluation.test_cost),
            f"test_{metric}": _json_number(evaluation.test_metric),
            "val_cost": _json_number(record.val_cost),
            f"val_{metric}": _json_number(record.val_metric),
            "session": str(Path(args.file)),
        }, allow_nan=False))
        return 0
    name = runs_evaluation.metric_name(evaluation.metric)
    print("\n".join([
        f"experiment   {evaluation.experiment_id}, {evaluation.samples} test examples",
        f"cost         test {_fmt(evaluation.test_cost)}   validation {_fmt(record.val_cost)}",
        f"{name:<12} test {_fmt(evaluation.test_metric)}   validation "
        f"{_fmt(record.val_metric)}",
        f"recorded     in {args.file} at {runs_evaluation.format_time(evaluation.at)}; further "
        "tuning on this split makes the test estimate optimistic",
    ]))
    return 0


def _json_number(value: float) -> float | None:
    return value if math.isfinite(value) else None


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


_COMMANDS = ("datasets", "train", "export", "evaluate", "sweep")


def _session_argument(argv: Sequence[str]) -> str | None:
    """The file of ``dnnstudio FILE``: one argument that names a session, not a command."""
    if len(argv) != 1:
        return None
    arg = argv[0]
    if arg.startswith("-") or arg in _COMMANDS:
        return None
    return arg if arg.endswith(SUFFIX) or Path(arg).is_file() else None


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    session = _session_argument(argv)
    if session is not None:
        return _open_app(session)
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "datasets":
            return _cmd_datasets(args)
        if args.command == "train":
            return _cmd_train(args)
        if args.command == "export":
            return _cmd_export(args)
        if args.command == "sweep":
            return _cmd_sweep(args)
        if args.command == "evaluate":
            return _cmd_evaluate(args)
        return _open_app(None)
    except TrainingFailed as exc:
        # Not bad input: the input was checked before training started.
        print(f"dnnstudio {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except DnnStudioError as exc:
        print(f"dnnstudio {args.command or ''}: error: {exc}".replace("  ", " "), file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"dnnstudio: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
