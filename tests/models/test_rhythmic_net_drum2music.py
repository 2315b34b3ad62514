"""RhythmicNet's Drum2Music stage and the chain (models/rhythmic_net/drum2music.py, chain.py): paper defaults, the
position embedding, causality, cached = uncached sampling, the loss, bad input and ``cli.py generate`` end to end."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pretty_midi
import pytest
import soundfile as sf
import torch
import torch.nn.functional as F
import yaml

from datamodules.multitrack_midi import tokenizer
from models.nn.transformer_xl import XLStack
from models.rhythmic_net import RhythmicNet
from models.rhythmic_net.chain import bars_to_midi, beat_aligned_grid, drums_for_taps, midi_to_bars, place
from models.rhythmic_net.drum2music import OTHER, PAD_POSITION

TINY = dict(
    stage="drum2music",
    music_d_model=32,
    music_encoder_layers=1,
    music_decoder_layers=2,
    music_heads=2,
    music_feedforward=64,
    music_dropout=0.0,
    music_mem_len=24,
    max_bar_tokens=24,
)


def _ids(*names: str) -> list[int]:
    vocab = tokenizer().tokenizer.vocab
    return [vocab[name] for name in names]


def _rows(names: list[list[str]], length: int) -> torch.Tensor:
    out = torch.full((len(names), length), tokenizer().pad_id, dtype=torch.long)
    for i, row in enumerate(names):
        out[i, : len(row)] = torch.tensor(_ids(*row))
    return out


NOTE = ["Program_0", "Velocity_79", "Duration_1.0.4"]
BAR = ["Bar_None", "TimeSig_4/4", "Position_0", "Tempo_121.29", *NOTE[:1], "Pitch_60", *NOTE[1:]]
BAR += ["Position_8", *NOTE[:1], "Pitch_64", *NOTE[1:], "EOS_None"]
HIT = ["Program_-1", "PitchDrum_{}", "Velocity_103", "Duration_0.1.4"]
DRUM_BAR = ["Bar_None", "TimeSig_4/4", "Position_0", *(h.format(36) for h in HIT)]
DRUM_BAR += ["Position_4", *(h.format(38) for h in HIT), "EOS_None"]


def _tiny(**overrides) -> RhythmicNet:
    torch.manual_seed(0)
    return RhythmicNet(**(TINY | overrides)).eval()


def _song_rows(bars: int = 3, length: int = 24) -> tuple[torch.Tensor, torch.Tensor]:
    """Drum and instrument rows ``[1, bars, length]`` from the token lists above (one song of ``bars`` bars)."""
    return _rows([DRUM_BAR] * bars, length)[None], _rows([BAR] * bars, length)[None]


def test_defaults_are_the_paper_values() -> None:
    model = RhythmicNet(stage="drum2music")
    h, net = model.hparams, model.music_net
    assert (h.instrument, h.music_temperature, h.music_top_k, h.music_lr, h.max_bar_tokens) == ("piano", 1.2, 5,
                                                                                               2e-4, 256)  # fmt: skip
    assert model.beat_net is None and model.drum_net is None and model.program == 0
    encoder, decoder = net.encoder, net.decoder
    assert isinstance(encoder, XLStack) and isinstance(decoder, XLStack)
    assert (len(encoder.layers), len(decoder.layers), encoder.d_model, decoder.mem_len) == (4, 8, 512, 256)
    assert not encoder.causal and not encoder.cross_attention and decoder.causal and decoder.cross_attention
    attn = decoder.layers[0].attn
    assert (attn.num_heads, attn.head_dim, attn.dropout) == (8, 64, 0.1)
    assert decoder.layers[0].ff[0].out_features == 2048 and decoder.layers[0].norms[0].normalized_shape == (512,)
    assert net.drum_embed is not net.instrument_embed and net.position_embed.num_embeddings == 18
    assert net.head.out_features == tokenizer().vocab_size
    assert sum(p.numel() for p in net.parameters()) == 50_330_198  # docs/RHYTHMIC_NET.md
    assert model.configure_optimizers().param_groups[0]["lr"] == 2e-4
    assert RhythmicNet(stage="drum2music", instrument="guitar").program == 24 and int(net.program) == 0


def test_position_embedding_index() -> None:
    net = _tiny().music_net
    row = _rows([BAR], 18)
    expected = [OTHER, OTHER, 0, OTHER, 0, 0, 0, 0, 8, 8, 8, 8, 8, OTHER] + [PAD_POSITION] * 4
    assert net.positions(row)[0].tolist() == expected
    # a note before any Position token of its bar counts as "other"
    assert net.positions(_rows([["Bar_None", "Pitch_60", "Position_3", "Pitch_62"]], 4))[0].tolist() == [
        OTHER, OTHER, 3, 3]  # fmt: skip


def test_decoder_is_causal_and_reads_the_whole_current_drum_bar() -> None:
    net = _tiny().music_net
    drums, instrument = _song_rows(bars=2)
    changed = instrument.clone()
    changed[0, 1, 6] = _ids("Pitch_67")[0]
    later_drum = drums.clone()
    later_drum[0, 1, 9] = _ids("PitchDrum_42")[0]
    with torch.no_grad():
        base = net(drums, instrument)
        after = net(drums, changed)
        drummed = net(later_drum, instrument)
    assert torch.allclose(base[:, 0], after[:, 0]) and torch.allclose(base[0, 1, :6], after[0, 1, :6], atol=1e-6)
    assert not torch.allclose(base[0, 1, 6:], after[0, 1, 6:])
    # the encoder is bidirectional: a drum token late in bar 1 changes the prediction of the bar's first tokens
    assert torch.allclose(base[:, 0], drummed[:, 0]) and not torch.allclose(base[0, 1, :2], drummed[0, 1, :2])


def test_memory_carries_the_previous_bar() -> None:
    net = _tiny().music_net
    drums, instrument = _song_rows(bars=2)
    other = instrument.clone()
    other[0, 0, 5] = _ids("Pitch_48")[0]
    with torch.no_grad():
        a, b = net(drums, instrument), net(drums, other)
    assert not torch.allclose(a[0, 1], b[0, 1])


def test_loss_is_the_nll_of_real_tokens_and_trains() -> None:
    model = _tiny()
    drums, instrument = _song_rows(bars=2)
    net = model.music_net
    with torch.no_grad():
        logits = net(drums, instrument)
    targets = net.targets(instrument)
    real = targets != net.pad_id
    assert int(real.sum()) == 2 * (len(BAR) - 1)  # every token after Bar, up to EOS; no PAD
    expected = F.cross_entropy(logits[real], targets[real])
    model.train()
    losses = model.music_losses(drums, instrument)
    model.eval()
    assert torch.isclose(model.music_losses(drums, instrument)["nll"], expected, atol=1e-5)
    assert {"loss", "nll", "accuracy", "position_nll"} <= set(losses)
    losses["loss"].backward()
    assert net.drum_embed.weight.grad is not None and net.decoder.layers[0].cross.q.weight.grad is not None
    # the batch's instrument must be the model's
    batch = {"drum_tokens": drums, "instrument_tokens": instrument, "program": torch.tensor([24])}
    with pytest.raises(ValueError, match="guitar|program"):
        model.training_step(batch, 0)


def test_cached_sampling_equals_uncached_and_respects_the_vocabulary() -> None:
    model = _tiny()
    drums, _ = _song_rows(bars=3)
    drums = torch.cat([drums, drums.flip(1)])
    allowed = model.allowed_music_tokens()
    net = model.music_net
    outs = []
    for use_cache in (True, False):
        generator = torch.Generator().manual_seed(7)
        outs.append(net.generate(drums, 1.2, 5, allowed, generator=generator, use_cache=use_cache))
    assert torch.equal(outs[0], outs[1])
    rows = outs[0]
    tok = tokenizer()
    assert rows.shape == drums.shape and bool((rows[..., 0] == tok.tokenizer.vocab["Bar_None"]).all())
    for row in rows.reshape(-1, rows.shape[-1]).tolist():
        end = row.index(tok.eos_id)  # every bar ends, forced at the row's end if need be
        assert all(t == tok.pad_id for t in row[end + 1 :])
        names = tok.tokens(row[1:end])
        assert all(allowed[t] for t in row[1:end]) and "Bar_None" not in names
        assert not any(n.startswith(("PitchDrum_", "PAD")) or n.startswith("Program_") and n != "Program_0"
                       for n in names)  # fmt: skip


def test_greedy_equals_teacher_forced_argmax() -> None:
    model = _tiny()
    drums, _ = _song_rows(bars=2)
    net = model.music_net
    allowed = model.allowed_music_tokens()
    rows = net.generate(drums, allowed=allowed, greedy=True)
    with torch.no_grad():
        logits = net(drums, rows).masked_fill(~allowed, float("-inf"))
    logits[..., [net.pad_id, net.bar_id]] = float("-inf")
    predicted = logits.argmax(-1)
    for bar in range(rows.shape[1]):
        row = rows[0, bar].tolist()
        end = row.index(net.eos_id)
        if end < rows.shape[-1] - 1:  # a bar that ended by itself: every token was the argmax, EOS included
            assert predicted[0, bar, :end].tolist() == row[1 : end + 1]
        else:
            assert predicted[0, bar, : end - 1].tolist() == row[1:end]


def test_bars_round_trip_through_remi() -> None:
    midi = pretty_midi.PrettyMIDI(initial_tempo=100.0)
    piano = pretty_midi.Instrument(0)
    beat = 0.6
    for k in range(10):
        piano.notes.append(pretty_midi.Note(80, 60 + k, k * beat, k * beat + beat))
    midi.instruments.append(piano)
    rows = midi_to_bars(midi, 64)
    assert rows.shape == (3, 64)  # 10 beats = 3 bars of 4/4
    back = bars_to_midi(rows, tempo=100.0)
    notes = back.instruments[0].notes
    assert back.instruments[0].program == 0 and [n.pitch for n in notes] == list(range(60, 70))
    assert np.allclose([n.start for n in notes], [k * beat for k in range(10)], atol=1e-6)


def test_grid_puts_beats_on_quarter_notes_and_drums_fall_on_taps() -> None:
    beats = np.arange(0.55, 6.0, 0.5)
    taps, start, step = beat_aligned_grid(beats, np.array([0.8]), 6.0)
    assert step == pytest.approx(0.125)
    index = np.round((beats - start) / step).astype(int)
    assert np.all(index % 4 == 0) and np.all(taps[index] == 1) and taps[int(round((0.8 - start) / step))] == 1
    model = RhythmicNet(stage="rhythm2drum", drum_d_model=16, drum_encoder_layers=1, drum_decoder_layers=1,
                        drum_heads=2, drum_feedforward=32, unet_down=(4, 8), unet_up=(4,),
                        unet_down_dropout=(0.0, 0.15), unet_up_dropout=(0.15,)).eval()  # fmt: skip
    groove = drums_for_taps(model, taps)
    assert groove.shape == (3, len(taps), 9)
    assert torch.equal(groove[0].amax(-1) > 0.5, torch.as_tensor(taps) == 1)  # the rhythm reaches the drums


def test_place_moves_and_cuts() -> None:
    midi = pretty_midi.PrettyMIDI(initial_tempo=120.0)
    track = pretty_midi.Instrument(0)
    track.notes += [pretty_midi.Note(90, 60, 0.0, 0.5), pretty_midi.Note(90, 62, 1.0, 3.0)]
    midi.instruments.append(track)
    out = place(midi, -0.25, 2.0)
    assert [(n.pitch, n.start, n.end) for n in out.instruments[0].notes] == [(62, 0.75, 2.0)]


# ------------------------------------------------------------------------------------------------------ bad input
def test_a_checkpoint_of_another_stage_is_refused(tmp_path: Path) -> None:
    drums_model = RhythmicNet(stage="rhythm2drum", drum_d_model=16, drum_encoder_layers=1, drum_decoder_layers=1,
                              drum_heads=2, drum_feedforward=32, unet_down=(4, 8), unet_up=(4,),
                              unet_down_dropout=(0.0, 0.15), unet_up_dropout=(0.15,))  # fmt: skip
    path = tmp_path / "rhythm2drum.ckpt"
    torch.save({"state_dict": drums_model.state_dict(), "hyper_parameters": dict(drums_model.hparams)}, path)
    with pytest.raises(RuntimeError, match=r"rhythm2drum\.ckpt.*no beat_net"):
        RhythmicNet(**TINY, video2rhythm_ckpt=str(path))
    with pytest.raises(RuntimeError, match="drum2music model needs music_net.*another stage"):
        _tiny().load_state_dict(drums_model.state_dict())


def test_midi_without_drums_is_named(tmp_path: Path) -> None:
    from datamodules.multitrack_midi import MultitrackMIDIDataModule

    midi = pretty_midi.PrettyMIDI(initial_tempo=120.0)
    piano = pretty_midi.Instrument(0)
    piano.notes.append(pretty_midi.Note(80, 60, 0.0, 1.0))
    midi.instruments.append(piano)
    path = tmp_path / "lmd_full" / "a" / "a0.mid"
    path.parent.mkdir(parents=True)
    midi.write(str(path))
    data = MultitrackMIDIDataModule(root=str(tmp_path), strict=True, num_workers=0)
    with pytest.raises(ValueError, match=r"a0\.mid has no drum notes"):
        data.setup("fit")


def test_generate_needs_trained_networks_and_the_model_s_instrument(tmp_path: Path) -> None:
    model = _tiny()
    with pytest.raises(RuntimeError, match="video2rhythm"):
        model.generate_from_video(str(tmp_path / "v.mp4"))
    with pytest.raises(ValueError, match="adds piano, not guitar"):
        model.generate_from_video(str(tmp_path / "v.mp4"), instrument="guitar")


# ----------------------------------------------------------------------------------------------- end to end
@pytest.fixture(scope="module")
def synthetic_aistpp() -> Path:
    from datamodules.synthetic import ensure

    return ensure("aistpp", 0.5, 0)


def _debug(repo_root: Path, name: str) -> dict:
    base = yaml.safe_load((repo_root / f"experiments/{name}.yaml").read_text())["model"]["init_args"]
    debug = yaml.safe_load((repo_root / f"experiments/debug/{name}.yaml").read_text())["model"]["init_args"]
    return base | debug


def _chain_args(repo_root: Path, stages: dict[str, Path]) -> dict:
    """The debug drum2music model's arguments with the earlier stages' checkpoints."""
    paths = {f"{stage}_ckpt": str(path) for stage, path in stages.items()}
    return _debug(repo_root, "rhythmic_net_drum2music") | paths


def _save(model: RhythmicNet, path: Path) -> Path:
    torch.save({"state_dict": model.state_dict(), "hyper_parameters": dict(model.hparams)}, path)
    return path


def test_generate_chains_three_stage_checkpoints(tmp_path: Path, repo_root: Path, synthetic_aistpp: Path) -> None:
    """Debug-size checkpoints of the three stages (untrained): the drum2music model loads the earlier two by path,
    its checkpoint carries all three, and ``cli.py generate`` makes MIDI, WAV and MP4 covering the video."""
    import cli

    torch.manual_seed(0)
    stages = {}
    for stage in ("video2rhythm", "rhythm2drum"):
        stages[stage] = _save(RhythmicNet(**_debug(repo_root, f"rhythmic_net_{stage}")), tmp_path / f"{stage}.ckpt")
    chained = RhythmicNet(**_chain_args(repo_root, stages))
    assert chained.loaded_networks() == {"beat_net", "drum_net"}
    ckpt = _save(chained, tmp_path / "drum2music.ckpt")
    video = sorted((synthetic_aistpp / "videos").glob("*.mp4"))[0]
    keypoints = synthetic_aistpp / "keypoints2d" / f"{video.stem.replace('_c01_', '_cAll_')}.pkl"
    config = ["--trainer.logger", "false"]
    for folder in ("experiments", "experiments/debug"):
        config += ["--config", str(repo_root / folder / "rhythmic_net_drum2music.yaml")]
    out = tmp_path / "out" / "soundtrack.mp4"
    cli.main(["generate", *config, "--ckpt", str(ckpt), "--video", str(video), "--keypoints", str(keypoints),
              "--out", str(out)])  # fmt: skip
    midi = pretty_midi.PrettyMIDI(str(out.with_suffix(".mid")))
    drums = [track for track in midi.instruments if track.is_drum]
    assert drums and drums[0].notes and all(not t.notes or t.program == 0 for t in midi.instruments if not t.is_drum)
    assert all(n.end <= 7.2 + 0.01 for t in midi.instruments for n in t.notes)  # cut at the end (7.2 s; MIDI ticks)
    audio, rate = sf.read(str(out.with_suffix(".wav")))
    assert audio.ndim == 1 and len(audio) == pytest.approx(7.2 * rate, abs=2)
    with av.open(str(out)) as container:
        assert container.streams.video and container.streams.audio
    # drums only, and a checkpoint of another stage named by the CLI
    alone = tmp_path / "out" / "drums.mp4"
    cli.main(["generate", *config, "--ckpt", str(ckpt), "--video", str(video), "--keypoints", str(keypoints),
              "--out", str(alone), "--instrument", "none"])  # fmt: skip
    assert [t.is_drum for t in pretty_midi.PrettyMIDI(str(alone.with_suffix(".mid"))).instruments] == [True]
    guitar = ["--trainer.logger", "false"]
    for folder in ("experiments", "experiments/debug"):
        guitar += ["--config", str(repo_root / folder / "rhythmic_net_drum2music_guitar.yaml")]
    with pytest.raises(ValueError, match="writes GM program 0.*guitar"):  # a piano checkpoint
        cli.main(["generate", *guitar, "--ckpt", str(ckpt), "--video", str(video), "--out", str(alone)])
    with pytest.raises(RuntimeError, match=r"rhythm2drum\.ckpt.*another stage"):
        cli.main(["generate", *config, "--ckpt", str(stages["rhythm2drum"]), "--video", str(video),
                  "--keypoints", str(keypoints), "--out", str(alone)])  # fmt: skip


def test_chain_places_the_instrument_on_the_video(
    tmp_path: Path, repo_root: Path, synthetic_aistpp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With Drum2Music's sampling replaced by fixed piano bars, the piano reaches the soundtrack at the grid's tempo
    and start, edited by ``program`` and ``transpose``."""
    torch.manual_seed(0)
    stages = {s: _save(RhythmicNet(**_debug(repo_root, f"rhythmic_net_{s}")), tmp_path / f"{s}.ckpt")
              for s in ("video2rhythm", "rhythm2drum")}  # fmt: skip
    model = RhythmicNet(**_chain_args(repo_root, stages))
    model._from_state = {"music_net"}  # stands for a trained Drum2Music
    length = int(model.hparams.max_bar_tokens)
    seen = []

    def fixed_bars(rows: torch.Tensor) -> torch.Tensor:
        seen.append(rows.shape[1])
        return _rows([BAR] * rows.shape[1], length)[None]

    monkeypatch.setattr(model, "music_for_drums", fixed_bars)
    video = sorted((synthetic_aistpp / "videos").glob("*.mp4"))[0]
    keypoints = synthetic_aistpp / "keypoints2d" / f"{video.stem.replace('_c01_', '_cAll_')}.pkl"
    example = model.generate_from_video(str(video), str(keypoints), program=4, transpose=2)
    extra = example.extra
    piano = [t for t in example.midi.instruments if not t.is_drum]
    assert len(piano) == 1 and piano[0].program == 4
    bar = 4 * 60.0 / extra["bpm"]
    expected = [
        (pitch, extra["start"] + k * bar + at * bar) for k in range(seen[0]) for at, pitch in ((0, 62), (0.5, 66))
    ]
    expected = [(p, t) for p, t in expected if 0.0 <= t < 7.2]
    got = [(n.pitch, n.start) for n in sorted(piano[0].notes, key=lambda n: n.start)]
    assert len(got) == len(expected) > 0
    assert all(p == q and abs(t - u) < 2e-3 for (p, t), (q, u) in zip(got, expected))
