"""RhythmicNet (models/rhythmic_net/): paper defaults, shapes, the drum-word constraints and bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from models.rhythmic_net import RhythmicNet
from models.rhythmic_net.model import balanced_bce
from models.rhythmic_net.words import NUM_WORDS, hits_to_words, taps, words_to_hits

TINY = dict(
    stgcn_channels=(8, 8),
    beat_d_model=16,
    beat_layers=1,
    beat_feedforward=32,
    max_relative_position=8,
    drum_d_model=32,
    drum_encoder_layers=1,
    drum_decoder_layers=1,
    drum_heads=2,
    drum_feedforward=64,
    unet_down=(4, 8),
    unet_up=(4,),
    unet_down_dropout=(0.0, 0.15),
    unet_up_dropout=(0.15,),
)


def test_defaults_are_the_paper_values() -> None:
    beat = RhythmicNet()
    h = beat.hparams
    assert (h.keypoint_layout, h.fps, h.displacement_scale, h.max_frames) == ("rhythmic17", 60.0, 100.0, 300)
    assert tuple(h.stgcn_channels) == (32,) * 4 + (64,) * 6 and h.temporal_kernel == 9
    net = beat.beat_net
    assert len(net.stgcn.blocks) == 10 and net.stgcn.adjacency.shape[0] == 2  # distance partition: self, neighbours
    assert all(block.tcn[2].stride == (1, 1) for block in net.stgcn.blocks)
    assert all(p.requires_grad for p in net.stgcn.edge_importance)
    encoder = net.encoder
    assert len(encoder.layers) == 2 and encoder.d_model == 64 and encoder.layers[0].norm_first
    assert encoder.layers[0].attn.num_heads == 2 and encoder.layers[0].ff[0].out_features == 256
    assert isinstance(encoder.layers[0].ff[1], torch.nn.GELU)
    assert net.ssm is not None and net.ssm.conv.kernel_size == (3, 3) and net.ssm.conv.out_channels == 2
    assert net.head.in_features == 64 and net.head.out_features == 1
    assert beat.drum_net is None

    drums = RhythmicNet(stage="rhythm2drum").drum_net
    assert beat.beat_net is not None and drums.d_model == 128
    assert len(drums.encoder.layers) == 3 and len(drums.decoder.layers) == 3
    assert drums.encoder.layers[0].attn.num_heads == 4 and drums.encoder.layers[0].ff[0].out_features == 256
    assert drums.rhythm_embed.num_embeddings == 2 and drums.decoder.head.out_features == NUM_WORDS + 1
    unet = drums.velocity_offset.unet
    assert [d[0].out_channels for d in unet.downs] == [16, 32, 64, 128, 128]
    assert [u[0].out_channels for u in unet.ups] == [64, 32, 16, 4] and unet.head.out_channels == 2


def test_video2rhythm_shapes_and_loss() -> None:
    model = RhythmicNet(**TINY)
    keypoints = torch.randn(2, 40, 17, 3) * 30
    keypoints[..., 2] = 1.0
    logits = model.beat_net(keypoints)
    assert logits.shape == (2, 40)
    beats = torch.zeros(2, 40)
    beats[:, ::20] = 1
    loss = model.training_step({"keypoints": keypoints, "beats": beats}, 0)
    loss.backward()
    assert torch.isfinite(loss) and model.beat_net.head.weight.grad is not None


def test_balanced_bce_weighs_positives_by_their_rarity() -> None:
    target = torch.tensor([1.0, 0.0, 0.0, 0.0])
    # a constant logit 0: each positive counts negatives / positives = 3 times, so the loss is (3 + 3) / 4 log 2
    assert torch.isclose(balanced_bce(torch.zeros(4), target), torch.tensor(1.5 * 0.6931472), atol=1e-5)


def test_words_round_trip() -> None:
    hits = (torch.rand(3, 32, 9) > 0.7).float()
    words = hits_to_words(hits)
    assert int(words.max()) < NUM_WORDS and torch.equal(words_to_hits(words), hits)
    assert torch.equal(taps(hits), (words > 0).long())


def _groove(batch: int = 3, steps: int = 32) -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    hits = (torch.rand(batch, steps, 9) > 0.8).float()
    velocity = torch.rand(batch, steps, 9) * hits
    offset = (torch.rand(batch, steps, 9) - 0.5) * hits
    return {
        "groove": torch.stack([hits, velocity, offset], 1),
        "groove_mask": torch.ones(batch, steps, dtype=torch.bool),
    }


def test_rhythm2drum_losses_and_groovae_offsets() -> None:
    model = RhythmicNet(stage="rhythm2drum", **TINY).eval()
    batch = _groove()
    losses = model.drum_losses(batch["groove"], batch["groove_mask"])
    assert all(torch.isfinite(v) for v in losses.values())
    _, offset = model.drum_net.velocity_offset(batch["groove"][:, 0])
    plain = torch.nn.functional.mse_loss(offset, batch["groove"][:, 2])
    assert torch.isclose(losses["offset_mse"], 4 * plain, rtol=1e-5)  # GrooVAE units: twice the scale
    loss = model.training_step(batch, 0)
    loss.backward()
    assert model.drum_net.decoder.head.weight.grad is not None


def test_rhythm_reaches_rhythm2drum_unchanged_and_hits_fall_on_taps() -> None:
    model = RhythmicNet(stage="rhythm2drum", **TINY).eval()
    rhythm = (torch.rand(4, 32) > 0.6).long()
    rhythm[0] = 0  # a silent window
    for greedy in (True, False):
        groove = model.drums_for_rhythm(rhythm.clone(), greedy=greedy, generator=torch.Generator().manual_seed(1))
        assert groove.shape == (4, 3, 32, 9)
        assert torch.equal(taps(groove[:, 0]), rhythm)  # hits only on taps, and every tap played
        assert bool((groove[:, 1][groove[:, 0] == 0] == 0).all()) and bool((groove[:, 2].abs() <= 0.5).all())


def test_greedy_equals_teacher_forced_argmax() -> None:
    model = RhythmicNet(stage="rhythm2drum", **TINY).eval()
    rhythm = (torch.rand(3, 32) > 0.5).long()
    words = model.drum_net.generate(rhythm, greedy=True)
    with torch.no_grad():
        forced = model.drum_net(rhythm, words).argmax(-1)
    assert torch.equal(forced, words)


def test_bad_input_gives_one_clear_error() -> None:
    model = RhythmicNet(**TINY)
    with pytest.raises(ValueError, match="rhythmic17"):
        model.training_step({"keypoints": torch.randn(1, 40, 25, 3), "beats": torch.zeros(1, 40)}, 0)
    with pytest.raises(ValueError, match="at least 2 frames"):
        model.beat_net(torch.randn(1, 1, 17, 3))
    hidden = torch.randn(1, 40, 17, 3)
    hidden[..., 2] = 0
    with pytest.raises(ValueError, match="no visible joint"):
        model.training_step({"keypoints": hidden, "beats": torch.zeros(1, 40)}, 0)
    with pytest.raises(ValueError, match="unknown stage"):
        RhythmicNet(stage="drums")


def test_checkpoint_of_another_stage_is_refused(tmp_path: Path) -> None:
    beat = RhythmicNet(**TINY)
    path = tmp_path / "video2rhythm.ckpt"
    torch.save({"state_dict": beat.state_dict(), "hyper_parameters": dict(beat.hparams)}, path)
    with pytest.raises(RuntimeError, match=r"video2rhythm\.ckpt \(rhythm2drum_ckpt\) has no drum_net weights"):
        RhythmicNet(stage="rhythm2drum", rhythm2drum_ckpt=str(path), **TINY)
