"""pstpose.inputs: the limits and messages every reader of a user's file goes through."""

from __future__ import annotations

import json
import os

import pytest
import yaml

from pstpose.inputs import (
    InputFileError,
    _expanded_size,
    check_regular_file,
    decode_json,
    decode_text,
    load_yaml_text,
    read_bytes,
    read_json,
)


def test_expanded_size_counts_each_use_of_an_alias():
    # The root mapping counts 1 (keys are not counted, values are); a = [1, 2] counts 3 (the list
    # and its items); b = [*a, *a] counts 1 + 3 + 3 = 7, since each use of the alias counts.
    data = yaml.safe_load("a: &a [1, 2]\nb: [*a, *a]\n")
    assert _expanded_size(data, cap=1000) == 1 + 3 + 7
    assert _expanded_size(data, cap=5) == 6  # counting stops just past the cap


def test_expanded_size_by_brute_force_on_random_trees():
    import random

    def brute(node):  # walks every use: exponential on bombs, fine on small trees
        if isinstance(node, dict):
            return 1 + sum(brute(v) for v in node.values())
        if isinstance(node, list):
            return 1 + sum(brute(v) for v in node)
        return 1

    rng = random.Random(0)
    for _ in range(50):
        shared = [rng.randint(0, 9) for _ in range(rng.randint(0, 4))]
        tree = {f"k{i}": (shared if rng.random() < 0.5 else [rng.random(), [shared, shared]]) for i in range(5)}
        assert _expanded_size(tree, cap=10**6) == brute(tree)


def test_alias_bomb_and_self_reference_are_refused_quickly():
    lines = ["l0: &l0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]" for i in range(1, 9)]
    with pytest.raises(InputFileError, match=r"cfg\.yaml: YAML expands to more than"):
        load_yaml_text("\n".join(lines), "cfg.yaml")
    with pytest.raises(InputFileError, match="expands"):
        load_yaml_text("a: &a [*a]", "cfg.yaml")
    assert load_yaml_text("a: &a [1]\nb: *a", "cfg.yaml") == {"a": [1], "b": [1]}


def test_deep_json_and_yaml_are_refused_not_overflowed():
    with pytest.raises(InputFileError, match=r"f\.json: JSON nested"):
        decode_json(b"[" * 100_000 + b"]" * 100_000, "f.json")
    with pytest.raises(InputFileError, match="more than 64 levels"):
        decode_json(b"[" * 80 + b"]" * 80, "f.json")
    assert decode_json(b"[" * 10 + b"]" * 10, "f.json") == [[[[[[[[[[]]]]]]]]]]
    with pytest.raises(InputFileError, match=r"c\.yaml: YAML nested"):
        load_yaml_text("[" * 5000 + "]" * 5000, "c.yaml")


def test_text_encoding_messages_name_the_byte_and_the_file():
    assert decode_text(b"\xef\xbb\xbfhello", "f.txt") == "hello"  # a BOM is dropped
    with pytest.raises(InputFileError, match=r"f\.txt: not UTF-8 text: byte 0xfd at position 3"):
        decode_text(b"abc\xfd", "f.txt")
    with pytest.raises(InputFileError, match="looks like UTF-16"):
        decode_text("{}".encode("utf-16"), "f.txt")
    assert decode_json(b'\xef\xbb\xbf{"a": 1}', "f.json") == {"a": 1}
    with pytest.raises(InputFileError, match=r"f\.json: empty file"):
        decode_json(b"  ", "f.json")
    with pytest.raises(InputFileError, match=r"f\.json: not valid JSON \(.* at line 1, column 2\)"):
        decode_json(b"{x}", "f.json")


def test_non_regular_files_are_refused_before_any_read(tmp_path):
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    with pytest.raises(InputFileError, match="pipe.json: not a regular file"):
        read_json(fifo)  # would block forever if opened
    with pytest.raises(InputFileError, match="is a folder"):
        check_regular_file(tmp_path)
    (tmp_path / "link.json").symlink_to(tmp_path / "gone.json")
    with pytest.raises(InputFileError, match="broken symbolic link"):
        read_json(tmp_path / "link.json")
    with pytest.raises(FileNotFoundError, match="nope.json: no such"):
        read_json(tmp_path / "nope.json")


def test_size_limit_is_stated(tmp_path):
    path = tmp_path / "big.json"
    path.write_text(json.dumps(list(range(1000))))
    with pytest.raises(InputFileError, match="over the limit"):
        read_bytes(path, "file", max_bytes=100)
    assert read_json(path) == list(range(1000))
