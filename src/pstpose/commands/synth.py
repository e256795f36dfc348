"""`pstpose synth`: generate a synthetic video pose dataset in the PoseTrack18 layout."""

from __future__ import annotations

import argparse
import time


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from pstpose.data.synthetic.presets import PRESETS

    parser.add_argument("out_dir", help="output folder (images/ and annotations/ are written inside)")
    parser.add_argument("--videos", type=int, default=8, help="train sequences (default 8)")
    parser.add_argument("--val-videos", type=int, default=None, help="val sequences (default max(1, videos // 4))")
    parser.add_argument("--frames", type=int, default=24, help="frames per sequence (default 24)")
    parser.add_argument("--height", type=int, default=288)
    parser.add_argument("--width", type=int, default=384)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--preset", default="standard", choices=sorted(PRESETS), help="difficulty preset")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (output does not depend on it)")
    parser.add_argument("--overwrite", action="store_true", help="write into a non-empty folder")
    parser.add_argument("--contact-sheet", default=None, metavar="PATH", help="also write a PNG contact sheet here")


def run(args: argparse.Namespace) -> int:
    from pstpose.commands import FRAME_SIDE, SEED, Limits, check_numbers
    from pstpose.data.synthetic import generate_dataset, make_contact_sheet
    from pstpose.data.synthetic.generate import MAX_FRAMES, MAX_VIDEOS

    check_numbers(
        args,
        {
            "videos": Limits(1, MAX_VIDEOS),
            "val_videos": Limits(0, MAX_VIDEOS),
            "frames": Limits(1, MAX_FRAMES),
            "height": FRAME_SIDE,
            "width": FRAME_SIDE,
            "seed": SEED,
            "workers": Limits(1, 64),
        },
    )
    from pstpose.io import check_output_files

    check_output_files({"--contact-sheet": args.contact_sheet})  # before the dataset, not after it

    start = time.perf_counter()
    summary = generate_dataset(
        args.out_dir,
        videos=args.videos,
        val_videos=args.val_videos,
        frames=args.frames,
        height=args.height,
        width=args.width,
        seed=args.seed,
        preset=args.preset,
        workers=args.workers,
        overwrite=args.overwrite,
    )
    elapsed = time.perf_counter() - start
    total = sum(summary["splits"][s]["frames"] for s in ("train", "val"))
    for split in ("train", "val"):
        sp = summary["splits"][split]
        print(
            f"{split:<5} {len(sp['sequences']):>4} videos {sp['frames']:>6} frames "
            f"{sp['labeled_frames']:>6} labeled {sp['annotations']:>7} persons"
        )
    print(
        f"preset {summary['preset']}: mean joint displacement {summary['mean_joint_displacement_px']:.2f} px/frame, "
        f"visible joints {100 * summary['visible_joint_fraction']:.1f}%"
    )
    print(f"{total} frames in {elapsed:.1f} s ({total / max(elapsed, 1e-9):.1f} frames/s) -> {args.out_dir}")
    if args.contact_sheet:
        path = make_contact_sheet(args.out_dir, args.contact_sheet)
        print(f"contact sheet -> {path}")
    return 0
