from __future__ import annotations

import pytest

from balancedbio.errors import DataError
from balancedbio.jsonl import check_jsonl, iter_jsonl


def test_iter_jsonl_skips_blank_lines_and_names_bad_lines(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"a": 1}\n\n[2]\n{"b": \n')
    rows = iter_jsonl(path)
    assert next(rows) == (1, {"a": 1})
    assert next(rows) == (3, [2])
    with pytest.raises(DataError, match=r"rows.jsonl:4: invalid JSON"):
        next(rows)
    with pytest.raises(DataError, match="^file not found: .*missing.jsonl$"):
        list(iter_jsonl(tmp_path / "missing.jsonl"))
    with pytest.raises(DataError, match="is a directory, expected a text file"):
        list(iter_jsonl(tmp_path))


def test_a_leading_bom_is_accepted_and_dropped(tmp_path):
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"a": 1}\r\n{"b": 2}\n')
    assert list(iter_jsonl(path)) == [(1, {"a": 1}), (2, {"b": 2})]
    assert check_jsonl(path) == 2
    # a BOM inside the file (two files concatenated) is not silently skipped: the row is named
    path.write_bytes(b'{"a": 1}\n\xef\xbb\xbf{"b": 2}\n')
    with pytest.raises(DataError, match=r"bom.jsonl:2: invalid JSON"):
        check_jsonl(path)


@pytest.mark.parametrize("payload, line", [
    (b'{"a": 1}\n{"b": "caf\xe9"}\n', 2),                   # Latin-1 text
    (b'{"a": 1}\n{"a": 2}\n\x89PNG\r\n\x1a\n\x00\x00', 3),  # a binary file renamed .jsonl
    (b"\x00\x01\x02\x03", 1),                               # NUL bytes are valid UTF-8 but not text
])
def test_non_utf8_is_one_line_naming_file_and_line(tmp_path, payload, line):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(payload)
    with pytest.raises(DataError, match=rf"bad.jsonl:{line}: not UTF-8 text") as info:
        check_jsonl(path)
    assert "\n" not in str(info.value)
