"""Run the official PoseTrack tool's tracking evaluation on pt18/ and pt17/ and store its numbers.

Usage (from this folder): ``python run_official.py POSEVAL_SRC [EXTRA_SITE_DIR]`` where
POSEVAL_SRC holds the ``poseval`` package of github.com/leonid-pishchulin/poseval (a checkout, or
``git archive`` output with the commit in the POSEVAL_COMMIT environment variable) and
EXTRA_SITE_DIR optionally holds packages it imports that the environment lacks (shapely).
motmetrics must be importable. Writes ``expected_official.json``.

Two runs per file set:

* ``official``: ``python -m poseval.evaluate -g GT/ -p PRED/ --evalPoseTracking -o OUT`` as is;
  the numbers are read back from the tool's own ``OUT/total_MOT_metrics.json`` (full precision),
  the printed table is stored too.
* ``matched_only_events``: the same tool with motmetrics' event table limited to the events
  CLEAR-MOT defines (MATCH, SWITCH, MISS, FP), which changes only MOTP: it then sums distances
  over matched pairs only.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from pstpose.keypoints import PT17_JOINT_NAMES

HERE = Path(__file__).resolve().parent
NAMES = list(PT17_JOINT_NAMES)  # the official tool's joint order


def _run(fmt: str, matched_only: bool) -> dict:
    import motmetrics as mm
    from poseval import evaluate

    if matched_only:
        full = mm.MOTAccumulator.events.fget
        mm.MOTAccumulator.events = property(
            lambda acc: full(acc)[full(acc).Type.isin(["MATCH", "SWITCH", "MISS", "FP"])]
        )
    out_dir = tempfile.mkdtemp()
    argv = ["poseval", "-g", f"{HERE / fmt / 'gt'}/", "-p", f"{HERE / fmt / 'pred'}/", "--evalPoseTracking"]
    sys.argv = [*argv, "-o", out_dir]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        evaluate.main()
    if matched_only:
        mm.MOTAccumulator.events = property(full)
    saved = json.loads((Path(out_dir) / "total_MOT_metrics.json").read_text())
    table = [line for line in printed.getvalue().splitlines() if line.startswith("&")]
    return {
        "per_joint": {m: dict(zip([*NAMES, "total"], saved[m])) for m in ("mota", "motp", "pre", "rec")},
        "printed_table": table,
    }


def main() -> None:
    sys.path[:0] = sys.argv[1:3]
    import motmetrics
    import numpy
    import pandas
    import shapely

    commit = subprocess.run(
        ["git", "-C", sys.argv[1], "rev-parse", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    result = {
        "command": "python -m poseval.evaluate -g {fmt}/gt/ -p {fmt}/pred/ --evalPoseTracking -o OUT",
        "poseval_commit": commit or os.environ.get("POSEVAL_COMMIT", "unknown"),
        "versions": {
            "motmetrics": motmetrics.__version__,
            "numpy": numpy.__version__,
            "pandas": pandas.__version__,
            "shapely": shapely.__version__,
            "python": sys.version.split()[0],
        },
        "joint_order": "PoseTrack17 ids 0..14, then total",
    }
    for fmt in ("pt18", "pt17"):
        result[fmt] = {"official": _run(fmt, False), "matched_only_events": _run(fmt, True)}
    (HERE / "expected_official.json").write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
