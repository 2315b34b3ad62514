"""The reproduction scripts under experiments/tables/: ``--scale full`` without a GPU prints the expected duration and
the smoke command and exits 2 before anything is built; ``--yes`` or ``--scale smoke`` go on to train. The Foley
Music smoke overlay composes with every variant's config, and the report puts the paper's numbers beside ours."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from experiments.tables import audeo, foley_music
from experiments.tables.full_scale import EXIT_NEEDS_GPU
from tests.helpers.cli_runner import ROOT

SCRIPTS = {"audeo": (audeo, "reproduce-audeo"), "foley_music": (foley_music, "reproduce-foley")}


class Trained(Exception):
    """Raised by the stand-in for cli.main: the script went on to train."""


def _train(args: list[str]) -> None:
    raise Trained(args)


@pytest.fixture
def no_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(sys, "argv", ["table"])
    for module, _ in SCRIPTS.values():
        monkeypatch.setattr(module, "cli_step", _train)


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_full_scale_without_gpu_stops_with_the_expected_duration(name: str, no_gpu, tmp_path: Path, capsys) -> None:
    module, target = SCRIPTS[name]
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as stopped:
        module.main(["--scale", "full", "--out", str(out)])
    assert stopped.value.code == EXIT_NEEDS_GPU
    message = capsys.readouterr().err
    assert "Expected duration:" in message and module.FULL_ESTIMATE in message
    assert f"make {target} SCALE=smoke" in message and f"experiments/tables/{name}.py --scale smoke" in message
    assert f"make {target} SCALE=full YES=1" in message
    assert not out.exists()  # nothing was built


@pytest.mark.parametrize("name", sorted(SCRIPTS))
@pytest.mark.parametrize("flags", [["--scale", "full", "--yes"], ["--scale", "smoke"]], ids=["full-yes", "smoke"])
def test_forced_full_and_smoke_go_on_to_train(name: str, flags: list[str], no_gpu, tmp_path: Path) -> None:
    module, _ = SCRIPTS[name]
    jobs = ["--jobs", "1"] if name == "audeo" else []  # in this process, where cli_step is the stand-in
    with pytest.raises(Trained) as trained:
        module.main([*flags, *jobs, "--out", str(tmp_path)])
    assert trained.value.args[0][0] == "fit"


class FakeSeed:
    """Stand-in for the process of one Audeo seed: writes the ``seed.json`` its ``--only-seed`` run would write (or
    fails with exit 3 for seed ``fail``)."""

    fail: int | None = None
    started: list[list[str]] = []

    def __init__(self, command: list[str], stdout, stderr, env, cwd) -> None:
        FakeSeed.started.append(command)
        self.threads = env["OMP_NUM_THREADS"]
        self.seed = int(command[command.index("--only-seed") + 1])
        out = Path(command[command.index("--out") + 1]) / "smoke" / f"seed{self.seed}"
        self.returncode = 3 if self.seed == FakeSeed.fail else 0
        if self.returncode:
            stdout.write("Traceback: the seed broke\n")
            return
        run = {"seed": self.seed, "rows": {"Video2Roll Net": (90.0 + self.seed, 0.0, 0.0, 0.0)},
               "video2roll_on_windows": (1.0, 2.0, 3.0, 4.0), "roll2midi": Path(f"/r/{self.seed}.ckpt"),
               "demo_kwargs": {"frame_size": (32, 288), "synthetic_minutes": 10.0, "seed": self.seed}}  # fmt: skip
        (out / "seed.json").write_text(__import__("json").dumps(audeo._seed_result(run)))

    def poll(self) -> int:
        return self.returncode

    def kill(self) -> None:
        pass


def test_audeo_seeds_run_in_parallel_processes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``--jobs 2``: every seed in its own ``--only-seed`` process with the thread count in its environment; their
    results come back in seed order; a failing seed raises naming its log and showing its end."""
    import argparse

    monkeypatch.setattr(audeo.subprocess, "Popen", FakeSeed)
    monkeypatch.setattr(audeo.time, "sleep", lambda _: None)
    FakeSeed.started, FakeSeed.fail = [], None
    args = argparse.Namespace(scale="smoke", out=str(tmp_path), root=None, deterministic=True, reuse_video2roll=False)
    runs = audeo.run_seeds_in_parallel(args, 3, 2, 1, tmp_path / "smoke")
    assert [run["seed"] for run in runs] == [0, 1, 2]
    assert [run["rows"]["Video2Roll Net"][0] for run in runs] == [90.0, 91.0, 92.0]
    assert runs[2]["roll2midi"] == Path("/r/2.ckpt") and runs[2]["demo_kwargs"]["frame_size"] == (32, 288)
    assert all("--deterministic" in c and c[c.index("--threads") + 1] == "1" for c in FakeSeed.started)

    FakeSeed.started, FakeSeed.fail = [], 1
    with pytest.raises(RuntimeError, match=r"seed 1 failed \(exit 3\).*seed1/log.txt ends:\nTraceback: the seed broke"):
        audeo.run_seeds_in_parallel(args, 3, 2, 1, tmp_path / "smoke")


@pytest.mark.parametrize("variant", sorted(foley_music.VARIANTS))
def test_foley_smoke_overlay_composes_with_every_variant(variant: str, capsys, monkeypatch) -> None:
    """The config the smoke scale trains: the variant's config with the smoke sizes and steps on top."""
    import yaml

    from cli import main

    monkeypatch.setattr(sys, "argv", ["cli.py"])
    args = foley_music.parse_args(["--scale", "smoke", "--variants", variant])
    with pytest.raises(SystemExit) as done:
        main(["fit", *foley_music.variant_args(variant, args), "--print_config"])
    assert done.value.code in (0, None)
    config = yaml.safe_load(capsys.readouterr().out)
    smoke = yaml.safe_load((ROOT / foley_music.SMOKE_OVERLAY).read_text())
    model, data = config["model"]["init_args"], config["data"]["init_args"]
    assert {k: model[k] for k in smoke["model"]["init_args"]} == smoke["model"]["init_args"]
    assert {k: data[k] for k in smoke["data"]["init_args"]} == smoke["data"]["init_args"]
    assert config["trainer"]["max_steps"] == smoke["trainer"]["max_steps"]
    assert model["zero_memory"] is (variant == "zero_memory")
    expected = {"rgb": "rgb", "flow": "flow"}.get(variant, "keypoints")
    assert model["visual_input"] == expected and model["decoder"] == ("gru" if variant == "gru" else "transformer")


def test_foley_report_puts_the_paper_beside_ours() -> None:
    row = {"violin": 1.5, "cello": 2.25, "all": 1.75, "unigram": 3.0, "horn": 2.0, "seconds": 1.0}
    results = {
        "dataset": "SYNTHETIC URMP",
        "scale": "smoke",
        "nll": {"skeleton": row, "zero_memory": dict(row, all=2.5), "gru": dict(row, all=2.0)},
        "pitch_class_corr": {"pose": 0.5, "zero_memory": float("nan")},
        "seconds": 12.0,
    }
    report = foley_music.render_report(results)
    lines = report.splitlines()
    paper = lines.index("| Skeleton (Ours) | paper (URMP) | 1.558 | 3.603 | 2.981 | 2.512 | 1.995 | | |")
    assert lines[paper + 1] == "| Skeleton (Ours) | ours | 1.500 | n/a | 2.250 | n/a | n/a | 1.750 | 3.000 |"
    assert "| GRU | ours | 1.500 | n/a | 2.250 | n/a | n/a | 2.000 | 3.000 |" in lines
    assert "| RGB image | ours |" not in report  # not run: the paper's row only
    assert "other instruments of our validation split: horn 2.000" in report
    assert "pose-conditioned 1.750 vs pose memory zeroed 2.500: ratio 0.700" in report
    assert "pose-conditioned 0.500, pose memory zeroed n/a" in report
    assert "| paper | 33 | 32 | 25 | 30 | 20 |" in report and "SYNTHETIC URMP, scale smoke" in report


@pytest.mark.parametrize(
    ("target", "script"),
    [
        ("reproduce-audeo", "experiments/tables/audeo.py"),
        ("reproduce-table1", "experiments/tables/audeo.py"),
        ("reproduce-foley", "experiments/tables/foley_music.py"),
    ],
)
def test_make_targets_share_one_scale_variable(target: str, script: str) -> None:
    """``make reproduce-<paper>``: SCALE (default full) and YES=1 reach the table script (dry run, nothing built)."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")

    def commands(*variables: str) -> list[str]:
        result = subprocess.run(["make", "-n", target, *variables], cwd=ROOT, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        return [line for line in result.stdout.splitlines() if script in line]

    (default,) = commands()
    assert "--scale full" in default.split(script)[1] and "--yes" not in default
    (smoke,) = commands("SCALE=smoke")
    assert "--scale smoke" in smoke
    (forced,) = commands("YES=1")
    assert "--scale full" in forced and "--yes" in forced
