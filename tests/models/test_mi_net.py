"""MI Net (models/mi_net): paper defaults, shapes, causality of the priors, KV-cached sampling, the stage chain
(a VQ-VAE checkpoint loaded frozen by the prior), bad input, and a short learning check of the VQ-VAE."""

from __future__ import annotations

import inspect
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pretty_midi
import pytest
import torch

from models.mi_net import MINet
from models.mi_net.networks import BodyEncoder, ContentPrior, PosePrior, SpectrogramVQVAE
from models.nn.multiband import MultiBandResidual
from models.nn.residual1d import Residual1d

RATE = 16000
TINY = dict(
    clip_seconds=0.5,
    fps=30.0,
    n_fft=256,
    hop=64,
    n_bins=64,
    channels=16,
    code_dim=8,
    codebook_size=16,
    encoder_bands=(4, 2),
    decoder_bands=(2, 4),
    gru_hidden=8,
    gru_layers=2,
    d_model=16,
    num_layers=1,
    num_heads=2,
    dim_feedforward=32,
    seq2seq_hidden=16,
    seq2seq_layers=1,
    gcn_blocks=((-1, 8, 1), (8, 8, 2)),
    griffin_lim_iters=2,
    examples_per_batch=1,
)
FRAMES = 15  # 0.5 s of keypoints / roll at 30 fps


def _batch(n: int = 2, seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(int(TINY["clip_seconds"] * RATE)) / RATE
    audio = torch.stack([0.3 * torch.sin(2 * torch.pi * (220 + 110 * i) * t) for i in range(n)])
    keypoints = torch.rand(n, FRAMES, 47, 3, generator=g)
    keypoints[..., 2] = 1.0
    roll = torch.zeros(n, 88, FRAMES)
    roll[:, 40, :7] = 1.0
    roll[:, 45, 7:] = 1.0
    return {"audio": audio, "keypoints": keypoints, "roll": roll, "instrument": torch.arange(n) % 2, "meta": [{}] * n}


def test_defaults_are_the_papers() -> None:
    defaults = {k: p.default for k, p in inspect.signature(MINet.__init__).parameters.items()}
    paper = dict(sample_rate=16000, clip_seconds=4.0, hop=256, n_bins=1024, channels=512, code_dim=64,
                 codebook_size=1024, residual_blocks=2, gru_hidden=32, gru_layers=3, d_model=128, num_layers=2,
                 num_heads=8, keypoint_layout="upper47", content_layers=2)  # fmt: skip
    assert {k: defaults[k] for k in paper} == paper
    assert len(defaults["encoder_bands"]) == len(defaults["decoder_bands"]) == 4  # 4 MBR blocks each side
    assert list(defaults["encoder_bands"]) == sorted(defaults["encoder_bands"], reverse=True)  # many -> few bands
    assert list(defaults["decoder_bands"]) == list(reversed(defaults["encoder_bands"]))  # mirrored

    vqvae = SpectrogramVQVAE()  # the paper-size VQ-VAE
    blocks = list(vqvae.encoder)
    assert blocks[0].in_channels == 1024 and blocks[0].out_channels == 512
    assert [type(b) for b in blocks[1:7]] == [MultiBandResidual] * 4 + [Residual1d] * 2
    assert blocks[-1].out_channels == 64 and vqvae.quantizer.codebook_size == 1024 and vqvae.quantizer.dim == 64
    assert [b.bands for b in blocks[1:5]] == [16, 8, 4, 2]
    assert list(vqvae.decoder)[-1].out_channels == 1024

    body = BodyEncoder(47)
    assert body.gru.bidirectional and body.gru.hidden_size == 32 and body.gru.num_layers == 3
    assert body.gru.input_size == 94 and body.out_dim == 64  # x, y of 47 joints; both directions' last state


def test_shapes_of_every_stage() -> None:
    batch = _batch()
    for stage in ("vqvae", "prior", "content", "seq2seq", "graph_transformer"):
        model = MINet(stage=stage, **TINY)
        out = model._losses(batch)
        assert out["loss"].ndim == 0 and torch.isfinite(out["loss"]), stage
        out["loss"].backward()
        trained = getattr(model, model.trains)
        assert all(p.grad is not None for p in trained.parameters() if p.requires_grad), stage
        if stage in ("prior", "content"):
            assert out["logits"].shape == (2, model.clip_codes, TINY["codebook_size"])
            assert out["h"].shape == (2, 2 * TINY["gru_hidden"])
    model = MINet(stage="vqvae", **TINY)
    spec = model.spectrogram(batch["audio"])
    assert spec.shape == (2, TINY["n_bins"], model.clip_frames) == (2, 64, 126)
    recon, q = model.vqvae(spec)
    assert recon.shape == spec.shape and q.codes.shape == (2, 126) and q.codes.dtype == torch.long
    strided = SpectrogramVQVAE(64, 16, 8, 16, (2,), (2,), 1, downsample=4)
    recon, q = strided(spec)
    assert recon.shape == spec.shape and q.codes.shape == (2, 32)  # ceil(126 / 4) codes
    assert strided.decode(q.codes, 126).shape == spec.shape


def test_the_priors_are_causal() -> None:
    torch.manual_seed(0)
    body = BodyEncoder(47, 8, 1)
    kp = _batch()["keypoints"]
    codes = torch.randint(0, 16, (2, 20))
    changed = codes.clone()
    changed[:, 9] = (codes[:, 9] + 1) % 16
    notes = torch.randint(0, 89, (2, 20))
    for net, args in ((PosePrior(16, body, 16, 1, 2, 32, max_len=20), ()),
                      (ContentPrior(16, 88, body, "transformer", 16, 1, 2, 32, max_len=20), (notes,)),
                      (ContentPrior(16, 88, body, "gru", 16, 1, 2, 32, max_len=20), (notes,))):  # fmt: skip
        net.eval()
        a, b = net(kp, *args, codes), net(kp, *args, changed)
        assert torch.allclose(a[:, :10], b[:, :10], atol=1e-6), type(net).__name__  # code 9 feeds step 10 onward
        assert not torch.allclose(a[:, 10:], b[:, 10:]), type(net).__name__


def test_cached_sampling_equals_uncached() -> None:
    batch = _batch()
    for stage, arch in (("prior", "transformer"), ("content", "transformer"), ("content", "gru")):
        torch.manual_seed(1)
        model = MINet(stage=stage, content_arch=arch, **TINY).eval()
        notes = model.notes(batch["roll"], model.clip_codes) if stage == "content" else None
        greedy = [model.sample_codes(batch["keypoints"], notes, 40, c, greedy=True) for c in (True, False)]
        assert torch.equal(*greedy) and greedy[0].shape == (2, 40)
        drawn = [
            model.sample_codes(batch["keypoints"], notes, 40, c, generator=torch.Generator().manual_seed(3))
            for c in (True, False)
        ]
        assert torch.equal(*drawn) and int(drawn[0].max()) < TINY["codebook_size"]


def _save(model: MINet, path: Path) -> Path:
    torch.save({"state_dict": model.state_dict(), "hyper_parameters": dict(model.hparams)}, path)
    return path


def test_the_prior_loads_the_vqvae_frozen_with_its_sizes(tmp_path: Path) -> None:
    torch.manual_seed(0)
    vqvae_args = {**TINY, "channels": 24, "encoder_bands": (4, 2, 1), "decoder_bands": (1, 2, 4)}
    first = MINet(stage="vqvae", **vqvae_args)
    path = _save(first, tmp_path / "vqvae.ckpt")
    prior = MINet(stage="prior", **{**TINY, "vqvae_ckpt": str(path)})  # sizes differ from the checkpoint's
    assert prior.hparams.channels == 24 and list(prior.hparams.encoder_bands) == [4, 2, 1]
    for key, value in first.vqvae.state_dict().items():
        assert torch.equal(prior.vqvae.state_dict()[key], value), key
    assert not any(p.requires_grad for p in prior.vqvae.parameters())
    prior.train()
    assert not prior.vqvae.training and prior.prior.training
    prior.setup("fit")  # the needed checkpoint is there
    codebook = prior.vqvae.quantizer.embedding.clone()
    prior.training_step(_batch(), 0)
    assert torch.equal(prior.vqvae.quantizer.embedding, codebook)  # the frozen codebook gets no EMA update
    assert {p for p in prior.configure_optimizers().param_groups[0]["params"]} == set(prior.prior.parameters())

    # the prior's checkpoint generates end to end: a vqvae-stage model given it builds the prior
    later = _save(prior, tmp_path / "prior.ckpt")
    fresh = MINet(stage="vqvae", **vqvae_args)
    fresh.load_state_dict(torch.load(later, weights_only=False)["state_dict"])
    spec = fresh.eval().generate_spectrograms(_batch()["keypoints"], generator=torch.Generator().manual_seed(0))
    assert spec.shape == (2, 64, fresh.clip_frames)


def test_missing_or_mismatching_vqvae_checkpoints(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="vqvae_ckpt"):
        MINet(stage="prior", **TINY).setup("fit")
    with pytest.raises(FileNotFoundError, match="vqvae_ckpt"):
        MINet(stage="prior", vqvae_ckpt=str(tmp_path / "absent.ckpt"), **TINY).setup("fit")
    other_rate = _save(MINet(stage="vqvae", **{**TINY, "sample_rate": 22050}), tmp_path / "rate.ckpt")
    with pytest.raises(ValueError, match="sample_rate=22050"):
        MINet(stage="prior", vqvae_ckpt=str(other_rate), **TINY)
    baseline = _save(MINet(stage="seq2seq", **TINY), tmp_path / "seq2seq.ckpt")
    with pytest.raises(RuntimeError, match="no vqvae weights"):
        MINet(stage="prior", vqvae_ckpt=str(baseline), **TINY)
    with pytest.raises(RuntimeError, match="prior_ckpt"):
        MINet(stage="vqvae", **TINY).generate_spectrograms(_batch()["keypoints"])


def test_bad_input_gets_one_clear_error() -> None:
    model = MINet(stage="content", **TINY)
    batch = _batch()
    bad = dict(batch, keypoints=batch["keypoints"].clone(), meta=[{"key": "01_Jupiter/1_vn"}, {}])
    bad["keypoints"][1, 3, 5, 0] = float("nan")
    with pytest.raises(ValueError, match=r"NaN or Inf \(batch rows \[1\]\).*01_Jupiter/1_vn"):
        model._losses(bad)
    with pytest.raises(ValueError, match="shorter than the VQ-VAE's stride"):
        model._losses(dict(batch, audio=batch["audio"][:, :100]))
    chord = batch["roll"].clone()
    chord[0, 52, 2:6] = 1.0
    with pytest.raises(ValueError, match=r"monophonic.*\[61, 73\]"):
        model._losses(dict(batch, roll=chord))
    with pytest.raises(ValueError, match="MIDI 21-108"):
        model._losses(dict(batch, roll=batch["roll"][:, :60]))
    legato = batch["roll"].clone()
    legato[:, 40, 7] = 1.0  # the old note held one frame into the new one: a hand-over, not a chord
    assert model.notes(legato, FRAMES)[0, 7] == 45 + 1  # row 45 (MIDI 66) is note index 46

    prior = MINet(stage="prior", **TINY)
    with pytest.raises(KeyError, match="instrument"):
        prior.validation_step({k: v for k, v in batch.items() if k != "instrument"}, 0)
    prior.hparams.eval_knn = False
    prior.validation_step({k: v for k, v in batch.items() if k != "instrument"}, 0)  # training never needs it

    options = SimpleNamespace(fields=("keypoints", "audio"), sample_rate=22050, keypoint_layout="upper47")
    prior._trainer = SimpleNamespace(datamodule=SimpleNamespace(options=options))
    with pytest.raises(ValueError, match="sample_rate: 16000"):
        prior._check_datamodule()
    options.sample_rate, options.keypoint_layout = 16000, "body65"
    with pytest.raises(ValueError, match="keypoint_layout: upper47"):
        prior._check_datamodule()
    prior._trainer = None


def test_content_midi_range_and_notes(tmp_path: Path) -> None:
    model = MINet(stage="content", **TINY)
    midi = pretty_midi.PrettyMIDI()
    track = pretty_midi.Instrument(program=40)
    track.notes.append(pretty_midi.Note(90, 69, 0.0, 0.25))
    midi.instruments.append(track)
    good = tmp_path / "good.mid"
    midi.write(str(good))
    notes = model.midi_notes(str(good), 0.0, model.clip_codes)
    assert notes.shape == (model.clip_codes,) and set(notes.tolist()) == {0, 69 - 21 + 1}
    assert notes[0] == 69 - 21 + 1 and notes[-1] == 0
    track.notes.append(pretty_midi.Note(90, 12, 0.3, 0.4))
    low = tmp_path / "low.mid"
    midi.write(str(low))
    with pytest.raises(ValueError, match=r"low.mid has notes \[12\] outside"):
        model.midi_notes(str(low), 0.0, model.clip_codes)


def test_validation_logs_what_the_paper_reports() -> None:
    model = MINet(stage="vqvae", **TINY)
    model.validation_step(_batch(), 0)
    model.on_validation_epoch_end()
    usage = model.last_metrics["val"]
    assert 0 < usage["codebook_usage"] <= 1 and usage["code_perplexity"] >= 1
    prior = MINet(stage="prior", **TINY)
    for seed in range(2):
        prior.validation_step(_batch(seed=seed), 0)
    prior.on_validation_epoch_end()
    metrics = prior.last_metrics["val"]
    assert {"nll", "nll_first8", "knn"} <= set(metrics) and 0.0 <= metrics["knn"] <= 1.0
    assert abs(metrics["nll"] - np.log(TINY["codebook_size"])) < 1.5  # untrained: about uniform over K
    calls = []
    writer = SimpleNamespace(add_embedding=lambda mat, metadata, tag, global_step: calls.append((mat, metadata, tag)))
    prior.log_embedding("val", torch.randn(4, 16), torch.tensor([0, 1, 0, 1]), writer)
    assert calls[0][0].shape == (4, 16) and calls[0][2] == "val/h" and len(set(calls[0][1])) == 2  # Fig. 7 projector
    examples = prior.generate_examples(_batch())
    assert [e.role for e in examples] == ["generated", "reference"]
    assert examples[0].audio.shape == (int(TINY["clip_seconds"] * RATE),) and np.isfinite(examples[0].audio).all()
    again = prior.generate_examples(_batch())
    np.testing.assert_array_equal(examples[0].audio, again[0].audio)  # seeded


def test_vqvae_reconstruction_loss_falls_on_a_fixed_batch() -> None:
    torch.manual_seed(0)
    model = MINet(stage="vqvae", **{**TINY, "channels": 32})
    batch = _batch(4)
    spec = model.spectrogram(batch["audio"])
    constant = float((spec - spec.mean((0, 2), keepdim=True)).square().mean())  # the mean spectrum's L2
    optimizer = torch.optim.Adam(model.vqvae.parameters(), lr=3e-3)
    model.train()
    losses = []
    for _ in range(40):
        out = model._losses(batch)
        optimizer.zero_grad()
        out["loss"].backward()
        optimizer.step()
        losses.append(float(out["l2"].detach()))
    # measured: 0.42 -> 0.06 (mean spectrum 0.17); a collapsed codebook stalls at the mean spectrum
    assert losses[-1] < 0.3 * losses[0] and losses[-1] < 0.6 * constant, (losses[::8], constant)
    assert float(out["perplexity"]) > 2.0


def test_generate_from_video_windows(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import models.video_windows as video_windows

    inputs = _batch(3)["keypoints"]
    monkeypatch.setattr(video_windows, "keypoint_windows", lambda *a, **k: video_windows.VideoWindows(inputs, 1.3, 0.5))
    midi = pretty_midi.PrettyMIDI()
    track = pretty_midi.Instrument(program=40)
    track.notes.append(pretty_midi.Note(90, 60, 0.2, 1.2))
    midi.instruments.append(track)
    midi.write(str(tmp_path / "v.mid"))
    model = MINet(stage="content", **TINY)
    with pytest.raises(ValueError, match="pass --midi"):
        model.generate_from_video("v.mp4")
    example = model.generate_from_video("v.mp4", midi=str(tmp_path / "v.mid"))
    assert example.audio.shape == (int(1.3 * RATE),) and example.extra["windows"] == 3  # cut at the video's end
    again = model.generate_from_video("v.mp4", midi=str(tmp_path / "v.mid"))
    np.testing.assert_array_equal(example.audio, again.audio)  # seeded
    inputs[1, ..., 2] = 0.0  # nobody in the second window
    with pytest.raises(ValueError, match=r"no person in v.mp4 from 0.5 s to 1.0 s"):
        model.generate_from_video("v.mp4", midi=str(tmp_path / "v.mid"))


def _flat(tree: dict, prefix: str = "") -> dict:
    out: dict = {}
    for key, value in tree.items():
        out |= _flat(value, f"{prefix}{key}.") if isinstance(value, dict) else {f"{prefix}{key}": value}
    return out


@pytest.mark.parametrize(
    ("variant", "base", "keys"),
    [
        ("mi_net_vqvae_nombr", "mi_net_vqvae", {"encoder_bands", "decoder_bands"}),
        ("mi_net_content_gru", "mi_net_content", {"content_arch"}),
    ],
)
def test_ablation_configs_change_only_their_ablation(variant: str, base: str, keys: set[str]) -> None:
    import yaml

    root = Path(__file__).resolve().parents[2] / "experiments"
    a, b = (_flat(yaml.safe_load((root / f"{name}.yaml").read_text())) for name in (variant, base))
    differ = {k.rsplit(".", 1)[-1] for k in set(a) | set(b) if a.get(k) != b.get(k)}
    assert differ == keys | {"dirpath"}  # and its own checkpoint folder
