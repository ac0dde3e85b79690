"""read_csv: correct imports, and one clear DataError (with line and column) per malformed file."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dnnstudio.core.data import MIN_ROWS, Task, read_csv, suggest_task
from dnnstudio.core.errors import DataError

HEADER = "x1,x2,label\n"


def _rows(n: int = 12, labels: tuple[str, ...] = ("a", "b")) -> list[str]:
    return [f"{i},{i * 0.5},{labels[i % len(labels)]}\n" for i in range(n)]


def _write(tmp_path: Path, content: str | bytes, name: str = "data.csv") -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8", newline="")
    else:
        path.write_bytes(content)
    return path


def _error(path: Path, **kwargs: object) -> DataError:
    with pytest.raises(DataError) as info:
        read_csv(path, **kwargs)  # type: ignore[arg-type]
    return info.value


# ---------------------------------------------------------------------------------------------
# Correct files


def test_quoted_fields_string_labels_and_crlf(tmp_path: Path) -> None:
    lines = ['"width","height, cm",species\r\n']
    expected_labels = []
    for i in range(12):
        label = "iris, wild" if i % 3 == 0 else ("rose" if i % 3 == 1 else "daisy")
        lines.append(f'"{i}.5",{i * 2},"{label}"\r\n')
        expected_labels.append(label)
    ds = read_csv(_write(tmp_path, "".join(lines), "flowers.csv"))

    assert ds.name == "flowers"
    assert ds.feature_names == ("width", "height, cm")
    assert ds.target_name == "species"
    assert ds.task is Task.MULTICLASS
    assert ds.class_names == ("daisy", "iris, wild", "rose")
    assert ds.X.dtype == np.float64
    assert ds.X.shape == (12, 2)
    np.testing.assert_array_equal(ds.X[:, 0], np.arange(12) + 0.5)
    np.testing.assert_array_equal(ds.X[:, 1], np.arange(12) * 2.0)
    assert ds.y.dtype == np.int64
    assert [ds.class_names[k] for k in ds.y] == expected_labels


def test_utf8_bom_is_accepted_and_not_part_of_the_first_name(tmp_path: Path) -> None:
    rows = "".join(f"{i},{'ja' if i % 2 else 'nein'}\n" for i in range(12))
    content = "\ufeff" + "höhe,label\n" + rows
    ds = read_csv(_write(tmp_path, content))
    assert ds.feature_names == ("höhe",)
    assert ds.class_names == ("ja", "nein")
    assert ds.task is Task.BINARY


def test_target_chosen_by_name_leaves_the_other_columns_as_features(tmp_path: Path) -> None:
    content = "a,label,b\n" + "".join(f"{i},{i % 2},{-i}\n" for i in range(12))
    ds = read_csv(_write(tmp_path, content), "label")
    assert ds.feature_names == ("a", "b")
    assert ds.target_name == "label"
    np.testing.assert_array_equal(ds.X[:, 1], -np.arange(12.0))
    np.testing.assert_array_equal(ds.y, np.arange(12) % 2)
    assert ds.class_names == ("0", "1")


def test_numeric_labels_sort_numerically(tmp_path: Path) -> None:
    values = [2, 10, 1] * 4
    content = "x,digit\n" + "".join(f"{i},{v}\n" for i, v in enumerate(values))
    ds = read_csv(_write(tmp_path, content))
    assert ds.class_names == ("1", "2", "10")
    assert ds.task is Task.MULTICLASS
    np.testing.assert_array_equal(ds.y, [{1: 0, 2: 1, 10: 2}[v] for v in values])


def test_whole_numbers_written_as_floats_are_one_class(tmp_path: Path) -> None:
    values = ["1", "1.0", " 0", "0.0"] * 3
    content = "x,y\n" + "".join(f"{i},{v}\n" for i, v in enumerate(values))
    ds = read_csv(_write(tmp_path, content))
    assert ds.class_names == ("0", "1")
    np.testing.assert_array_equal(ds.y, [1, 1, 0, 0] * 3)


def test_float_target_is_regression(tmp_path: Path) -> None:
    prices = [100.5 + 3.25 * i for i in range(12)]
    content = "rooms,area,price\n" + "".join(
        f"{i % 4},{50 + i},{p}\n" for i, p in enumerate(prices)
    )
    ds = read_csv(_write(tmp_path, content))
    assert ds.task is Task.REGRESSION
    assert ds.class_names == ()
    assert ds.y.dtype == np.float64
    np.testing.assert_allclose(ds.y, prices)


def test_many_distinct_integers_are_regression(tmp_path: Path) -> None:
    content = "x,count\n" + "".join(f"{i},{i * 7}\n" for i in range(30))
    assert read_csv(_write(tmp_path, content)).task is Task.REGRESSION


def test_integer_target_can_be_forced_to_regression(tmp_path: Path) -> None:
    content = "x,stars\n" + "".join(f"{i},{1 + i % 5}\n" for i in range(15))
    path = _write(tmp_path, content)
    assert read_csv(path).task is Task.MULTICLASS
    ds = read_csv(path, task=Task.REGRESSION)
    assert ds.task is Task.REGRESSION
    assert ds.y.dtype == np.float64
    np.testing.assert_array_equal(ds.y, [1 + i % 5 for i in range(15)])


def test_float_target_can_be_forced_to_classes(tmp_path: Path) -> None:
    values = [0.5, 1.5, 2.5] * 4
    content = "x,dose\n" + "".join(f"{i},{v}\n" for i, v in enumerate(values))
    path = _write(tmp_path, content)
    assert read_csv(path).task is Task.REGRESSION
    ds = read_csv(path, task=Task.MULTICLASS)
    assert ds.task is Task.MULTICLASS
    assert ds.class_names == ("0.5", "1.5", "2.5")


def test_semicolon_and_tab_delimiters(tmp_path: Path) -> None:
    for delimiter in (";", "\t"):
        content = delimiter.join(["a", "b", "label"]) + "\n" + "".join(
            delimiter.join([str(i), str(i + 0.5), "yes" if i % 2 else "no"]) + "\n"
            for i in range(12)
        )
        ds = read_csv(_write(tmp_path, content))
        assert ds.feature_names == ("a", "b")
        np.testing.assert_array_equal(ds.X[:, 1], np.arange(12) + 0.5)


def test_blank_lines_are_skipped_and_line_numbers_stay_physical(tmp_path: Path) -> None:
    # line 1 header, 2 blank, 3-14 rows, 15 blank, 16 bad
    content = HEADER + "\n" + "".join(_rows(12)) + "\n" + "1,oops,a\n"
    err = _error(_write(tmp_path, content))
    assert err.row == 16
    assert err.column == "x2"


def test_multi_line_quoted_field_counts_its_lines(tmp_path: Path) -> None:
    rows = _rows(12)
    rows[0] = '0,0,"two\nlines"\n'  # occupies lines 2 and 3
    content = HEADER + "".join(rows) + "5,x,a\n"  # line 2 + 13 lines = line 15
    err = _error(_write(tmp_path, content))
    assert err.row == 15


def test_gzip_file_is_read(tmp_path: Path) -> None:
    data = gzip.compress((HEADER + "".join(_rows(12))).encode())
    ds = read_csv(_write(tmp_path, data, "small.csv.gz"))
    assert ds.name == "small"
    assert ds.X.shape == (12, 2)


# ---------------------------------------------------------------------------------------------
# Malformed files: one DataError each, naming the line and/or column


def test_unknown_target_names_the_available_columns(tmp_path: Path) -> None:
    err = _error(_write(tmp_path, HEADER + "".join(_rows())), target="Label")
    assert err.column == "Label"
    assert "x1, x2, label" in str(err)


def test_non_numeric_feature_names_line_and_column(tmp_path: Path) -> None:
    rows = _rows(12)
    rows[3] = "3,red,a\n"  # line 5
    err = _error(_write(tmp_path, HEADER + "".join(rows)))
    assert (err.row, err.column) == (5, "x2")
    message = str(err)
    assert message.startswith("line 5, column 'x2': ")
    assert "'red'" in message
    assert "remove" in message.lower()
    assert "encode" in message.lower()


def test_decimal_comma_gets_a_hint(tmp_path: Path) -> None:
    content = "a;b;label\n" + "".join(f"{i};{i},5;{'p' if i % 2 else 'q'}\n" for i in range(12))
    err = _error(_write(tmp_path, content))
    assert (err.row, err.column) == (2, "b")
    assert "point" in str(err)


@pytest.mark.parametrize(("fields", "how"), [("1,2,a,9", "more"), ("1,2", "fewer")])
def test_ragged_rows(tmp_path: Path, fields: str, how: str) -> None:
    rows = _rows(12)
    rows[6] = fields + "\n"  # line 8
    err = _error(_write(tmp_path, HEADER + "".join(rows)))
    assert err.row == 8
    assert how in str(err)
    assert "header has 3" in str(err)


@pytest.mark.parametrize("cell", ["", "NA", "nan", "NaN", " ", "?"])
def test_missing_feature_values(tmp_path: Path, cell: str) -> None:
    rows = _rows(12)
    rows[9] = f"{cell},1,a\n"  # line 11
    err = _error(_write(tmp_path, HEADER + "".join(rows)))
    assert (err.row, err.column) == (11, "x1")
    assert "missing" in str(err) or "empty" in str(err)


@pytest.mark.parametrize("cell", ["", "NA", "nan"])
def test_missing_target_values(tmp_path: Path, cell: str) -> None:
    rows = _rows(12)
    rows[2] = f"1,1,{cell}\n"  # line 4
    err = _error(_write(tmp_path, HEADER + "".join(rows)))
    assert (err.row, err.column) == (4, "label")


@pytest.mark.parametrize("cell", ["inf", "-Infinity", "1e999"])
def test_infinite_feature_values(tmp_path: Path, cell: str) -> None:
    rows = _rows(12)
    rows[0] = f"1,{cell},a\n"  # line 2
    err = _error(_write(tmp_path, HEADER + "".join(rows)))
    assert (err.row, err.column) == (2, "x2")
    assert "infinite" in str(err)


def test_infinite_regression_target(tmp_path: Path) -> None:
    content = "x,y\n" + "".join(f"{i},{i + 0.5}\n" for i in range(11)) + "3,inf\n"
    err = _error(_write(tmp_path, content))
    assert (err.row, err.column) == (13, "y")


@pytest.mark.parametrize("content", ["", "   \n\n", "\ufeff"])
def test_empty_file(tmp_path: Path, content: str) -> None:
    assert "empty" in str(_error(_write(tmp_path, content)))


def test_header_only(tmp_path: Path) -> None:
    assert "no data rows" in str(_error(_write(tmp_path, HEADER)))


def test_too_few_rows(tmp_path: Path) -> None:
    err = _error(_write(tmp_path, HEADER + "".join(_rows(MIN_ROWS - 1))))
    assert f"{MIN_ROWS - 1} data rows" in str(err)
    assert str(MIN_ROWS) in str(err)
    read_csv(_write(tmp_path, HEADER + "".join(_rows(MIN_ROWS))))  # the minimum itself is fine


def test_duplicated_header_names(tmp_path: Path) -> None:
    err = _error(_write(tmp_path, "x1,x2,x1,label\n" + "".join("1,2,3,a\n" for _ in range(12))))
    assert (err.row, err.column) == (1, "x1")
    assert "columns 1 and 3" in str(err)


def test_empty_header_name(tmp_path: Path) -> None:
    err = _error(_write(tmp_path, "x1,,label\n" + "".join(_rows())))
    assert (err.row, err.column) == (1, "2")
    assert "no name" in str(err)


def test_numeric_first_line_is_not_taken_as_a_header(tmp_path: Path) -> None:
    err = _error(_write(tmp_path, "".join(f"{i},{i},{i % 2}\n" for i in range(12))))
    assert err.row == 1
    assert "header" in str(err)


def test_single_column_file(tmp_path: Path) -> None:
    err = _error(_write(tmp_path, "label\n" + "".join(f"{i % 2}\n" for i in range(12))))
    assert err.row == 1
    assert "at least one feature" in str(err)


def test_single_class(tmp_path: Path) -> None:
    err = _error(_write(tmp_path, HEADER + "".join(_rows(12, labels=("only",)))))
    assert err.column == "label"
    assert "at least two classes" in str(err)


def test_identifier_column_as_target(tmp_path: Path) -> None:
    content = "x,customer\n" + "".join(f"{i},C{i:04d}\n" for i in range(12))
    err = _error(_write(tmp_path, content))
    assert err.column == "customer"
    assert "identifier" in str(err)


def test_too_many_classes(tmp_path: Path) -> None:
    content = "x,code\n" + "".join(f"{i},k{i % 1001}\n" for i in range(2002))
    err = _error(_write(tmp_path, content))
    assert "1001 different values" in str(err)
    assert "1000" in str(err)


def test_binary_requested_for_three_classes(tmp_path: Path) -> None:
    path = _write(tmp_path, HEADER + "".join(_rows(12, labels=("a", "b", "c"))))
    err = _error(path, task=Task.BINARY)
    assert "two classes" in str(err)
    assert "3" in str(err)


def test_regression_requested_for_text_target(tmp_path: Path) -> None:
    rows = [f"{i},{i},{i * 1.5}\n" for i in range(12)]
    rows[7] = "7,7,high\n"  # line 9
    err = _error(_write(tmp_path, HEADER + "".join(rows)), task=Task.REGRESSION)
    assert (err.row, err.column) == (9, "label")
    assert "not a number" in str(err)


def test_invalid_utf8_names_the_line(tmp_path: Path) -> None:
    rows = [r.encode() for r in _rows(12)]
    rows[2] = "2,1,caf\u00e9\n".encode("latin-1")  # line 4
    err = _error(_write(tmp_path, HEADER.encode() + b"".join(rows)))
    assert err.row == 4
    assert "UTF-8" in str(err)


def test_nul_byte_names_the_line(tmp_path: Path) -> None:
    rows = [r.encode() for r in _rows(12)]
    rows[4] = b"4,1\x00,a\n"  # line 6
    err = _error(_write(tmp_path, HEADER.encode() + b"".join(rows)))
    assert err.row == 6
    assert "NUL" in str(err)


def test_utf16_file_is_refused_clearly(tmp_path: Path) -> None:
    err = _error(_write(tmp_path, (HEADER + "".join(_rows())).encode("utf-16")))
    assert "UTF" in str(err)


def test_unclosed_quote(tmp_path: Path) -> None:
    rows = _rows(12)
    rows[10] = '10,"5,a\n'  # line 12, never closed
    err = _error(_write(tmp_path, HEADER + "".join(rows)))
    assert err.row == 12
    assert "quote" in str(err)


def test_huge_field_is_a_data_error(tmp_path: Path) -> None:
    rows = _rows(12)
    rows[1] = "1,2," + "z" * 300_000 + "\n"  # line 3
    err = _error(_write(tmp_path, HEADER + "".join(rows)))
    assert err.row == 3


def test_file_larger_than_the_limit_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "huge.csv"
    with path.open("wb") as f:
        f.truncate(2 * 2**30)  # sparse: no data is written
    err = _error(path)
    assert "the file is 2.0 GB; DNN Studio reads CSV files up to 200 MB" in str(err)


def test_max_bytes_applies_to_a_small_file_too(tmp_path: Path) -> None:
    path = _write(tmp_path, HEADER + "".join(_rows(12)))
    assert "up to 100 bytes" in str(_error(path, max_bytes=100))


def test_max_bytes_applies_to_decompressed_gzip(tmp_path: Path) -> None:
    text = HEADER + "".join(_rows(5000))
    path = _write(tmp_path, gzip.compress(text.encode()), "big.csv.gz")
    assert os.stat(path).st_size < 50_000 < len(text)
    assert "decompressed" in str(_error(path, max_bytes=50_000))


def test_corrupt_gzip(tmp_path: Path) -> None:
    assert "gzip" in str(_error(_write(tmp_path, b"not gzip at all", "x.csv.gz")))


def test_directory_and_missing_file(tmp_path: Path) -> None:
    assert "folder" in str(_error(tmp_path))
    assert "no file" in str(_error(tmp_path / "absent.csv"))


def test_message_prefix_names_line_and_column() -> None:
    # The GUI shows str(error) as it is, so the location must be part of the text.
    assert str(DataError("bad", row=3, column="x")) == "line 3, column 'x': bad"


# ---------------------------------------------------------------------------------------------
# Never any exception but DataError, never a hang

_CSV_ALPHABET = st.sampled_from(list('0123456789.,;\t\n\r"- aeNn?inf\x00\xe9'))


@settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.binary(max_size=300) | st.text(_CSV_ALPHABET, max_size=300).map(str.encode))
def test_arbitrary_bytes_give_a_dataset_or_a_data_error(
    tmp_path_factory: pytest.TempPathFactory, content: bytes
) -> None:
    path = tmp_path_factory.getbasetemp() / "fuzz.csv"
    path.write_bytes(content)
    try:
        ds = read_csv(path)
    except DataError:
        return
    assert ds.X.shape[0] == ds.y.shape[0] >= MIN_ROWS
    assert np.all(np.isfinite(ds.X))


# ---------------------------------------------------------------------------------------------
# suggest_task


@pytest.mark.parametrize(
    ("values", "task"),
    [
        (["0", "1", "1", "0"], Task.BINARY),
        (["cat", "dog", "cat"], Task.BINARY),
        (["a", "b", "c"], Task.MULTICLASS),
        ([str(d) for d in range(10)], Task.MULTICLASS),
        (["1.0", "2.0", "3.0"], Task.MULTICLASS),
        (["0.5", "1", "2"], Task.REGRESSION),
        ([str(i) for i in range(21)], Task.REGRESSION),
        ([str(i) for i in range(20)], Task.MULTICLASS),
        (["1", "2", "x"], Task.MULTICLASS),
        (np.array([0.25, 0.5]), Task.REGRESSION),
        (np.array([3, 7, 3]), Task.BINARY),
    ],
)
def test_suggest_task(values: list[str] | np.ndarray, task: Task) -> None:
    assert suggest_task(values) is task
