"""experiments/tables/mi_net.py: its arguments, the stage chain, the Solos data swap and the printed tables (paper
beside ours) from a result of known values; the training itself is the smoke run (`make reproduce-minet`)."""

from __future__ import annotations

import math

import pytest
import yaml

from experiments.tables import mi_net as table


def fake_run(scale: float) -> dict[str, dict[str, float]]:
    return {
        "vqvae": {"l2": 0.5 * scale},
        "vqvae_nombr": {"l2": 0.6 * scale},
        "prior": {"knn": 0.9 * scale, "nll": 3.0, "ndb": 30.0 * scale, "ndb_test_data": 20.0},
        "content": {"nll": 2.0 * scale, "ndb": 31.0},
        "content_gru": {"nll": 2.5 * scale},
        "seq2seq": {"knn": 0.5, "ndb": 45.0},
    }


def test_arguments_and_stage_chain():
    args = table.parse_args([])
    assert (args.scale, args.data, args.seeds, args.root) == ("smoke", "urmp", None, None)
    args = table.parse_args(["--scale", "full", "--data", "solos", "--seeds", "3", "--stages", "vqvae", "prior"])
    assert (args.scale, args.data, args.seeds, args.stages) == ("full", "solos", 3, ["vqvae", "prior"])
    with pytest.raises(SystemExit):
        table.parse_args(["--data", "music"])
    names = [s.name for s in table.STAGES]
    assert names.index("vqvae") < min(names.index(s.name) for s in table.STAGES if s.uses_vqvae)
    assert {s.name for s in table.STAGES if s.needs_midi} == {"content", "content_gru"}
    for stage in table.STAGES:  # every config the chain runs exists, with a debug twin for the smoke scale
        assert (table.ROOT / "experiments" / f"{stage.config}.yaml").is_file(), stage.config
        assert (table.ROOT / "experiments" / "debug" / f"{stage.config}.yaml").is_file(), stage.config
    assert {stage for stage, _ in table.ROWS.values()} <= set(names)


def test_full_scale_without_a_gpu_exits_before_training(monkeypatch, capsys):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(SystemExit) as stop:
        table.main(["--scale", "full", "--out", "unused"])
    assert stop.value.code == 2
    assert "make reproduce-minet SCALE=smoke" in capsys.readouterr().err


def test_tables_put_the_paper_beside_the_mean_and_std_of_the_seeds():
    values = table.table_values([fake_run(1.0), fake_run(1.1)])
    mean, std, seeds = values["table2"]["MI Net"]
    assert seeds == 2 and mean == pytest.approx(94.5) and std == pytest.approx(math.sqrt(2) * 4.5)  # knn in %
    assert values["table4"]["1D Conv w. MBR"][0] == pytest.approx(0.525)
    assert values["table1"]["Testing Set Data"][:2] == (20.0, 0.0)
    assert "Graph-Transformer" not in values["table1"]  # never measured
    text = table.format_tables(values, "urmp", "SYNTHETIC URMP data, scale=smoke")
    lines = text.splitlines()
    assert "URMP" in lines[0] and "SYNTHETIC" in lines[0]

    def row(title: str, name: str) -> str:
        start = next(i for i, line in enumerate(lines) if line.startswith(title))
        return next(line for line in lines[start:] if line.strip().startswith(name))

    assert row("Table 2", "MI Net").split()[2:4] == ["93.7", "94.5"]
    assert "not measured" in row("Table 1", "Graph-Transformer") and " 45 " in row("Table 1", "Graph-Transformer")
    assert "human study: not run" in row("Table 3", "MI Net") and " 24 " in row("Table 3", "MI Net")
    assert row("Table 5", "Content Encoder + Prior Net").split()[-6:] == ["2.55", "2.1", "±", "0.14", "(2", "seeds)"]
    solos = table.format_tables(table.table_values([fake_run(1.0)]), "solos", "SYNTHETIC Solos data").splitlines()
    assert any(line.split()[-2:] == ["61.5", "90"] for line in solos)  # Table 2 MI Net on Solos, one seed
    assert "±" not in "\n".join(solos)


def test_solos_runs_swap_the_datamodule_and_keep_the_clip_settings(tmp_path):
    prior = next(s for s in table.STAGES if s.name == "prior")
    assert table.data_override(prior, "urmp", 15.0, None, 1, tmp_path) == [
        "--data.init_args.synthetic_minutes=15.0",
        "--data.init_args.seed=1",
    ]
    args = table.data_override(prior, "solos", 40.0, "/data/solos", 0, tmp_path, debug=True)
    assert args[0] == "--data"
    data = yaml.safe_load((tmp_path / "data_prior.yaml").read_text())
    config = yaml.safe_load((table.ROOT / "experiments" / "mi_net_prior.yaml").read_text())["data"]["init_args"]
    assert data["class_path"] == "datamodules.solos.SolosDataModule"
    init = data["init_args"]
    assert init["split"] == "mi_net" and init["root"] == "/data/solos" and init["synthetic_minutes"] == 40.0
    for key in ("keypoint_layout", "clip_seconds", "fps", "sample_rate"):
        assert init[key] == config[key], key
    assert "roll" not in init["fields"] and "keypoints" in init["fields"]


def test_command_line_overrides_the_scale():
    smoke = dict(table.SCALES["smoke"])
    scale = table.scale_settings(table.parse_args(["--minutes", "1", "--max-steps", "3", "--ndb-samples", "6"]))
    assert scale["synthetic_minutes"] == {"urmp": 1.0, "solos": 1.0}
    assert [a for a in scale["trainer"] if "max_steps" in a] == ["--trainer.max_steps=3"]
    assert (scale["ndb_train"], scale["ndb_generated"], scale["ndb_k"]) == (6, 6, 6)  # no more cells than clips
    assert table.SCALES["smoke"] == smoke  # the table itself is untouched
    defaults = table.scale_settings(table.parse_args(["--scale", "full"]))
    assert defaults == table.SCALES["full"] and defaults["ndb_k"] == 50 and defaults["ndb_generated"] == 1600
