"""The shared mechanism of papers trained in stages (models/staged.py), on a throw-away two-stage paper: stage "a"
trains net_a; stage "b" trains net_b on net_a's features, net_a loaded frozen from ``a_ckpt``; stage "c" cannot fit
without a trained net_a."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import pytest
import pytorch_lightning as pl
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from models.staged import StagedModule, StageSpec

FEATURES = 4


class TwoStage(StagedModule):
    STAGES = {
        "a": StageSpec("net_a", ckpt="a_ckpt", sizes=("width",)),
        "b": StageSpec("net_b", ckpt="b_ckpt", sizes=("head",), aux=("critic",)),
        "c": StageSpec("net_c", ckpt="c_ckpt", needs=("a",)),
    }
    MATCHING = ("features",)

    def __init__(
        self,
        stage: str = "a",
        features: int = FEATURES,
        width: int = 8,
        head: int = 2,
        a_ckpt: Optional[str] = None,
        b_ckpt: Optional[str] = None,
        c_ckpt: Optional[str] = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.build_stages(stage)

    def _build(self, name: str) -> nn.Module:
        hp = self.hparams
        if name == "net_a":  # dropout: its output differs between train and eval mode
            return nn.Sequential(nn.Linear(hp.features, hp.width), nn.Dropout(0.5))
        if name == "critic":
            return nn.Linear(hp.head, 1)
        return nn.Linear(hp.width, hp.head)  # net_b, net_c

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self._need("net_a")(x)
        return features if self.stage == "a" else getattr(self, self.trains)(features)

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        (x,) = batch
        return self(x).pow(2).mean() + (self.critic(self(x)).mean() if self.stage == "b" else 0.0)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD([p for p in self.parameters() if p.requires_grad], lr=0.1)


def _fit(model: TwoStage, tmp_path: Path, steps: int, ckpt_path: Optional[str] = None) -> pl.Trainer:
    data = DataLoader(TensorDataset(torch.randn(16, FEATURES)), batch_size=4)
    trainer = pl.Trainer(max_steps=steps, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, default_root_dir=tmp_path)  # fmt: skip
    trainer.fit(model, data, ckpt_path=ckpt_path)
    return trainer


def test_stage_chain_freezes_adopts_sizes_and_rebuilds(tmp_path: Path) -> None:
    torch.manual_seed(0)
    assert TwoStage.network_names() == ("net_a", "net_b", "critic", "net_c")
    a = TwoStage(stage="a", width=5)
    assert a.net_b is None and a.critic is None
    _fit(a, tmp_path, 3).save_checkpoint(tmp_path / "a.ckpt")

    b = TwoStage(stage="b", a_ckpt=str(tmp_path / "a.ckpt"))  # default width 8: the checkpoint's 5 wins
    assert b.hparams.width == 5 and b.net_a[0].out_features == 5 and b.net_b.in_features == 5
    torch.testing.assert_close(b.net_a.state_dict(), a.net_a.state_dict())
    b.train()
    assert not b.net_a.training and b.net_b.training and b.critic.training  # frozen part stays in eval mode
    assert not any(p.requires_grad for p in b.net_a.parameters())
    assert all(p.requires_grad for p in (*b.net_b.parameters(), *b.critic.parameters()))
    frozen = {k: v.clone() for k, v in b.net_a.state_dict().items()}
    before = b.net_b.weight.detach().clone()
    trainer = _fit(b, tmp_path, 4)
    assert not torch.equal(before, b.net_b.weight)  # stage b trained ...
    torch.testing.assert_close(b.net_a.state_dict(), frozen)  # ... and net_a did not move
    trainer.save_checkpoint(tmp_path / "b.ckpt")
    state = torch.load(tmp_path / "b.ckpt", weights_only=False)
    assert {"net_a.0.weight", "net_b.weight", "critic.weight"} <= set(state["state_dict"])  # both stages inside
    assert state["hyper_parameters"]["width"] == 5

    x = torch.randn(6, FEATURES)
    expected = b.eval()(x)
    fresh = TwoStage(stage="b", width=5)  # no a_ckpt: net_a comes from the state alone
    assert fresh.net_a is None
    fresh.load_state_dict(state["state_dict"])
    assert not any(p.requires_grad for p in fresh.net_a.parameters())
    torch.testing.assert_close(fresh.eval()(x), expected)
    restored = TwoStage.load_from_checkpoint(tmp_path / "b.ckpt", a_ckpt=None)  # hparams bring width 5
    torch.testing.assert_close(restored.eval()(x), expected)

    resumed = TwoStage(stage="b", width=5)  # resume training from the checkpoint: net_a rebuilt, still frozen
    _fit(resumed, tmp_path, 5, ckpt_path=str(tmp_path / "b.ckpt"))
    torch.testing.assert_close(resumed.net_a.state_dict(), frozen)
    assert not resumed.net_a.training and not any(p.requires_grad for p in resumed.net_a.parameters())


def test_stage_inputs_fail_clearly(tmp_path: Path) -> None:
    a = TwoStage(stage="a")
    torch.save({"state_dict": a.state_dict(), "hyper_parameters": dict(a.hparams)}, tmp_path / "a.ckpt")
    with pytest.raises(FileNotFoundError, match=r"missing\.ckpt \(a_ckpt\) does not exist"):
        TwoStage(stage="b", a_ckpt=str(tmp_path / "missing.ckpt")).setup("fit")
    TwoStage(stage="b", a_ckpt=str(tmp_path / "missing.ckpt")).setup("test")  # only fit needs the file
    with pytest.raises(FileNotFoundError, match="stage needs a_ckpt"):
        TwoStage(stage="c").setup("fit")
    TwoStage(stage="c", a_ckpt=str(tmp_path / "a.ckpt")).setup("fit")
    torch.save({"state_dict": {"other.weight": torch.zeros(1)}}, tmp_path / "empty.ckpt")
    with pytest.raises(RuntimeError, match=r"empty\.ckpt \(a_ckpt\) has no net_a weights"):
        TwoStage(stage="b", a_ckpt=str(tmp_path / "empty.ckpt"))
    (tmp_path / "junk.ckpt").write_bytes(b"not a checkpoint")
    with pytest.raises(RuntimeError, match=r"cannot read checkpoint .*junk\.ckpt"):
        TwoStage(stage="b", a_ckpt=str(tmp_path / "junk.ckpt"))
    with pytest.raises(ValueError, match=r"a\.ckpt was trained with features=4, this model has features=3"):
        TwoStage(stage="b", features=3, a_ckpt=str(tmp_path / "a.ckpt"))
    with pytest.raises(ValueError, match="unknown stage 'z'"):
        TwoStage(stage="z")
    with pytest.raises(RuntimeError, match=r"no net_a; give that stage's checkpoint \(a_ckpt\)"):
        TwoStage(stage="b")(torch.zeros(1, FEATURES))
