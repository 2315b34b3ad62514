"""FoleyMusic learns on the synthetic URMP data: held-out token NLL beats a unigram baseline (CI: tiny model, 80
steps). Slow: the ST-GCN encoder reads the sounding pitch off the keypoints once they are body-centred (and not in
image coordinates); the decoder reads an oracle memory but even that stays above the target ratio, so "it must use the
motion" (pose-conditioned NLL <= 0.8 x the zeroed-pose decoder's) is an xfail at CPU scale, and so is its second check
(beam-searched MIDI follows the pose's pitch classes better than the zeroed-pose decoder's)."""

from __future__ import annotations

import pytest
import pytorch_lightning as pl
import torch

from datamodules.urmp import URMPDataModule
from models.foley_music import FoleyMusic, token_nll_baseline

TINY = dict(
    d_model=48,
    num_layers=2,
    num_heads=4,
    dim_feedforward=96,
    gcn_blocks=[(-1, 8, 1), (8, 16, 2), (16, 16, 2)],
    max_events=128,
    warmup_steps=20,
    lr=3e-3,
    norm_first=True,
)


def _data(minutes: float, clips: int) -> tuple[list[dict], list[dict]]:
    dm = URMPDataModule(
        fields=("keypoints", "events", "instrument"),
        batch_size=8,
        synthetic_minutes=minutes,
        max_events=128,
        clips_per_epoch=clips,
    )
    dm.prepare_data()
    dm.setup("fit")
    return list(dm.train_dataloader()), list(dm.val_dataloader())


def _train(model: FoleyMusic, train: list[dict], steps: int) -> None:
    config = model.configure_optimizers()
    opt, schedule = config["optimizer"], config["lr_scheduler"]["scheduler"]
    model.train()
    for step in range(steps):
        nll, mask, _ = model.token_nll(train[step % len(train)], augment=True)
        loss = nll.sum() / mask.sum()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)  # as the configs' gradient_clip_val
        opt.step()
        schedule.step()


@torch.no_grad()
def _nll(model: FoleyMusic, batches: list[dict]) -> float:
    model.eval()
    total, count = 0.0, 0
    for batch in batches:
        nll, mask, _ = model.token_nll(batch)
        total, count = total + nll.sum().item(), count + mask.sum().item()
    return total / count


def test_beats_unigram_baseline_fast() -> None:
    pl.seed_everything(0)
    train, val = _data(1.0, 64)  # 0.5 min (4 pieces) is too little music: the held-out piece stays unpredictable
    baseline = token_nll_baseline(torch.cat([b["events"] for b in train]), torch.cat([b["events"] for b in val]))
    model = FoleyMusic(**TINY)
    before = _nll(model, val)
    _train(model, train, 80)
    after = _nll(model, val)
    assert after < before - 1.0
    assert after < 0.95 * baseline, (after, baseline)


# Does the decoder use the motion? The acceptance check compares the pose-conditioned model with the same decoder
# trained identically with the pose memory zeroed, on held-out pieces of synthetic URMP. Violin only: its pitch is
# a function of the left hand (string, position, finger) that the synthetic performer draws; the winds' and brass'
# pitch is only partly visible. One model is trained per variant with the same seed, batches and schedule.
VIOLIN_MINUTES = 10.0  # 30 pieces (~25 violin tracks): fewer pieces and the decoder memorises their pitch sequences
VIOLIN_STEPS = 400
VIOLIN_MODEL = dict(TINY, d_model=64, dim_feedforward=128, max_events=256, lr=2e-3, warmup_steps=30)
VIOLIN_MODEL["gcn_blocks"] = [(-1, 16, 1), (16, 32, 2), (32, 32, 2)]


def _kinds(target: torch.Tensor) -> torch.Tensor:
    """Event kind of each target id: 0 note-on, 1 note-off, 2 velocity, 3 time-shift, 4 SOS/EOS/PAD."""
    kind = torch.full_like(target, 4)
    for k, (low, high) in enumerate(((0, 88), (88, 176), (176, 208), (208, 240))):
        kind[(target >= low) & (target < high)] = k
    return kind


@torch.no_grad()
def _nll_by_kind(model: FoleyMusic, batches: list[dict]) -> tuple[float, list[float]]:
    """Held-out NLL per token, overall and per event kind (note-on, note-off, velocity, time-shift, EOS)."""
    model.eval()
    total, count = torch.zeros(5, dtype=torch.float64), torch.zeros(5, dtype=torch.float64)
    for batch in batches:
        nll, mask, _ = model.token_nll(batch)
        kind = _kinds(model.split_events(batch["events"].long())[1])
        for k in range(5):
            rows = mask & (kind == k)
            total[k] += nll[rows].sum().item()
            count[k] += rows.sum().item()
    return float(total.sum() / count.sum()), (total / count.clamp_min(1)).tolist()


@pytest.fixture(scope="module")
def violin_results() -> dict[str, tuple[float, list[float]]]:
    """Held-out NLL (overall, per event kind) of the pose-conditioned and the zeroed-pose decoder, trained alike."""
    dm = URMPDataModule(
        fields=("keypoints", "events", "instrument"),
        instruments=("vn",),
        batch_size=8,
        synthetic_minutes=VIOLIN_MINUTES,
        max_events=256,
        clips_per_epoch=512,
    )
    dm.prepare_data()
    dm.setup("fit")
    train, val = list(dm.train_dataloader()), list(dm.val_dataloader())
    results = {}
    for name, zero in (("pose", False), ("zeroed", True)):
        pl.seed_everything(0)
        model = FoleyMusic(**VIOLIN_MODEL, zero_memory=zero)
        _train(model, train, VIOLIN_STEPS)
        results[name] = _nll_by_kind(model, val)
    print(f"held-out violin NLL (all, [note-on, note-off, velocity, time-shift, EOS]): {results}")
    return results


@pytest.mark.slow
@pytest.mark.xfail(
    reason="acceptance target (NLL ratio <= 0.8) not reached at CPU scale: measured 1.009 here and 0.98-1.0 with 30 "
    "min and 1600 steps of batch 16; even a perfect encoder (test_decoder_uses_an_oracle_memory_slow) reaches only "
    "0.89 with this decoder and data (README, Foley Music)",
    strict=False,
)
def test_acceptance_ratio_slow(violin_results: dict[str, tuple[float, list[float]]]) -> None:
    assert violin_results["pose"][0] <= 0.8 * violin_results["zeroed"][0], violin_results


# Can the encoder see pitch at all? The ST-GCN of VIOLIN_MODEL plus a linear layer is trained to name the sounding
# pitch (or rest) at each pose-memory step of held-out violin pieces, end to end with cross-entropy: the part of the
# Foley model that must learn "pitch from the left hand" without the decoder in between.
PROBE_STEPS = 500
MEMORY_STEPS = 33  # 132 frames at 22 fps / 4


def _sounding_pitch(events: torch.Tensor, steps: int = MEMORY_STEPS, hop: int = 4, fps: float = 22.0) -> torch.Tensor:
    """Per step of ``hop`` frames (a pose-memory step by default), the pitch index 0..87 sounding at the step's
    centre, 88 in rests: ``[B, steps]``."""
    import numpy as np

    from music import events as ev

    centres = (np.arange(steps) * hop + (hop - 1) / 2) / fps
    out = torch.full((events.shape[0], steps), ev.NUM_PITCHES, dtype=torch.long)
    for row, ids in enumerate(events):
        for note in ev.decode(ids).instruments[0].notes:
            inside = torch.from_numpy((centres >= note.start) & (centres < note.end))
            out[row, inside] = note.pitch - ev.PITCH_LOW
    return out


def _onset_frames(events: torch.Tensor, frames: int = 132, fps: float = 22.0) -> torch.Tensor:
    """1 at the frame each note starts in, else 0: ``[B, frames]``."""
    from music import events as ev

    out = torch.zeros(events.shape[0], frames)
    for row, ids in enumerate(events):
        for note in ev.decode(ids).instruments[0].notes:
            if 0 <= int(note.start * fps) < frames:
                out[row, int(note.start * fps)] = 1.0
    return out


def _probe_accuracy(norm: str, train: list[dict], val: list[dict], labels: torch.Tensor) -> float:
    """Train FoleyMusic's encoder (its own ``encode``: augmentation, ``pose_normalization``, ST-GCN; no memory
    positions) plus a linear layer to name the sounding pitch; held-out accuracy."""
    from models.nn.keypoint_augment import random_affine
    from music import events as ev

    pl.seed_everything(0)
    model = FoleyMusic(**VIOLIN_MODEL, pose_normalization=norm, memory_positions=False)
    head = torch.nn.Linear(VIOLIN_MODEL["d_model"], ev.NUM_PITCHES + 1)
    opt = torch.optim.Adam([*model.encoder.parameters(), *head.parameters()], lr=3e-3)
    model.train()
    for step in range(PROBE_STEPS):
        batch = train[step % len(train)]
        logits = head(model.encode(random_affine(model.visual(batch))))
        loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), batch["pitch"].flatten())
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        guesses = torch.cat([head(model.encode(model.visual(b))).argmax(-1) for b in val])
    return float((guesses == labels).float().mean())


@pytest.fixture(scope="module")
def violin_30min() -> tuple[list[dict], list[dict]]:
    """30 min of synthetic violin (~75 pieces), batches of 16; the held-out batches are whole held-out pieces."""
    dm = URMPDataModule(
        fields=("keypoints", "events", "instrument"),
        instruments=("vn",),
        batch_size=16,
        synthetic_minutes=30.0,
        max_events=256,
        clips_per_epoch=1024,
    )
    dm.prepare_data()
    dm.setup("fit")
    return list(dm.train_dataloader()), list(dm.val_dataloader())


@pytest.fixture(scope="module")
def probe_results(violin_30min: tuple[list[dict], list[dict]]) -> dict[str, float]:
    """Held-out accuracy of the encoder probe with body-centred and with image coordinates, and of a constant."""
    train, val = violin_30min
    for batch in train + val:
        batch["pitch"] = _sounding_pitch(batch["events"])
    labels = torch.cat([b["pitch"] for b in val])
    commonest = torch.cat([b["pitch"] for b in train]).flatten().mode().values
    results = {"constant": float((labels == commonest).float().mean())}
    for norm in ("body", "none"):
        results[norm] = _probe_accuracy(norm, train, val, labels)
    print(f"held-out sounding-pitch accuracy of the ST-GCN probe: {results}")
    return results


@pytest.mark.slow
def test_encoder_reads_pitch_from_body_centred_keypoints_slow(probe_results: dict[str, float]) -> None:
    """Body-centred keypoints: the encoder learns the sounding pitch (measured 0.50 after 500 steps here, 0.66 in a
    run with other random draws; the constant 'most common pitch' scores 0.18). Image coordinates: hardly (0.23),
    because where the player stands in the frame dominates every joint's variance, even after the input BatchNorm."""
    assert probe_results["body"] >= 0.4, probe_results
    assert probe_results["none"] <= 0.3, probe_results
    assert probe_results["body"] - probe_results["none"] >= 0.15, probe_results


# How far could a perfect encoder take this decoder? The same decoder is trained on an *oracle* memory built from the
# clip's own notes: per frame at 22 fps, an embedding of the sounding pitch plus a learned onset vector where a note
# starts, plus the memory positions FoleyMusic uses. It bounds what any pose encoder can give the decoder at this
# size and length of training, and so tells whether the target ratio (<= 0.8) is reachable here at all.
ORACLE_STEPS = 800  # the zeroed-pose decoder's held-out NLL is lowest near here; later it over-fits the 25 pieces


class _OracleMemoryFoley(FoleyMusic):
    """FoleyMusic whose memory is the oracle described above (the batch's ``frame_pitch`` and ``frame_onset``)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        from music import events as ev

        self.pitch_embedding = torch.nn.Embedding(ev.NUM_PITCHES + 1, self.hparams.d_model)
        self.onset_vector = torch.nn.Parameter(torch.randn(self.hparams.d_model))

    def logits_and_target(self, batch: dict, augment: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        from models.nn.transformer_decoder import sinusoidal_encoding

        h = self.hparams
        frames = batch["frame_pitch"].shape[1]
        memory = self.pitch_embedding(batch["frame_pitch"]) + batch["frame_onset"][..., None] * self.onset_vector
        memory = memory + sinusoidal_encoding(torch.arange(frames) * h.positions_per_second / h.fps, h.d_model)
        inputs, target = self.split_events(batch["events"].long())
        return self.decoder(inputs, memory), target


@pytest.fixture(scope="module")
def oracle_results(violin_30min: tuple[list[dict], list[dict]]) -> dict[str, tuple[float, list[float]]]:
    """Held-out NLL (overall, per event kind) of the decoder on the oracle memory and on a zeroed memory."""
    train, val = violin_30min
    for batch in train + val:
        batch["frame_pitch"] = _sounding_pitch(batch["events"], steps=132, hop=1)
        batch["frame_onset"] = _onset_frames(batch["events"])
    results = {}
    for name, cls, zero in (("oracle", _OracleMemoryFoley, False), ("zeroed", FoleyMusic, True)):
        pl.seed_everything(0)
        model = cls(**dict(VIOLIN_MODEL, warmup_steps=300), zero_memory=zero)
        _train(model, train, ORACLE_STEPS)
        results[name] = _nll_by_kind(model, val)
    print(f"held-out violin NLL, oracle vs zeroed memory (all, [on, off, velocity, shift, EOS]): {results}")
    return results


@pytest.mark.slow
def test_decoder_uses_an_oracle_memory_slow(oracle_results: dict[str, tuple[float, list[float]]]) -> None:
    """The decoder reads an informative memory (measured: NLL 1.529 vs 1.712 zeroed, note-on 1.27 vs 2.60), and even
    this perfect memory leaves the ratio near 0.9: the time shifts (40 % of the tokens, ~2.5 nats) do not get easier
    from onset frames at this scale, so the 0.8 target needs a larger decoder or far longer training."""
    oracle, zeroed = oracle_results["oracle"], oracle_results["zeroed"]
    assert oracle[0] <= 0.95 * zeroed[0], oracle_results
    assert oracle[1][0] <= zeroed[1][0] - 0.5, oracle_results  # note-on: the pitch is read from the memory


# The second check: the MIDI generated for held-out clips has a pitch-class histogram closer to the truth's
# when the decoder sees the pose. Same 30 min of violin; both models trained 1200 steps (warm-up 300), beam search.
GENERATION_STEPS = 1200


@pytest.fixture(scope="module")
def pitch_class_results(violin_30min: tuple[list[dict], list[dict]]) -> dict[str, float]:
    """Mean pitch-class histogram correlation (generated vs true MIDI, beam 5) over the held-out violin clips."""
    import numpy as np

    from scripts.reproduce_foley import generate_val, pitch_class_correlation

    train, val = violin_30min
    results = {}
    for name, zero in (("pose", False), ("zeroed", True)):
        pl.seed_everything(0)
        model = FoleyMusic(**dict(VIOLIN_MODEL, warmup_steps=300, max_generate_events=256), zero_memory=zero)
        _train(model, train, GENERATION_STEPS)
        pairs = generate_val(model, val)  # beam search (the default decoding), violin's program from the instrument
        results[name] = float(np.nanmean([pitch_class_correlation(generated, truth) for generated, truth, _ in pairs]))
    print(f"pitch-class histogram correlation with the truth, held-out violin clips: {results}")
    return results


@pytest.mark.slow
@pytest.mark.xfail(
    reason="the pitch-class check is not reliably met at CPU scale: this test measured 0.179 with the pose vs "
    "0.174 zeroed; a run with another batch order 0.146 vs -0.039 (the zeroed decoder's score swings with the "
    "training order over 32 held-out clips)",
    strict=False,
)
def test_generated_pitch_classes_follow_the_pose_slow(pitch_class_results: dict[str, float]) -> None:
    """Beam search; in the run with the other batch order greedy decoding gave 0.212 vs 0.021 and sampling at
    temperature 1 0.006 vs 0.005 (the pose's small effect on note-on NLL drowns in the sampled noise)."""
    assert pitch_class_results["pose"] >= pitch_class_results["zeroed"] + 0.1, pitch_class_results
