import json
import os

import pytest

from pstpose.io import OutputError, atomic_open, write_bytes, write_json


def test_failed_write_leaves_nothing(tmp_path):
    target = tmp_path / "out.json"
    with pytest.raises(RuntimeError):
        with atomic_open(target) as fh:
            fh.write("{partial")
            raise RuntimeError("boom")
    assert not target.exists()
    assert os.listdir(tmp_path) == []


def test_write_json_replaces_atomically(tmp_path):
    target = tmp_path / "sub" / "out.json"
    write_json(target, {"a": 1})
    write_json(target, {"a": 2})
    assert json.loads(target.read_text()) == {"a": 2}
    assert os.listdir(target.parent) == ["out.json"]
    with pytest.raises(ValueError):
        write_json(target, {"a": float("nan")})
    assert json.loads(target.read_text()) == {"a": 2}


def test_unwritable_location_is_named(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OutputError, match="file"):
        write_json(blocker / "out.json", {})


def test_written_files_get_normal_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        write_json(tmp_path / "a.json", {})
        write_bytes(tmp_path / "b.jpg", b"\xff\xd8")
    finally:
        os.umask(old)
    assert (tmp_path / "a.json").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "b.jpg").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "b.jpg").read_bytes() == b"\xff\xd8" and len(list(tmp_path.iterdir())) == 2


def test_permissions_survive_a_writer_that_replaces_the_temporary_file(tmp_path):
    from pstpose.io import atomic_path

    old = os.umask(0o022)
    try:
        with atomic_path(tmp_path / "w.bin") as tmp:
            tmp.unlink()  # like a library that writes its own file under the given name
            fd = os.open(tmp, os.O_CREAT | os.O_WRONLY, 0o600)
            os.close(fd)
    finally:
        os.umask(old)
    assert (tmp_path / "w.bin").stat().st_mode & 0o777 == 0o644
