"""Exit 1 unless two wheels hold the same files with the same bytes (CI: sdist route vs direct).

Usage: python .ci/compare_wheels.py A.whl B.whl
"""

from __future__ import annotations

import hashlib
import sys
import zipfile


def contents(path: str) -> dict[str, str]:
    with zipfile.ZipFile(path) as wheel:
        return {
            name: hashlib.sha256(wheel.read(name)).hexdigest() for name in wheel.namelist() if not name.endswith("/")
        }


def main(a: str, b: str) -> int:
    left, right = contents(a), contents(b)
    only_left = sorted(set(left) - set(right))
    only_right = sorted(set(right) - set(left))
    changed = sorted(name for name in set(left) & set(right) if left[name] != right[name])
    for title, names in ((f"only in {a}", only_left), (f"only in {b}", only_right), ("different bytes", changed)):
        for name in names:
            print(f"{title}: {name}")
    if only_left or only_right or changed:
        return 1
    print(f"wheels identical: {len(left)} files")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
