from __future__ import annotations

import pytest

from balancedbio.atomic import atomic_dir, write_json, write_text


def test_write_text_replaces_atomically_and_cleans_up_on_error(tmp_path):
    dest = tmp_path / "out.txt"
    write_text(dest, "one")
    assert dest.read_text() == "one"
    with pytest.raises(KeyboardInterrupt):
        from balancedbio.atomic import atomic_path

        with atomic_path(dest) as tmp:
            tmp.write_text("half")
            raise KeyboardInterrupt
    assert dest.read_text() == "one"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]
    write_json(dest, {"b": 1, "a": 2})
    assert dest.read_text().startswith('{\n  "a": 2')


def test_atomic_dir(tmp_path):
    dest = tmp_path / "d"
    with atomic_dir(dest) as tmp:
        (tmp / "f").write_text("x")
        assert not dest.exists()
    assert (dest / "f").read_text() == "x"
    with pytest.raises(FileExistsError):
        with atomic_dir(dest):
            pass
    with pytest.raises(RuntimeError):
        with atomic_dir(dest, overwrite=True) as tmp:
            (tmp / "g").write_text("y")
            raise RuntimeError("crash")
    assert sorted(p.name for p in dest.iterdir()) == ["f"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d"]
    with atomic_dir(dest, overwrite=True) as tmp:
        (tmp / "g").write_text("y")
    assert sorted(p.name for p in dest.iterdir()) == ["g"]


def test_outputs_get_the_usual_permissions_not_private_temp_ones(tmp_path):
    import os
    import stat

    old = os.umask(0o022)
    try:
        write_json(tmp_path / "manifest.json", {"a": 1})
        with atomic_dir(tmp_path / "final") as tmp:
            (tmp / "w").write_text("x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "manifest.json").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "final").stat().st_mode) == 0o755


def test_atomic_dir_overwriting_a_file_leaves_nothing_aside(tmp_path):
    dest = tmp_path / "afile"
    dest.write_text("old")
    with atomic_dir(dest, overwrite=True) as tmp:
        (tmp / "f").write_text("new")
    assert (dest / "f").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]
