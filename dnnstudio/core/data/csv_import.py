"""Read a user's CSV file into a :class:`~dnnstudio.core.data.dataset.Dataset`.

The reader is strict on purpose: every problem with the file is reported as one
:class:`~dnnstudio.core.errors.DataError` that names the line (the header is line 1) and, where
it can, the column, so the person can open the file and fix it. Nothing is guessed silently:
missing values are not imputed and non-numeric features are not encoded.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import math
import os
import stat
import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from dnnstudio.core.data.dataset import Dataset, Task
from dnnstudio.core.errors import DataError

__all__ = [
    "DEFAULT_MAX_BYTES",
    "MAX_CLASSES",
    "MAX_NUMERIC_CLASSES",
    "MIN_ROWS",
    "MISSING_MARKERS",
    "read_csv",
    "suggest_task",
]

DEFAULT_MAX_BYTES = 200 * 2**20
"""Largest CSV file :func:`read_csv` reads by default (200 MB)."""

MIN_ROWS = 10
"""Fewest data rows a file needs; fewer cannot be split into training, validation and test."""

MAX_NUMERIC_CLASSES = 20
"""A numeric target with at most this many distinct whole-number values is taken as classes."""

MAX_CLASSES = 1000
"""Most classes a classification target may have."""

MISSING_MARKERS = frozenset({"", "na", "n/a", "nan", "null", "none", "?", "missing"})
"""Cell texts (compared lower-case) that spreadsheets and R/pandas write for a missing value."""

_DELIMITERS = (",", ";", "\t")
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}
# Enough lines to tell the delimiter apart without parsing a big file twice.
_SNIFF_LINES = 20
_SNIFF_CHARS = 64 * 1024
_CHUNK_ROWS = 8192
# The csv module refuses fields longer than its limit (128 KiB by default) with csv.Error; a
# real numeric cell is never close to that, so the default limit stays.


def _format_size(n_bytes: float, *, exact: bool = False) -> str:
    """``2.0 GB``, ``1.5 MB``, ``200 MB`` (``exact`` drops a ``.0``); binary units."""
    for unit, factor in (("GB", 2**30), ("MB", 2**20), ("KB", 2**10)):
        if n_bytes >= factor:
            value = n_bytes / factor
            if exact and value == int(value):
                return f"{int(value)} {unit}"
            return f"{value:.1f} {unit}"
    return f"{int(n_bytes)} bytes"


def _line_of(data: bytes, offset: int) -> int:
    """1-based line number of the byte at ``offset``."""
    return data.count(b"\n", 0, offset) + 1


def _display_name(path: Path) -> str:
    name = path.name
    for suffix in (".csv.gz", ".tsv.gz", ".txt.gz", ".gz", ".csv", ".tsv", ".txt"):
        if name.lower().endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return path.stem or name


def _read_bytes(path: Path, max_bytes: int) -> bytes:
    """The file's bytes (decompressed for ``.gz``), refusing anything over ``max_bytes``."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise DataError(f"there is no file at {str(path)!r}.") from None
    except OSError as exc:
        raise DataError(f"cannot open {str(path)!r}: {exc.strerror or exc}.") from None
    if path.is_dir():
        raise DataError(f"{str(path)!r} is a folder; choose a CSV file inside it.")
    if not stat.S_ISREG(info.st_mode):
        # A device never ends (/dev/zero) and a named pipe may never open: neither is a file
        # of rows. A session file can name any path, so this is refused, not attempted.
        raise DataError(f"{str(path)!r} is not a regular file (it is a device, a pipe or a "
                        "socket); choose a CSV file.")
    limit = _format_size(max_bytes, exact=True)
    # Checked before reading, so a huge file costs nothing and cannot exhaust memory.
    if info.st_size > max_bytes:
        raise DataError(
            f"the file is {_format_size(info.st_size)}; DNN Studio reads CSV files up to "
            f"{limit}. Use a sample of the rows, or fewer columns."
        )
    try:
        if path.name.lower().endswith(".gz"):
            with gzip.open(path, "rb") as stream:
                # One byte more than allowed tells an over-long file without reading all of it.
                data = stream.read(max_bytes + 1)
            if len(data) > max_bytes:
                raise DataError(
                    f"the decompressed file is larger than {limit}; DNN Studio reads CSV files "
                    f"up to {limit}."
                )
            return data
        with path.open("rb") as stream:
            # Bounded too: a file may have grown since stat(), and /proc files report size 0.
            data = stream.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise DataError(f"the file is larger than {limit}; DNN Studio reads CSV files up to "
                            f"{limit}. Use a sample of the rows, or fewer columns.")
        return data
    except DataError:
        raise
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise DataError(f"{path.name!r} is not a valid gzip file ({exc}).") from None
    except OSError as exc:
        raise DataError(f"cannot read {str(path)!r}: {exc.strerror or exc}.") from None


def _decode(data: bytes) -> str:
    """UTF-8 text without a byte-order mark; DataError naming the line of the first bad byte."""
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    nul = data.find(b"\x00")
    if nul >= 0:
        # NUL bytes mean a binary file (an .xlsx, an image) or UTF-16 text, never a CSV we read.
        raise DataError(
            "the file contains a NUL byte, so it is not a plain-text CSV file (is it a "
            "spreadsheet, or text saved as UTF-16?). Save it as 'CSV UTF-8'.",
            row=_line_of(data, nul),
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = data[exc.start : exc.start + 1].hex()
        raise DataError(
            f"the file is not UTF-8 text (byte 0x{bad} cannot be decoded). Save it with the "
            "UTF-8 encoding ('CSV UTF-8' in a spreadsheet program).",
            row=_line_of(data, exc.start),
        ) from None


def _choose_delimiter(text: str) -> str:
    """The delimiter that splits the first lines into the most, and equally many, fields.

    Lines that the reader skips (blank, or only delimiters) do not count. When no delimiter
    splits every line alike, the one that splits the header into the most fields wins, so a
    semicolon file with one short row is reported as that, not as a one-column header. Comma
    wins ties and is the last fallback.
    """
    sample = text[:_SNIFF_CHARS]
    head = sample.splitlines()
    if len(sample) < len(text) and len(head) > 1:
        head.pop()  # cut off mid-line by the sample
    head = head[:_SNIFF_LINES]
    best, best_fields = ",", 1
    header_best, header_fields = ",", 1
    for delimiter in _DELIMITERS:
        try:
            rows = [row for row in csv.reader(head, delimiter=delimiter)
                    if any(cell.strip() for cell in row)]
        except csv.Error:
            continue
        if not rows:
            continue
        widths = {len(row) for row in rows}
        if len(widths) == 1 and len(rows[0]) > best_fields:
            best, best_fields = delimiter, len(rows[0])
        if len(rows[0]) > header_fields:
            header_best, header_fields = delimiter, len(rows[0])
    return best if best_fields > 1 else header_best


def _is_missing(cell: str) -> bool:
    return cell.strip().lower() in MISSING_MARKERS


def _to_float(cell: str) -> float | None:
    """The cell as a float, or None when it is not a number."""
    try:
        return float(cell)
    except ValueError:
        return None


def _records(text: str, delimiter: str) -> Iterable[tuple[int, list[str]]]:
    """``(line number where the record starts, fields)`` for every record with content."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    next_line = 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise DataError(
                f"the CSV structure is broken here ({exc}); check for an unclosed quote (\").",
                row=next_line,
            ) from None
        start = next_line
        next_line = reader.line_num + 1
        # Blank lines, and Excel's all-empty trailing rows (",,,"), carry no data.
        if all(not cell.strip() for cell in row):
            continue
        yield start, row


def _parse_header(fields: list[str], line: int) -> list[str]:
    names = [name.strip() for name in fields]
    for j, name in enumerate(names):
        if not name:
            raise DataError(
                f"column {j + 1} has no name in the header; every column needs a name.",
                row=line,
                column=str(j + 1),
            )
    seen: dict[str, int] = {}
    for j, name in enumerate(names):
        if name in seen:
            raise DataError(
                f"the header has two columns named {name!r} (columns {seen[name] + 1} and "
                f"{j + 1}); column names must be unique.",
                row=line,
                column=name,
            )
        seen[name] = j
    if all(_to_float(name) is not None for name in names):
        raise DataError(
            "the first line looks like data, not a header; add a first line that names the "
            "columns (for example x1,x2,label).",
            row=line,
        )
    if len(names) < 2:
        raise DataError(
            f"the header has one column ({names[0]!r}); a dataset needs at least one feature "
            "column and a target column, separated by commas (or semicolons, or tabs).",
            row=line,
        )
    return names


def _missing_error(line: int, column: str, cell: str) -> DataError:
    what = "an empty cell" if not cell.strip() else f"a missing value ({cell.strip()!r})"
    return DataError(
        f"{what}; DNN Studio does not fill in missing values. Remove the row or fill in a value.",
        row=line,
        column=column,
    )


def _feature_error(line: int, column: str, cell: str) -> DataError:
    if _is_missing(cell):
        return _missing_error(line, column, cell)
    value = _to_float(cell)
    if value is not None and math.isnan(value):
        return _missing_error(line, column, cell)
    if value is not None:
        return DataError(
            f"the value {cell.strip()!r} is infinite; features must be finite numbers.",
            row=line,
            column=column,
        )
    hint = ""
    stripped = cell.strip().lstrip("+-")
    if "," in stripped and _to_float(stripped.replace(",", ".", 1)) is not None:
        hint = " Write decimals with a point (1.5), not a comma (1,5)."
    return DataError(
        f"the value {cell.strip()!r} is not a number; feature columns must be numeric. Remove "
        f"the column, or encode it as numbers (one 0/1 column per category).{hint}",
        row=line,
        column=column,
    )


def _features(
    rows: list[list[str]], lines: list[int], names: list[str], columns: list[int]
) -> np.ndarray:
    """The feature cells as an ``(m, n_x)`` float64 array, or DataError at the first bad cell."""
    cells = [[row[j] for j in columns] for row in rows]
    try:
        # numpy converts each str with float(), so this fast path and the scan below agree.
        X = np.array(cells, dtype=np.float64)
    except ValueError:
        X = None
    if X is not None:
        finite = np.isfinite(X)
        if finite.all():
            return X.reshape(len(rows), len(columns))
        i, k = (int(v) for v in np.argwhere(~finite)[0])
        raise _feature_error(lines[i], names[columns[k]], cells[i][k])
    for i, row in enumerate(cells):
        for k, cell in enumerate(row):
            value = _to_float(cell)
            if value is None or not math.isfinite(value):
                raise _feature_error(lines[i], names[columns[k]], cell)
    # Unreachable: the fast path failed only because some cell is not a number.
    raise DataError("the feature columns could not be read as numbers.")


def _numeric_or_none(values: Sequence[str]) -> np.ndarray | None:
    out = np.empty(len(values), dtype=np.float64)
    for i, cell in enumerate(values):
        value = _to_float(cell)
        if value is None:
            return None
        out[i] = value
    return out


def _is_whole(values: np.ndarray) -> bool:
    return bool(np.all(np.isfinite(values)) and np.all(values == np.round(values)))


def suggest_task(values: Sequence[str] | Sequence[float] | np.ndarray) -> Task:
    """Guess what a target column asks for, so the GUI and CLI can offer the alternative.

    Parameters
    ----------
    values : sequence of str or float, or ndarray of shape (m,)
        The target column's cells (as text, as read from a CSV file, or numbers).

    Returns
    -------
    Task
        ``REGRESSION`` for numbers other than a few whole numbers; otherwise ``BINARY`` for two
        distinct values (or fewer) and ``MULTICLASS`` for more. Text labels are always classes.

    Notes
    -----
    Whole numbers with at most :data:`MAX_NUMERIC_CLASSES` distinct values (``0/1``, digits,
    ratings) are taken as class labels; a person who means them as quantities can ask for
    :attr:`Task.REGRESSION` explicitly.
    """
    array = np.asarray(values)
    numeric: np.ndarray | None
    if array.dtype.kind in "biuf":
        numeric = array.astype(np.float64).ravel()
    else:
        numeric = _numeric_or_none([str(v).strip() for v in array.ravel()])
    if numeric is not None and not (
        _is_whole(numeric) and len(np.unique(numeric)) <= MAX_NUMERIC_CLASSES
    ):
        return Task.REGRESSION
    n_distinct = len(np.unique(numeric if numeric is not None else array.astype(str)))
    return Task.BINARY if n_distinct <= 2 else Task.MULTICLASS


def _number_label(value: float) -> str:
    return str(int(value)) if value == int(value) else repr(float(value))


def _label_key(label: str) -> tuple[int, float, str]:
    # Numeric-looking labels sort as numbers ("2" before "10"), then text labels alphabetically.
    number = _to_float(label)
    if number is not None and math.isfinite(number):
        return (0, number, label)
    return (1, 0.0, label)


def _classes(
    labels: list[str], requested: Task | None, target: str
) -> tuple[np.ndarray, tuple[str, ...], Task]:
    class_names = tuple(sorted(set(labels), key=_label_key))
    if len(class_names) < 2:
        only = class_names[0] if class_names else ""
        raise DataError(
            f"every row has the same target value {only!r}; a classifier needs at least two "
            "classes.",
            column=target,
        )
    if len(class_names) == len(labels):
        raise DataError(
            f"every row has a different target value ({len(labels)} rows, {len(labels)} "
            "classes), so there is nothing to learn per class; is this an identifier column? "
            "Choose another target, or ask for regression if it is a quantity.",
            column=target,
        )
    if len(class_names) > MAX_CLASSES:
        raise DataError(
            f"the target has {len(class_names)} different values; DNN Studio classifies into at "
            f"most {MAX_CLASSES} classes. Choose another target, or ask for regression if it is "
            "a quantity.",
            column=target,
        )
    if requested is Task.BINARY and len(class_names) > 2:
        shown = ", ".join(repr(c) for c in class_names[:6])
        more = ", ..." if len(class_names) > 6 else ""
        raise DataError(
            f"binary classification needs exactly two classes, but the target has "
            f"{len(class_names)} ({shown}{more}).",
            column=target,
        )
    index = {name: i for i, name in enumerate(class_names)}
    y = np.array([index[label] for label in labels], dtype=np.int64)
    return y, class_names, Task.BINARY if len(class_names) == 2 else Task.MULTICLASS


def read_csv(
    path: str | os.PathLike[str],
    target: str | None = None,
    *,
    task: Task | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Dataset:
    """Read a CSV file with a header row into a :class:`Dataset`.

    Parameters
    ----------
    path : str or path-like
        The file. UTF-8 text (a byte-order mark is accepted), comma-separated; semicolons or
        tabs are recognised too. A name ending in ``.gz`` is decompressed first.
    target : str, optional
        Name of the column to predict; by default the last column. Every other column is a
        feature and must be numeric.
    task : Task, optional
        Force the task: :attr:`Task.REGRESSION` needs a numeric target; :attr:`Task.BINARY` or
        :attr:`Task.MULTICLASS` treat the target as class labels (the task returned is BINARY
        for two classes and MULTICLASS for more; BINARY with more than two classes is refused).
        By default :func:`suggest_task` decides.
    max_bytes : int, optional
        Largest file accepted, checked before anything is read (200 MB by default).

    Returns
    -------
    Dataset
        ``X`` of shape ``(m, n_x)`` float64 with the rows in file order; ``y`` of shape ``(m,)``:
        int64 class indices into ``class_names`` (sorted labels: numbers numerically, then text
        alphabetically) or float64 values for regression.

    Raises
    ------
    DataError
        For every problem with the file, naming the line (header = line 1) and/or column.
    """
    file = Path(path)
    data = _read_bytes(file, max_bytes)
    text = _decode(data)
    del data  # the text is all we need from here on; the bytes may be 200 MB
    if not text.strip():
        raise DataError("the file is empty; a CSV file needs a header line and data rows.")

    delimiter = _choose_delimiter(text)
    records = iter(_records(text, delimiter))
    header_line, header_fields = next(records, (0, []))
    if not header_fields:
        raise DataError("the file is empty; a CSV file needs a header line and data rows.")
    names = _parse_header(header_fields, header_line)

    if target is None:
        target_index = len(names) - 1
    elif target in names:
        target_index = names.index(target)
    else:
        raise DataError(
            f"there is no column named {target!r}; the columns are: {', '.join(names)}.",
            column=target,
        )
    target_name = names[target_index]

    feature_columns = [j for j in range(len(names)) if j != target_index]
    blocks: list[np.ndarray] = []
    labels: list[str] = []
    lines: list[int] = []
    chunk: list[list[str]] = []
    chunk_lines: list[int] = []
    for line, fields in records:
        if len(fields) != len(names):
            how = "more" if len(fields) > len(names) else "fewer"
            sep = _DELIMITER_NAMES[delimiter]
            raise DataError(
                f"this row has {len(fields)} fields but the header has {len(names)} ({how} "
                f"than the header; fields are separated by a {sep}; a text value that contains "
                f"a {sep} must be in double quotes).",
                row=line,
            )
        chunk.append(fields)
        chunk_lines.append(line)
        labels.append(fields[target_index].strip())
        lines.append(line)
        # Converting in blocks keeps the memory for cell strings small on big files.
        if len(chunk) == _CHUNK_ROWS:
            blocks.append(_features(chunk, chunk_lines, names, feature_columns))
            chunk, chunk_lines = [], []
    if chunk:
        blocks.append(_features(chunk, chunk_lines, names, feature_columns))

    if not lines:
        raise DataError("the file has a header line but no data rows.")
    if len(lines) < MIN_ROWS:
        raise DataError(
            f"the file has {len(lines)} data row{'s' if len(lines) != 1 else ''}; DNN Studio "
            f"needs at least {MIN_ROWS} to train, validate and test a network."
        )

    for i, label in enumerate(labels):
        if _is_missing(label):
            raise _missing_error(lines[i], target_name, label)
    numeric = _numeric_or_none(labels)
    if numeric is not None and not np.all(np.isfinite(numeric)):
        i = int(np.argmax(~np.isfinite(numeric)))
        if np.isnan(numeric[i]):
            raise _missing_error(lines[i], target_name, labels[i])
        raise DataError(
            f"the target value {labels[i]!r} is infinite; targets must be finite.",
            row=lines[i],
            column=target_name,
        )
    X = np.concatenate(blocks, axis=0)

    wanted = task if task is not None else suggest_task(labels)
    class_names: tuple[str, ...] = ()
    if wanted is Task.REGRESSION:
        if numeric is None:
            i = next(i for i, label in enumerate(labels) if _to_float(label) is None)
            raise DataError(
                f"the target value {labels[i]!r} is not a number, so {target_name!r} cannot be "
                "a regression target; predict it as classes instead.",
                row=lines[i],
                column=target_name,
            )
        y = numeric
        final_task = Task.REGRESSION
    else:
        if numeric is not None:
            # "1", "1.0" and " 1" are one class; name it the way a person would write it.
            labels = [_number_label(v) for v in numeric]
        y, class_names, final_task = _classes(labels, task, target_name)

    name = _display_name(file)
    kind = {
        Task.BINARY: "binary classification",
        Task.MULTICLASS: f"{len(class_names)}-class classification",
        Task.REGRESSION: "regression",
    }[final_task]
    return Dataset(
        name=name,
        X=np.ascontiguousarray(X),
        y=y,
        task=final_task,
        feature_names=tuple(names[j] for j in feature_columns),
        target_name=target_name,
        class_names=class_names,
        description=(
            f"Imported from {file.name}: {len(lines)} rows, {len(feature_columns)} features, "
            f"{kind} of {target_name!r}."
        ),
        source=f"CSV file {str(file)!r}",
    )
