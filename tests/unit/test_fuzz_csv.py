"""Generated malformed CSV files: each one is imported correctly or refused with a
:class:`DataError`, in bounded time; nothing else is ever raised.

Files are built from a header and rows (ragged or not, quoted or not, numbers, text, NaN and
infinities, missing values, duplicated names, thousands of columns) and then damaged at the
byte level (BOMs, NUL bytes, bytes that are not UTF-8, UTF-16, cut short, lines doubled or
dropped, gzip that is not gzip). An import that succeeds is checked against the file's own
header and rows, so a wrong import fails as surely as a crash.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from dnnstudio.core.data.csv_import import MIN_ROWS, read_csv
from dnnstudio.core.data.dataset import Dataset, Task
from dnnstudio.core.errors import DataError

SECONDS_PER_FILE = 5.0
"""A file that takes longer than this is taken as a hang (the largest generated file reads in
well under a tenth of that)."""

FUZZ = settings(max_examples=650, derandomize=True, database=None, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.large_base_example])


class Hang(Exception):
    pass


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`Hang` in this (the main) thread if the block runs longer than ``seconds``."""

    def expired(signum: int, frame: object) -> None:
        raise Hang(f"still reading after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# -- generated files ---------------------------------------------------------------------------

CELLS = st.one_of(
    st.integers(-5, 5).map(str),
    st.floats(-1e6, 1e6, allow_nan=False).map(repr),
    st.sampled_from(["0", "1", "2", "-1", "0.5", "1e3", "1,5", "nan", "NaN", "inf", "-inf",
                     "Infinity", "", " ", "NA", "n/a", "?", "null", "None", "1e400",
                     "-1e400", "abc", "yes", "no", "１", "٣", "1_0", "0x10", "  3  ", '"',
                     '""', "a,b", "a;b", "a\tb", "a\nb", "é", "\u2028", "x" * 300]),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(max_size=6),
)
NAMES = st.one_of(
    st.sampled_from(["x1", "x2", "x3", "y", "label", "target", "x1", "", " ", "1", "2.5",
                     "nan", "a b", "é", "名前", '"q"', "a,b"]),
    st.text(max_size=5),
)


@st.composite
def tables(draw: st.DrawFn) -> tuple[list[str], list[list[str]]]:
    """A header and rows: mostly well-formed (numeric features, a target of classes, numbers,
    text, one class or identifiers), otherwise made of any cells at all."""
    wide = draw(st.integers(0, 19)) == 10
    # Hypothesis favours the ends of a range, so the rare choices sit in its middle.
    n_cols = draw(st.integers(1000, 3000)) if wide else draw(st.integers(2, 6))
    if draw(st.integers(0, 30)) == 15:
        n_cols = 1
    n_rows = draw(st.sampled_from([25, 60, MIN_ROWS]))
    if draw(st.integers(0, 3)) == 3:
        n_rows = draw(st.sampled_from([0, 1, 2, MIN_ROWS - 1, MIN_ROWS + 1]))
    if wide:
        n_rows = min(n_rows, MIN_ROWS + 2)
    clean = draw(st.integers(0, 2)) < 2
    if clean or wide:
        header = [f"f{j}" for j in range(n_cols - 1)] + [draw(st.sampled_from(["y", "label"]))]
        if draw(st.integers(0, 3)) == 3:
            i = draw(st.integers(0, n_cols - 1))
            header[i] = draw(NAMES)
    else:
        header = draw(st.lists(NAMES, min_size=n_cols, max_size=n_cols))
    kind = draw(st.sampled_from(["classes", "numbers", "text", "one class", "ids"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    rows = []
    for i in range(n_rows):
        if clean or wide:
            row = [repr(float(v)) for v in rng.standard_normal(n_cols - 1)]
            row.append({"classes": str(i % 3), "numbers": repr(float(rng.normal())),
                        "one class": "a", "ids": f"id{i}", "text": ["cat", "dog"][i % 2]}[kind])
        else:
            row = draw(st.lists(CELLS, min_size=n_cols, max_size=n_cols))
        rows.append(row)
    if rows and (not (clean or wide) or draw(st.integers(0, 4)) == 4):
        for _ in range(draw(st.integers(0, 3))):  # some cells replaced by anything
            i, j = draw(st.integers(0, max(0, n_rows - 1))), draw(st.integers(0, n_cols - 1))
            if rows:
                rows[i][j] = draw(CELLS)
    if rows and draw(st.integers(0, 5)) == 5:  # ragged
        i = draw(st.integers(0, n_rows - 1))
        rows[i] = rows[i][:-1] if draw(st.booleans()) else [*rows[i], draw(CELLS)]
    return header, rows


def _render(header: list[str], rows: list[list[str]], delimiter: str, quoted: bool,
            newline: str) -> str:
    if quoted:
        out = io.StringIO()
        writer = csv.writer(out, delimiter=delimiter, lineterminator=newline)
        writer.writerow(header)
        writer.writerows(rows)
        return out.getvalue()
    return "".join(delimiter.join(r) + newline for r in [header, *rows])


DAMAGE = st.sampled_from(["bom", "nul", "bad byte", "lone lead byte", "utf-16", "latin-1",
                          "cut", "double line", "drop line", "open quote", "blank lines",
                          "empty rows", "no newline at end", "huge field", "cr only"])


@st.composite
def files(draw: st.DrawFn) -> tuple[bytes, str]:
    """The bytes of a CSV file and its name's suffix."""
    if draw(st.integers(0, 24)) == 12:
        return draw(st.binary(max_size=300)), ".csv"
    header, rows = draw(tables())
    delimiter = draw(st.sampled_from([",", ",", ";", "\t"]))
    text = _render(header, rows, delimiter, draw(st.booleans()),
                   draw(st.sampled_from(["\n", "\r\n"])))
    data = text.encode("utf-8")
    damages = draw(st.lists(DAMAGE, min_size=1, max_size=2)) if draw(st.booleans()) else []
    for damage in damages:
        at = draw(st.integers(0, len(data)))
        if damage == "bom":
            data = codecs.BOM_UTF8 + data
        elif damage == "nul":
            data = data[:at] + b"\x00" + data[at:]
        elif damage == "bad byte":
            data = data[:at] + bytes([draw(st.integers(0x80, 0xFF))]) + data[at:]
        elif damage == "lone lead byte":
            data = data[:at] + b"\xc3" + data[at:]
        elif damage == "utf-16":
            data = data.decode("utf-8", "replace").encode("utf-16")
        elif damage == "latin-1":
            data = data.decode("utf-8", "replace").encode("latin-1", "replace") + b"\xe9"
        elif damage == "cut":
            data = data[:at]
        elif damage in ("double line", "drop line"):
            lines = data.splitlines(keepends=True)
            if lines:
                i = at % len(lines)
                lines[i:i + 1] = [lines[i]] * (2 if damage == "double line" else 0)
                data = b"".join(lines)
        elif damage == "open quote":
            data = data[:at] + b'"' + data[at:]
        elif damage == "blank lines":
            data = data[:at] + b"\n\n  \n" + data[at:]
        elif damage == "empty rows":
            data = data + delimiter.encode() * 3 + b"\n"
        elif damage == "no newline at end":
            data = data.rstrip(b"\r\n")
        elif damage == "huge field":  # beyond the csv module's 128 KiB field limit
            data = data[:at] + b"7" * 140_000 + data[at:]
        elif damage == "cr only":
            data = data.replace(b"\r\n", b"\r").replace(b"\n", b"\r")
    suffix = draw(st.sampled_from([".csv", ".tsv", ".csv.gz"]))
    if suffix == ".csv.gz":
        packed = gzip.compress(data, mtime=0)
        how = "whole" if draw(st.booleans()) else draw(st.sampled_from(["cut", "plain"]))
        data = packed if how == "whole" else packed[:len(packed) // 2] if how == "cut" else data
    return data, suffix


# -- what a correct import looks like ---------------------------------------------------------

def _check_dataset(ds: Dataset, target: str | None, task: Task | None) -> None:
    assert ds.X.dtype == np.float64
    assert ds.X.ndim == 2
    m, n_x = ds.X.shape
    assert m >= MIN_ROWS
    assert ds.y.shape == (m,)
    assert np.all(np.isfinite(ds.X))
    assert len(ds.feature_names) == n_x >= 1
    names = [*ds.feature_names, ds.target_name]
    assert len(set(names)) == len(names)
    assert all(name == name.strip() and name for name in names)
    if target is not None:
        assert ds.target_name == target
    if ds.task is Task.REGRESSION:
        assert task in (None, Task.REGRESSION)
        assert ds.y.dtype == np.float64
        assert np.all(np.isfinite(ds.y))
        assert ds.class_names == ()
    else:
        k = len(ds.class_names)
        assert 2 <= k < m  # at least two classes, and not one per row
        assert ds.y.dtype == np.int64
        assert set(np.unique(ds.y).tolist()) == set(range(k))  # every class is used
        assert (ds.task is Task.BINARY) == (k == 2)
        if task is Task.BINARY:
            assert k == 2


def _reference(data: bytes, suffix: str) -> tuple[list[str], list[list[str]]] | None:
    """The header and rows as Python's csv module reads the same text, when it can."""
    if suffix.endswith(".gz"):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError):
            return None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = ","
    try:
        rows = [r for r in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
                if any(c.strip() for c in r)]
    except csv.Error:
        return None
    return (rows[0], rows[1:]) if rows else None


def _check_against_rows(ds: Dataset, data: bytes, suffix: str) -> bool:
    """Every feature value is the float of its cell, row by row, when Python's csv module
    reads the file the same way (same header); False when it does not."""
    ref = _reference(data, suffix)
    if ref is None:
        return False
    header, rows = ref
    names = [h.strip() for h in header]
    if sorted(names) != sorted([*ds.feature_names, ds.target_name]) or len(rows) != len(ds.y):
        return False  # the sniffer chose another delimiter: no independent reading
    columns = [names.index(f) for f in ds.feature_names]
    expected = np.array([[float(row[j]) for j in columns] for row in rows])
    np.testing.assert_array_equal(ds.X, expected)
    t = names.index(ds.target_name)
    if ds.task is Task.REGRESSION:
        np.testing.assert_array_equal(ds.y, [float(row[t]) for row in rows])
    else:
        labels = [ds.class_names[i] for i in ds.y]
        for label, row in zip(labels, rows, strict=True):
            cell = row[t].strip()
            try:
                assert float(label) == float(cell)
            except ValueError:
                assert label == cell
    return True


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz_csv")


COUNTER = iter(range(10**9))


@FUZZ
@given(files(), st.sampled_from([None, None, None, "y", "label", "f0", "nope", ""]),
       st.sampled_from([None, None, None, Task.BINARY, Task.MULTICLASS, Task.REGRESSION]))
def test_every_file_is_imported_correctly_or_refused_with_a_data_error(
        folder: Path, file: tuple[bytes, str], target: str | None, task: Task | None) -> None:
    data, suffix = file
    path = folder / f"data{next(COUNTER)}{suffix}"
    path.write_bytes(data)
    started = time.monotonic()
    error: DataError | None = None
    try:
        with time_limit(SECONDS_PER_FILE):
            ds = read_csv(path, target, task=task)
    except DataError as exc:
        error = exc
    finally:
        path.unlink()
    assert time.monotonic() - started < SECONDS_PER_FILE
    if error is not None:
        assert str(error)
        assert "\n" not in str(error)
        assert error.row is None or error.row >= 1
        event("refused")
        return
    _check_dataset(ds, target, task)
    if _check_against_rows(ds, data, suffix):
        event("imported, and every value equals the csv module's reading")
    event(f"imported ({ds.task.value})")


# -- the named cases of the issue, one by one ----------------------------------------------------

def _rows(n: int, target: Any = lambda i: i % 2) -> str:
    return "".join(f"{i * 0.5},{-i},{target(i)}\n" for i in range(n))


@pytest.mark.parametrize(
    ("content", "target", "needle"),
    [
        (b"", None, "empty"),
        (b"x1,x2,y\n", None, "no data rows"),
        (b"x1,x2,y\n1,2,0\n", None, "1 data row;"),
        (("x1,x2,y\n" + _rows(20, lambda i: "a")).encode(), None, "same target value"),
        (("x1,x2,y\n" + _rows(20)).encode(), "z", "no column named 'z'"),
        (("x1,x1,y\n" + _rows(20)).encode(), None, "two columns named 'x1'"),
        (("x1,x2,y\n" + _rows(5) + "1,2\n" + _rows(5)).encode(), None, "line 7"),
        (("x1,x2,y\n" + _rows(5) + '1,"2,0\n' + _rows(5)).encode(), None, "unclosed quote"),
        (("x1,x2,y\n" + _rows(5) + "1,\x00,0\n").encode(), None, "NUL byte"),
        (("x1,x2,y\n" + _rows(5)).encode() + b"\xff,1,0\n", None, "not UTF-8"),
        (("x1,x2,y\n" + _rows(5) + "nan,1,0\n" + _rows(5)).encode(), None, "missing value"),
        (("x1,x2,y\n" + _rows(5) + "inf,1,0\n" + _rows(5)).encode(), None, "infinite"),
        (("x1,x2,y\n" + _rows(20, lambda i: "inf" if i == 3 else i)).encode(), None,
         "infinite"),
        ("x1,x2,y\n".encode("utf-16") + _rows(20).encode("utf-16"), None, "NUL byte"),
        (("x1,x2,y\n" + _rows(20, lambda i: f"id{i}")).encode(), None, "identifier"),
    ],
)
def test_named_malformed_files_get_a_clear_message(tmp_path: Path, content: bytes,
                                                   target: str | None, needle: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(DataError) as caught:
        read_csv(path, target)
    assert needle in str(caught.value)


def test_bom_quotes_and_semicolons_import_correctly(tmp_path: Path) -> None:
    text = 'x 1;"x;2";label\r\n' + "".join(f'{i}.5;"{-i}";"c{i % 3}"\r\n' for i in range(12))
    path = tmp_path / "excel.csv"
    path.write_bytes(codecs.BOM_UTF8 + text.encode("utf-8"))
    ds = read_csv(path)
    assert ds.feature_names == ("x 1", "x;2")
    assert ds.class_names == ("c0", "c1", "c2")
    assert ds.X[3].tolist() == [3.5, -3.0]
    assert ds.y[:4].tolist() == [0, 1, 2, 0]


def test_thousands_of_columns_import_correctly(tmp_path: Path) -> None:
    n = 3000
    rng = np.random.default_rng(1)
    X = rng.integers(-50, 50, size=(12, n))
    lines = [",".join([*(f"c{j}" for j in range(n)), "y"])]
    lines += [",".join([*map(str, row), str(i % 2)]) for i, row in enumerate(X)]
    path = tmp_path / "wide.csv"
    path.write_text("\n".join(lines), encoding="utf-8")
    with time_limit(SECONDS_PER_FILE):
        ds = read_csv(path)
    np.testing.assert_array_equal(ds.X, X.astype(np.float64))
    assert ds.task is Task.BINARY


@pytest.mark.parametrize("name", ["fifo", "dev-zero", "folder", "missing", "symlink-to-zero"])
def test_what_is_not_a_file_is_refused_at_once(tmp_path: Path, name: str) -> None:
    path = tmp_path / "data.csv"
    if name == "fifo":
        os.mkfifo(path)  # opening it would wait for a writer forever
    elif name == "dev-zero":
        path = Path("/dev/zero")  # reading it never ends
    elif name == "folder":
        path.mkdir()
    elif name == "symlink-to-zero":
        path.symlink_to("/dev/zero")
    with time_limit(SECONDS_PER_FILE), pytest.raises(DataError) as caught:
        read_csv(path)
    assert str(path) in str(caught.value)


def test_a_file_over_the_limit_is_refused_without_reading_it(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    path.write_bytes(b"x,y\n" + b"1,0\n" * 5000)
    with pytest.raises(DataError, match="the file is 19.5 KB"):
        read_csv(path, max_bytes=10_000)
    bomb = tmp_path / "bomb.csv.gz"
    bomb.write_bytes(gzip.compress(b"x,y\n" + b"1,0\n" * 250_000))  # 1 MB inflated
    with pytest.raises(DataError, match="decompressed file is larger than"):
        read_csv(bomb, max_bytes=100_000)


def test_odd_numbers_are_read_as_python_reads_them(tmp_path: Path) -> None:
    # Unicode digits and underscores are numbers to float(), which the reader follows.
    rows = "".join(f"{d},{i % 2}\n" for i, d in enumerate(["１", "٣", "1_0", " 4 "] * 3))
    path = tmp_path / "odd.csv"
    path.write_text("x,y\n" + rows, encoding="utf-8")
    assert read_csv(path).X[:4, 0].tolist() == [1.0, 3.0, 10.0, 4.0]


def test_a_semicolon_file_is_read_as_one_despite_blank_or_short_lines(tmp_path: Path) -> None:
    # Found by the generator above: a line of spaces (which the reader skips) or one short
    # row made the delimiter fall back to a comma, and the file was refused as having a
    # one-column header 'f0;f1;y'.
    rows = "".join(f"{i};{-i};{i % 2}\n" for i in range(12))
    path = tmp_path / "semicolons.csv"
    path.write_text("f0;f1;y\n   \n" + rows, encoding="utf-8")
    assert read_csv(path).feature_names == ("f0", "f1")
    path.write_text("f0;f1;y\n1;2\n" + rows, encoding="utf-8")
    with pytest.raises(DataError, match="line 2: this row has 2 fields but the header has 3"):
        read_csv(path)
