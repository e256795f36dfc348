"""`pstpose ablate`: a tiny study runs, resumes without redoing finished runs, and summarises."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from pstpose.cli import main
from pstpose.engine import ablation

BASE = {
    "model": {
        "preset": "tiny",
        "image_size": [64, 48],
        "fcg": {"num_clusters": 8, "knn": 3},
    },
    "data": {"format": "pt18", "heatmap_size": [16, 12]},
    "train": {
        "epochs": 1,
        "batch_size": 4,
        "lr": 1.0e-3,
        "milestones": [1],
        "warmup_iters": 1,
        "workers": 0,
        "device": "cpu",
        "log_every": 1,
    },
}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("study_data") / "ds"
    assert main(["synth", str(root), "--videos", "1", "--val-videos", "1", "--frames", "4", "--seed", "3"]) == 0
    return root


def _study(tmp_path: Path, dataset: Path, **extra) -> Path:
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(BASE))
    study = {
        "name": "tiny-study",
        "base": str(tmp_path / "base.yaml"),
        "out": str(tmp_path / "study"),
        "data": {"train": str(dataset), "tests": {"standard": str(dataset)}},
        "variants": {"full": {}, "no-dsf": {"model.dsf.enabled": False}},
        "seeds": [0, 1],
        **extra,
    }
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(study))
    return path


def test_study_runs_resumes_and_summarises(tmp_path, dataset, monkeypatch, capsys):
    path = _study(tmp_path, dataset)
    assert main(["ablate", str(path), "--only", "full"]) == 0
    study = ablation.load_study(path)
    done = {v: [(study.run_dir(v, s) / "results.json").exists() for s in (0, 1)] for v in ("full", "no-dsf")}
    assert done == {"full": [True, True], "no-dsf": [False, False]}
    first = json.loads((study.run_dir("full", 0) / "results.json").read_text())
    assert first["variant"] == "full" and first["seed"] == 0
    assert 0.0 <= first["tests"]["standard"]["ap"]["Mean"] <= 100.0
    assert first["config"]["train"]["seed"] == 0 and first["config"]["data"]["root"] == str(dataset)
    stamps = {s: (study.run_dir("full", s) / "results.json").stat().st_mtime_ns for s in (0, 1)}

    calls = []
    real = ablation.run_one
    monkeypatch.setattr(
        ablation, "run_one", lambda st, v, s, init, log: calls.append((v, s)) or real(st, v, s, init, log)
    )
    assert main(["ablate", str(path)]) == 0
    assert calls == [("no-dsf", 0), ("no-dsf", 1)]  # finished runs are never redone
    assert {s: (study.run_dir("full", s) / "results.json").stat().st_mtime_ns for s in (0, 1)} == stamps

    summary = json.loads((study.out / "summary.json").read_text())
    assert summary["runs_finished"] == 4 and set(summary["variants"]) == {"full", "no-dsf"}
    entry = summary["variants"]["no-dsf"]["tests"]["standard"]
    aps = [
        json.loads((study.run_dir("no-dsf", s) / "results.json").read_text())["tests"]["standard"]["ap"]["Mean"]
        for s in (0, 1)
    ]
    assert entry["ap_mean"] == pytest.approx(sum(aps) / 2, abs=1e-3)
    assert "ap_diff_vs_reference" in entry
    assert "| no-dsf |" in (study.out / "summary.md").read_text()
    # every run logs its module diagnostics; the summary's λ is the mean of the runs' own
    lams = []
    for s in (0, 1):
        diag = json.loads((study.run_dir("full", s) / "results.json").read_text())["diagnostics"]
        report = diag["standard"]
        assert set(report["residual_ratio"]) == {"dfe", "fcg", "dsf"}
        lams += [entry.get("value", entry.get("mean")) for entry in report["lambda"].values()]
    assert summary["diagnostics"]["full"]["lambda"] == pytest.approx(sum(lams) / len(lams), abs=1e-4)
    reports = [
        json.loads((study.run_dir("full", s) / "results.json").read_text())["diagnostics"]["standard"] for s in (0, 1)
    ]
    digest = summary["diagnostics"]["full"]
    shares = [r["dsf"]["offset_pattern"]["pattern_share"] for r in reports]
    assert digest["dsf_pattern_share"] == pytest.approx(sum(shares) / 2, abs=1e-4)
    reaches = [e["adam_reach"] for r in reports for e in r["lambda"].values()]
    assert digest["lambda_adam_reach"] == pytest.approx(sum(reaches) / len(reaches), abs=1e-4)
    no_dsf = json.loads((study.run_dir("no-dsf", 0) / "results.json").read_text())["diagnostics"]["standard"]
    assert "skipped" in no_dsf["dsf"] and "dsf" not in no_dsf["residual_ratio"]
    assert "are the modules alive?" in (study.out / "summary.md").read_text()
    import cv2

    for name in ("ap.png", "error_by_speed.png"):
        image = cv2.imread(str(study.out / name))
        assert image is not None and image.shape[0] > 100 and image.std() > 5  # a drawn plot, not a blank

    calls.clear()
    assert main(["ablate", str(path)]) == 0 and calls == []  # nothing left to do


def test_a_half_finished_run_resumes_from_its_last_checkpoint(tmp_path, dataset, monkeypatch):
    path = _study(tmp_path, dataset)
    study = ablation.load_study(path)
    study.variants = {"full": []}
    study.seeds = [0]
    from pstpose.engine.build import build_from_experiment

    seen = []

    def spy(cfg, resume=False, **kwargs):
        seen.append(resume)
        return build_from_experiment(cfg, resume=resume, **kwargs)

    monkeypatch.setattr("pstpose.engine.build.build_from_experiment", spy)
    ablation.run_one(study, "full", 0, None, log=lambda text: None)
    (study.run_dir("full", 0) / "results.json").unlink()  # as if stopped after training
    ablation.run_study(study, log=lambda text: None)
    assert seen == [False, True]


@pytest.mark.parametrize(
    "change,message",
    [
        ({"seeds": []}, "seeds must be a non-empty list"),
        ({"variants": {"bad name!": {}}}, "variant name"),
        ({"colour": 1}, "unknown key"),
        ({"data": {"train": "x"}}, "data needs 'train'"),
        ({"compare": {"no-dsf": "nope"}}, "compare.no-dsf: 'no-dsf' and 'nope' must be two variants"),
        ({"compare": ["no-dsf"]}, "compare must be a mapping"),
        ({"compare": {"no-dsf": ["full", "nope"]}}, "compare.no-dsf: 'no-dsf' and 'nope' must be two variants"),
        ({"compare": {"no-dsf": [1]}}, "compare.no-dsf: expected a variant name or a list of them"),
        ({"compare": {"no-dsf": []}}, "compare.no-dsf: expected a variant name or a list of them"),
    ],
)
def test_bad_study_files_are_refused_by_name(tmp_path, dataset, change, message, capsys):
    path = _study(tmp_path, dataset, **change)
    assert main(["ablate", str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err and "study.yaml" in err


def test_the_shipped_studies_load_and_every_run_config_validates():
    """studies/*.yaml (the CPU study and its GPU scale setting) parse, and each variant's
    experiment config passes validation, so a user's first ``pstpose ablate`` does not stop on
    the file."""
    from pathlib import Path

    from pstpose.engine.build import build_model_from_experiment
    from pstpose.engine.train import parameter_groups

    root = Path(__file__).resolve().parents[2]
    for path in sorted((root / "studies").glob("*.yaml")):
        study = ablation.load_study(path)
        assert {"single-frame", "baseline", "no-dfe", "no-fcg", "no-dsf", "full", "full-lambda-channel"} <= set(
            study.variants
        ), path.name
        configs = {v: ablation.run_experiment_config(study, v, 0, None) for v in study.variants}
        for variant, cfg in configs.items():
            assert cfg.model.frames_per_side == (0 if variant == "single-frame" else 1)
            if cfg.train.lr_scale:  # its patterns name parameters of the model it builds
                model = build_model_from_experiment(cfg)
                groups = parameter_groups(model, cfg.train.weight_decay, cfg.train.lr, cfg.train.lr_scale)
                assert any(g.get("lr") == cfg.train.lr * 10 for g in groups), variant
        assert configs["full-lambda-channel"].model.dfe.lambda_mode == "channel"
        if path.stem.endswith("scale"):
            cfg = configs["full-lambda-channel"]
            assert tuple(cfg.model.image_size) == (256, 192) and cfg.model.preset == "vitpose-s"
            assert cfg.train.amp == "bf16"


def test_compare_pairs_a_variant_with_its_bases_by_seed_and_sequence(tmp_path, dataset):
    """The paired difference against each ``compare`` base is the mean of the per-(seed, sequence)
    differences of the runs both have (seed 1 of ``full`` is missing here: seed 0 alone pairs with
    it); a single name and a list of names both work."""
    variants = {"full": {}, "no-dsf": {"model.dsf.enabled": False}, "no-fcg": {"model.fcg.enabled": False}}
    single = ablation.load_study(_study(tmp_path, dataset, variants=variants, compare={"no-dsf": "full"}))
    assert single.compare == {"no-dsf": ["full"]}
    path = _study(tmp_path, dataset, variants=variants, compare={"no-dsf": ["full", "no-fcg"]})
    study = ablation.load_study(path)
    assert study.compare == {"no-dsf": ["full", "no-fcg"]}

    def run(variant, seed, per_sequence):
        test = {"ap": {"Mean": 50.0}, "per_sequence_ap": per_sequence, "temporal": {"error_by_speed": []}}
        test["temporal"]["acceleration_error_px"] = 1.0
        return {"variant": variant, "seed": seed, "tests": {"standard": test}}

    runs = [
        run("full", 0, {"a": 40.0, "b": 50.0, "c": 60.0}),
        run("no-fcg", 0, {"a": 40.0, "b": 40.0, "c": 40.0}),
        run("no-fcg", 1, {"a": 50.0, "b": 50.0, "c": 50.0}),
        run("no-dsf", 0, {"a": 42.0, "b": 49.0, "c": 63.0}),
        run("no-dsf", 1, {"a": 90.0, "b": 90.0, "c": 90.0}),  # no full run for seed 1: not paired with full
    ]
    summary = ablation.summarize(study, runs)
    paired = summary["variants"]["no-dsf"]["tests"]["standard"]["ap_diff_vs_base"]
    assert list(paired) == ["full", "no-fcg"]
    vs_full, vs_fcg = paired["full"], paired["no-fcg"]
    assert vs_full["diff"] == pytest.approx((2 - 1 + 3) / 3, abs=1e-4)
    assert vs_full["low"] <= vs_full["diff"] <= vs_full["high"]
    assert summary["variants"]["no-dsf"]["tests"]["standard"]["ap_diff_vs_reference"] == pytest.approx(vs_full["diff"])
    # against no-fcg both seeds pair: (2 + 9 + 23) / 3 for seed 0 and 40 for each sequence of seed 1
    assert vs_fcg["diff"] == pytest.approx((2 + 9 + 23 + 3 * 40) / 6, abs=1e-4)
    text = ablation.summary_markdown(summary, study)
    assert "against the variants named in `compare`" in text
    assert "| no-dsf | full | +1.3 [" in text and "| no-dsf | no-fcg | +25.7 [" in text


def test_seeds_option_runs_only_those_seeds(tmp_path, dataset, monkeypatch, capsys):
    path = _study(tmp_path, dataset)
    calls = []
    monkeypatch.setattr(ablation, "run_one", lambda st, v, s, init, log: calls.append((v, s)))
    assert main(["ablate", str(path), "--seeds", "1"]) == 0
    assert calls == [("full", 1), ("no-dsf", 1)]
    calls.clear()
    assert main(["ablate", str(path), "--seeds", "1,0", "--only", "no-dsf"]) == 0
    assert calls == [("no-dsf", 0), ("no-dsf", 1)]  # the study's order, seed-major
    capsys.readouterr()
    assert main(["ablate", str(path), "--seeds", "5"]) == 2
    assert "--seeds: seed(s) [5] are not in the study's seeds [0, 1]" in capsys.readouterr().err
    assert main(["ablate", str(path), "--seeds", "x"]) == 2
    assert "--seeds: expected comma-separated integers, got 'x'" in capsys.readouterr().err
    assert calls == [("no-dsf", 0), ("no-dsf", 1)]


def test_diagnostics_outdated_until_every_dsf_report_has_motion():
    motion = {"dsf": {"offset_pattern": {}, "motion": {"slope": 0.1}}}
    old = {"dsf": {"offset_pattern": {}}}
    no_dsf = {"dsf": {"skipped": "the model has no DSF module"}}
    assert ablation.diagnostics_outdated({})
    assert ablation.diagnostics_outdated({"diagnostics": {"standard": motion, "clutter": old}})
    assert not ablation.diagnostics_outdated({"diagnostics": {"standard": motion, "clutter": motion}})
    assert not ablation.diagnostics_outdated({"diagnostics": {"standard": no_dsf}})
