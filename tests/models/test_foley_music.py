"""FoleyMusic on random tensors: paper defaults, losses, schedule, ablation switches, generation, clear errors."""

from __future__ import annotations

import math

import pytest
import torch

from models.foley_music import FoleyMusic, token_nll_baseline
from models.nn.schedules import noam_factor
from music import events as ev
from tests.helpers.presets import debug_init_args

SMALL = debug_init_args("foley_music_small")  # experiments/debug/foley_music_small.yaml


def _batch(b: int = 4, joints: int = 65, length: int = 40, seed: int = 0, frames: int = 132) -> dict:
    gen = torch.Generator().manual_seed(seed)
    events = [ev.to_fixed_length(torch.randint(0, 240, (length,), generator=gen).tolist(), 64) for _ in range(b)]
    return {
        "keypoints": torch.randn(b, frames, joints, 3, generator=gen),
        "events": torch.tensor(events),
        "instrument": torch.tensor([0, 1, 2, 0][:b]),
        "meta": [{"name": f"c{i}"} for i in range(b)],
    }


def test_paper_defaults() -> None:
    model = FoleyMusic()
    h = model.hparams
    assert (h.d_model, h.num_layers, h.num_heads, h.dim_feedforward, h.dropout) == (512, 6, 8, 1024, 0.1)
    assert (h.lr, h.warmup_steps, tuple(h.betas), h.eps, h.beam_size) == (7e-4, 4000, (0.9, 0.98), 1e-9, 5)
    assert (h.max_events, h.fps, h.clip_seconds) == (512, 22.0, 6.0)
    assert len(model.encoder.blocks) == 10 and model.encoder.adjacency.shape == (3, 65, 65)
    assert len(model.decoder.layers) == 6
    memory = model.eval().encode(torch.randn(1, 132, 65, 3))
    assert memory.shape == (1, 33, 512)  # pose memory at T/4


def test_noam_schedule_peaks_at_warmup() -> None:
    assert noam_factor(1, 4000) == pytest.approx(1 / 4000)
    assert noam_factor(4000, 4000) == pytest.approx(1.0)
    assert noam_factor(16000, 4000) == pytest.approx(0.5)
    model = FoleyMusic(**SMALL)
    config = model.configure_optimizers()
    opt, sched = config["optimizer"], config["lr_scheduler"]["scheduler"]
    lrs = []
    for _ in range(10):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert max(lrs) == pytest.approx(7e-4) and lrs.index(max(lrs)) == 4
    assert opt.defaults["betas"] == (0.9, 0.98) and opt.defaults["eps"] == 1e-9


def test_loss_ignores_pad_and_training_lowers_it() -> None:
    torch.manual_seed(0)
    model = FoleyMusic(**SMALL, dropout=0.0, augment=False)
    batch = _batch(frames=24)
    nll, mask, _ = model.token_nll(batch)
    assert (nll[~mask] == 0).all() and mask.sum() == 4 * 41  # 40 events + EOS per clip
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(25):
        nll, mask, _ = model.token_nll(batch)
        loss = nll.sum() / mask.sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.6 * losses[0]


def test_prepends_sos_when_events_lack_it() -> None:
    inputs, target = FoleyMusic.split_events(torch.tensor([[1, 2, ev.EOS, ev.PAD]]))
    assert inputs.tolist() == [[ev.SOS, 1, 2, ev.EOS]] and target.tolist() == [[1, 2, ev.EOS, ev.PAD]]
    inputs, target = FoleyMusic.split_events(torch.tensor([[ev.SOS, 1, ev.EOS, ev.PAD]]))
    assert inputs.tolist() == [[ev.SOS, 1, ev.EOS]] and target.tolist() == [[1, ev.EOS, ev.PAD]]


def test_ablation_switches() -> None:
    batch = _batch()
    no_hands = FoleyMusic(**SMALL, use_hands=False)
    assert no_hands.encoder.num_nodes == 25 and no_hands.visual(batch).shape[2] == 25
    assert torch.equal(no_hands.visual(batch), batch["keypoints"][:, :, :25])
    gru = FoleyMusic(**SMALL, decoder="gru")
    assert torch.isfinite(gru.token_nll(batch)[0]).all()
    hands = FoleyMusic(**SMALL, keypoint_layout="hands42")
    assert hands.in_channels == 2 and hands.visual(_batch(joints=42)).shape[-1] == 2
    rgb = FoleyMusic(**SMALL, visual_input="rgb", feature_dim=24, feature_channels=(16, 16), feature_strides=(1, 1))
    features = dict(batch, visual_features=torch.randn(4, 6, 24))  # 1 row per second of a 6-s clip
    assert rgb.eval().encode(rgb.visual(features)).shape == (4, 6, 32)
    assert torch.isfinite(rgb.token_nll(features)[0]).all()
    with pytest.raises(KeyError, match="visual_features"):
        rgb.visual(batch)
    with pytest.raises(ValueError, match="hands42 lacks"):
        FoleyMusic(**SMALL, keypoint_layout="hands42", use_hands=False)


def test_zero_memory_ignores_the_video() -> None:
    model = FoleyMusic(**SMALL, zero_memory=True).eval()
    batch, other = _batch(seed=0), _batch(seed=1)
    other["events"] = batch["events"]
    assert torch.allclose(model.token_nll(batch)[0], model.token_nll(other)[0])
    model.zero_memory = False
    assert not torch.allclose(model.token_nll(batch)[0], model.token_nll(other)[0])


def test_generation_beam_greedy_sampling_and_examples() -> None:
    torch.manual_seed(0)
    model = FoleyMusic(**SMALL).eval()
    visual = model.visual(_batch())
    beam = model.generate(visual)
    greedy = model.generate(visual, decoding="greedy")
    one = model.generate(visual, beam_size=1)
    assert beam.tokens.shape[0] == 4 and beam.tokens.shape[1] <= 11
    width = min(one.tokens.shape[1], greedy.tokens.shape[1])
    assert torch.equal(one.tokens[:, :width], greedy.tokens[:, :width])
    assert (beam.scores >= greedy.scores - 1e-4).all()
    sampled = model.generate(visual, decoding="sample", generator=torch.Generator().manual_seed(0))
    assert sampled.tokens.shape[0] == 4
    examples = model.generate_examples(_batch())
    assert [e.name for e in examples[:2]] == ["c0/generated", "c0/truth"]
    assert [e.role for e in examples[:2]] == ["generated", "reference"]
    assert examples[1].midi.instruments[0].program == 40  # instrument 0 = violin
    assert model.training is False


def test_layout_mismatch_is_one_clear_error() -> None:
    class FakeDM:
        keypoint_layout = "hands42"

    model = FoleyMusic(**SMALL)

    class FakeTrainer:
        datamodule = FakeDM()

    model._trainer = FakeTrainer()  # type: ignore[assignment]
    with pytest.raises(ValueError, match="body65.*hands42"):
        model.setup("fit")


def test_unigram_baseline() -> None:
    events = torch.tensor([ev.to_fixed_length([1, 1, 2], 8)] * 3)
    nll = token_nll_baseline(events, events)
    assert 0 < nll < math.log(ev.VOCAB_SIZE)


def test_body_centred_pose_ignores_where_the_player_stands() -> None:
    """pose_normalization="body": the same performance shot from elsewhere in the frame, at another size, reads the
    same; with "none" (the loader's image coordinates) it does not; hands42 (no neck) keeps its coordinates."""
    torch.manual_seed(0)
    batch = _batch()
    batch["keypoints"][..., 2] = 0.8  # all detected
    moved = dict(batch, keypoints=batch["keypoints"].clone())
    moved["keypoints"][..., :2] = batch["keypoints"][..., :2] * 0.6 + torch.tensor([0.3, -0.2])
    body = FoleyMusic(**SMALL).eval()
    assert torch.allclose(body.token_nll(batch)[0], body.token_nll(moved)[0], atol=1e-4)
    image = FoleyMusic(**SMALL, pose_normalization="none").eval()
    memory = image.encoder(image.visual(batch))
    moved_gap = (image.encoder(image.visual(moved)) - memory).abs().mean()
    clip_gap = (memory - memory.roll(1, 0)).abs().mean()  # how much two different clips differ
    assert moved_gap > 0.3 * clip_gap, (moved_gap, clip_gap)
    hands = FoleyMusic(**SMALL, keypoint_layout="hands42")
    assert hands.pose_frame is None and image.pose_frame is None and body.pose_frame == (1, (1, 8))
    with pytest.raises(ValueError, match="pose_normalization must be"):
        FoleyMusic(**SMALL, pose_normalization="bbox")


def test_event_clock_follows_the_time_shifts() -> None:
    model = FoleyMusic(**SMALL)
    shift = ev.TIME_SHIFT_OFFSET + 10
    tokens = torch.tensor([[ev.SOS, ev.VELOCITY_OFFSET, 40, shift, 40 + ev.NOTE_OFF_OFFSET, shift]])
    seconds = float(ev.TIME_SHIFT_BINS[10])
    expected = torch.tensor([[0, 0, 0, seconds, seconds, 2 * seconds]]) * model.hparams.positions_per_second
    assert torch.allclose(model.decoder.clock(tokens), expected)
    assert FoleyMusic(**SMALL, event_clock=False).decoder.token_advance is None


def test_memory_norm_puts_the_pose_on_the_positions_scale() -> None:
    """memory_norm (default, as the released code's encoder LayerNorm): each memory step's content has zero mean and
    unit variance before the positions are added; without it the fresh ST-GCN's output is several times smaller."""
    torch.manual_seed(0)
    visual = FoleyMusic(**SMALL).visual(_batch())
    normed = FoleyMusic(**SMALL, memory_positions=False).eval()
    memory = normed.encode(visual)
    assert torch.allclose(memory.mean(-1), torch.zeros(()), atol=1e-4)
    assert torch.allclose(memory.var(-1, unbiased=False), torch.ones(()), atol=1e-2)
    torch.manual_seed(0)
    raw = FoleyMusic(**SMALL, memory_positions=False, memory_norm=False).eval()
    assert isinstance(raw.memory_norm, torch.nn.Identity)
    assert raw.encode(visual).pow(2).mean().sqrt() < 0.5


def test_parameter_count_matches_the_released_model() -> None:
    """The released code shares each layer's relative-position table by its heads: 22,697,559 parameters at the
    paper's sizes; a table per head adds 6 layers x 7 heads x 512 distances x 64 = 1,376,256."""
    shared = FoleyMusic()
    per_head = FoleyMusic(relative_per_head=True)
    assert sum(p.numel() for p in shared.parameters()) == 22_697_559
    assert sum(p.numel() for p in per_head.parameters()) == 24_073_815
    assert shared.decoder.layers[0].self_attn.relative.shape == (1, 512, 64)
    assert per_head.decoder.layers[0].self_attn.relative.shape == (8, 512, 64)


def test_released_st_gcn_partition_counts_on_body65() -> None:
    """ST-GCN's reference graph measures distances to the centre only up to one hop (docs/FOLEY_MUSIC.md)."""
    exact = FoleyMusic(d_model=32, num_layers=1, dim_feedforward=32)
    released = FoleyMusic(d_model=32, num_layers=1, dim_feedforward=32, gcn_center_hops=1)
    assert [int((a != 0).sum()) for a in exact.encoder.adjacency] == [65, 64, 64]
    assert [int((a != 0).sum()) for a in released.encoder.adjacency] == [65, 118, 10]
    # the same neighbourhoods, only split differently
    assert torch.allclose(exact.encoder.adjacency.sum(0), released.encoder.adjacency.sum(0))


def test_released_513_ids_give_the_decoder_512_inputs() -> None:
    """docs/FOLEY_MUSIC.md: data max_events 513 (the released max_seq + 1) feeds 512 inputs to a 512-position model."""
    model = FoleyMusic(**SMALL).eval()
    ids = ev.to_fixed_length([i % 240 for i in range(600)], 513)
    assert len(ids) == 513 and ids[0] == ev.SOS and ids[-1] == ev.EOS
    inputs, target = FoleyMusic.split_events(torch.tensor([ids]))
    assert inputs.shape == target.shape == (1, 512)
    with torch.no_grad():
        assert model(torch.randn(1, 132, 65, 3), inputs).shape == (1, 512, ev.VOCAB_SIZE)
