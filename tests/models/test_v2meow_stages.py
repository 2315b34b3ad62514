"""V2Meow's token stages (docs/V2MEOW.md): paper defaults, causal token models, one-call prefix prefill equal to
step-by-step decoding and to teacher forcing, per-level logit masks, classifier-free guidance, tokenizer fingerprint
checks along the chain, training on tokens from frozen tokenizers, and generation through the whole chain."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch

from models.nn.decoding import classifier_free_guidance, guided_step, sample
from models.v2meow import V2Meow
from models.v2meow.token_networks import flatten_codes, level_masks, unflatten_codes
from tests.helpers.v2meow_chain import RATE, sine_clips, tokenizer_checkpoints, train_tokenizer

SECONDS, FEATURES = 2, (6, 3)
STAGE_SIZES = dict(
    lm_dim=32, lm_encoder_layers=2, lm_decoder_layers=2, lm_heads=2, lm_feedforward=64, lm_dropout=0.0,
    lm_max_relative=64, feature_dims=FEATURES, coarse_levels=2, fine_levels=2, stage_crop_seconds=SECONDS,
    fine_crop_seconds=1.0, lr=1e-3,
)  # fmt: skip


def _batch(seed: int = 0, batch: int = 2, control: bool = False) -> dict:
    g = torch.Generator().manual_seed(seed)
    out = {
        "audio": sine_clips(batch, SECONDS, seed),
        "visual_features": torch.randn(batch, SECONDS, sum(FEATURES), generator=g),
        "text": [""] * batch,
        "meta": [{"id": f"v{seed}{j}", "sample_rate": RATE, "feature_kinds": ["a", "b"]} for j in range(batch)],
    }
    if control:
        out["control_embedding"] = torch.randn(batch, 128, generator=g)
    return out


@pytest.fixture(scope="module")
def tokenizers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return tokenizer_checkpoints(tmp_path_factory.mktemp("tokenizers"))


def _model(stage: str, tokenizers: dict[str, Path], **kw) -> V2Meow:
    torch.manual_seed(0)
    paths = {f"{name}_ckpt": str(path) for name, path in tokenizers.items() if name != "joint"}
    return V2Meow(stage=stage, **(STAGE_SIZES | paths | kw))


def _fit(model: V2Meow, path: Path | None = None, steps: int = 1) -> pl.Trainer:
    trainer = pl.Trainer(
        max_epochs=1, limit_train_batches=steps, limit_val_batches=1, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, accelerator="cpu", num_sanity_val_steps=0,
    )  # fmt: skip
    control = model.hparams.control == "joint"
    loader = torch.utils.data.DataLoader([_batch(i, control=control) for i in range(2)], batch_size=None)
    trainer.fit(model, loader, loader)
    if path is not None:
        trainer.save_checkpoint(path)
    return trainer


# ------------------------------------------------------------------------------------------------------ defaults
def test_defaults_are_the_papers() -> None:
    defaults = {k: p.default for k, p in inspect.signature(V2Meow).parameters.items()}
    assert (defaults["lm_encoder_layers"], defaults["lm_decoder_layers"], defaults["lm_heads"]) == (12, 12, 16)
    assert (defaults["lm_dim"], defaults["lm_feedforward"]) == (1024, 4096)
    assert tuple(defaults["temperatures"]) == (1.0, 0.95, 0.4)
    assert (defaults["stage_crop_seconds"], defaults["fine_crop_seconds"]) == (10.0, 3.0)
    assert (defaults["coarse_levels"], defaults["fine_levels"]) == (4, 8)  # paper silent: AudioLM's
    assert (defaults["guidance_scale"], defaults["control"], defaults["control_dim"]) == (1.0, "none", 128)
    # the paper's depth and heads are what gets built (width shrunk to keep the test small)
    h = dict(V2Meow(stage="codec", lm_dim=64, lm_feedforward=64).hparams)
    net = V2Meow.build_network("visual2semantic", h)
    assert len(net.encoder.encoder.layers) == 12 and len(net.decoder.layers) == 12
    assert net.decoder.layers[0].self_attn.num_heads == 16 and not net.decoder.absolute_positions
    assert net.vocab_size == 1024 + 1  # K_s = 1024 semantic ids + BOS


def test_guidance_needs_control_dropout() -> None:
    with pytest.raises(ValueError, match="control_dropout > 0"):
        V2Meow(stage="codec", control="joint", guidance_scale=3.0)
    with pytest.raises(ValueError, match="control='none'"):
        V2Meow(stage="codec", guidance_scale=3.0, control_dropout=0.1)


# ---------------------------------------------------------------------------------------------- token layouts
def test_flatten_unflatten_round_trip_and_level_masks() -> None:
    codes = torch.randint(0, 16, (2, 3, 5))
    ids = flatten_codes(codes, 16, first_level=1, offset=7)
    assert ids.shape == (2, 15)
    assert ids[0, :3].tolist() == [codes[0, 0, 0] + 7 + 16, codes[0, 1, 0] + 7 + 32, codes[0, 2, 0] + 7 + 48]
    assert torch.equal(unflatten_codes(ids, 3, 16, first_level=1, offset=7), codes)
    mask = level_masks(100, 3, 16, first_level=1, offset=7)
    assert mask.sum(1).tolist() == [16, 16, 16]
    assert all(bool(mask[t % 3, int(ids[0, t])]) for t in range(15))
    assert not mask[:, :23].any() and mask[0, 23:39].all()
    with pytest.raises(ValueError, match="range"):
        unflatten_codes(torch.zeros(1, 3, dtype=torch.long), 3, 16, first_level=1, offset=7)


def test_masks_restrict_each_level_when_sampling() -> None:
    vocab, levels, k = 40, 3, 8
    allowed = level_masks(vocab, levels, k, offset=10)

    def step(tokens, cache):
        return torch.zeros(tokens.shape[0], vocab), cache  # uniform over everything

    out = sample(step, None, 4, sos=0, eos=-1, pad=0, max_len=12, allowed=allowed,
                 generator=torch.Generator().manual_seed(0)).tokens  # fmt: skip
    for t in range(12):
        start = 10 + (t % levels) * k
        assert ((out[:, t] >= start) & (out[:, t] < start + k)).all()
    codes = unflatten_codes(out, levels, k, offset=10)
    assert len(set(codes.flatten().tolist())) > 1
    unmasked = sample(step, None, 4, sos=0, eos=-1, pad=0, max_len=12, generator=torch.Generator().manual_seed(0))
    assert ((unmasked.tokens < 10) | (unmasked.tokens >= 34)).any()  # without masks other ids do come up


def test_classifier_free_guidance() -> None:
    g = torch.Generator().manual_seed(0)
    cond, uncond = torch.randn(3, 10, generator=g), torch.randn(3, 10, generator=g)
    assert torch.equal(classifier_free_guidance(cond, uncond, 1.0), cond)
    assert torch.allclose(classifier_free_guidance(cond, uncond, 0.0).softmax(-1), uncond.softmax(-1), atol=1e-6)
    guided = classifier_free_guidance(cond, uncond, 3.0)
    expected = uncond.log_softmax(-1) + 3 * (cond.log_softmax(-1) - uncond.log_softmax(-1))
    assert torch.allclose(guided, expected)


# ------------------------------------------------------------------------------------------- stage networks
@pytest.fixture(scope="module")
def chain(tokenizers, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each token stage trained for one step (stage 1 with control and control dropout), checkpoints saved."""
    folder = tmp_path_factory.mktemp("stages")
    paths = {}
    for stage, extra in (
        ("visual2semantic", {"control": "joint", "control_dropout": 0.5}),
        ("semantic2coarse", {}),
        ("coarse2fine", {}),
    ):
        paths[stage] = folder / f"{stage}.ckpt"
        _fit(_model(stage, tokenizers, **extra), paths[stage])
    return paths


def _chain_model(tokenizers, chain, **kw) -> V2Meow:
    ckpts = {f"{stage}_ckpt": str(path) for stage, path in chain.items()}
    model = _model("coarse2fine", tokenizers, **(ckpts | {"control": "joint"} | kw))
    model.setup("predict")
    return model.eval()


@pytest.mark.parametrize("stage", ["visual2semantic", "semantic2coarse", "coarse2fine"])
def test_stage_trains_on_tokens_of_the_frozen_tokenizers(tokenizers, stage: str) -> None:
    model = _model(stage, tokenizers)
    codec_before = {k: v.clone() for k, v in model.codec.state_dict().items()} if model.codec is not None else {}
    net_before = {k: v.clone() for k, v in getattr(model, stage).state_dict().items()}
    trainer = _fit(model, steps=2)
    for key in ("train/loss", "val/nll"):
        assert torch.isfinite(trainer.callback_metrics[key]), key
    assert all(torch.equal(model.codec.state_dict()[k], v) for k, v in codec_before.items())  # frozen
    assert any(not torch.equal(getattr(model, stage).state_dict()[k], v) for k, v in net_before.items())
    assert model.semantic is not None or stage == "coarse2fine"


def test_nll_falls_with_training(tokenizers) -> None:
    model = _model("semantic2coarse", tokenizers)
    batch = _batch(0)
    model.setup("fit")
    optimiser = torch.optim.Adam(model.semantic2coarse.parameters(), lr=3e-3)
    model.train()
    first = None
    for _ in range(15):
        loss, _ = model._token_loss(batch)
        first = loss.item() if first is None else first
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    assert model._token_loss(batch)[0].item() < 0.8 * first


@pytest.mark.parametrize(
    ("stage", "coarse_visual"),
    [("visual2semantic", False), ("semantic2coarse", False), ("semantic2coarse", True), ("coarse2fine", False)],
    ids=["visual2semantic", "semantic2coarse", "semantic2coarse_visual", "coarse2fine"],
)
def test_causal_and_cached_equals_uncached(tokenizers, stage: str, coarse_visual: bool) -> None:
    model = _model(stage, tokenizers, coarse_visual=coarse_visual, control="joint").eval()
    net = getattr(model, stage)
    g = torch.Generator().manual_seed(1)
    batch, prefix_len, length = 2, 0 if net.encoder is not None else 7, 13
    inputs = torch.randint(0, net.vocab_size - 1, (batch, length), generator=g)
    memory = None
    if net.encoder is not None:
        features = torch.randn(batch, SECONDS, sum(FEATURES), generator=g)
        semantic = torch.randint(0, 8, (batch, 10), generator=g) if stage == "semantic2coarse" else None
        control = torch.randn(batch, 128, generator=g) if stage == "visual2semantic" else None
        memory = net.encoder(features, None, control, semantic=semantic)
    with torch.no_grad():
        full = net(inputs, prefix_len, memory)
        # causality: changing the last inputs leaves every earlier position's logits as they were
        changed = inputs.clone()
        changed[:, 9:] = (changed[:, 9:] + 1) % (net.vocab_size - 1)
        assert torch.allclose(net(changed, prefix_len, memory)[:, :9], full[:, :9], atol=1e-5)
        assert not torch.allclose(net(changed, prefix_len, memory)[:, 9:], full[:, 9:], atol=1e-3)
        # one-call prefill of the first 7, then step by step = teacher forcing
        cache = net.init_cache(memory, batch_size=batch if memory is None else None)
        head, cache = net.prefill(inputs[:, :7], cache, prefix_len)
        step = net.step_fn(prefix_len)
        tail = []
        for t in range(7, length):
            logits, cache = step(inputs[:, t], cache)
            tail.append(logits)
        assert torch.allclose(head, full[:, :7], atol=1e-5)
        assert torch.allclose(torch.stack(tail, 1), full[:, 7:], atol=1e-5)
        # step by step from an empty cache = prefill
        cache = net.init_cache(memory, batch_size=batch if memory is None else None)
        steps = [step(inputs[:, t], cache)[0] for t in range(7)]
        assert torch.allclose(torch.stack(steps, 1), head, atol=1e-5)


def test_seconds_encoding_flag_changes_the_inputs(tokenizers) -> None:
    on = _model("coarse2fine", tokenizers).coarse2fine
    off = _model("coarse2fine", tokenizers, seconds_encoding=False).coarse2fine
    assert off.extra(0, 5, 2, torch.device("cpu")) is None
    times = on.times(0, 8, 4, torch.device("cpu"))  # prefix of 4 coarse ids (2 frames of 2 levels) then fine
    assert torch.allclose(times, torch.tensor([0, 0, 0.04, 0.04, 0, 0, 0.04, 0.04]))


# ------------------------------------------------------------------------------------------------ the chain
def test_chain_generates_audio_with_every_level_in_range(tokenizers, chain) -> None:
    model = _chain_model(tokenizers, chain)
    features = _batch(3)["visual_features"]
    out = model.generate_tokens(features, generator=torch.Generator().manual_seed(0))
    assert out["semantic"].shape == (2, SECONDS * 25) and int(out["semantic"].max()) < 8
    assert out["coarse"].shape == (2, 2, SECONDS * 25) and out["fine"].shape == (2, 2, SECONDS * 25)
    assert int(out["coarse"].max()) < 16 and int(out["fine"].max()) < 16 and int(out["fine"].min()) >= 0
    assert out["audio"].shape == (2, SECONDS * RATE) and torch.isfinite(out["audio"]).all()
    again = model.generate_tokens(features, generator=torch.Generator().manual_seed(0))
    assert torch.equal(again["fine"], out["fine"])  # seeded: deterministic


def test_guidance_one_is_unguided_and_zero_is_the_null_control(tokenizers, chain) -> None:
    model = _chain_model(tokenizers, chain)
    net = model.visual2semantic
    g = torch.Generator().manual_seed(0)
    features, control = torch.randn(2, SECONDS, 9, generator=g), torch.randn(2, 128, generator=g)
    memory, null = net.encoder(features, None, control), net.encoder(features, None, None)
    both = torch.cat([memory, null])

    def run(step, cache):
        gen = torch.Generator().manual_seed(5)
        return sample(step, cache, 2, sos=8, eos=-1, pad=0, max_len=20, generator=gen).tokens

    plain = run(net.step_fn(0), net.init_cache(memory))
    assert torch.equal(run(guided_step(net.step_fn(0), 1.0), net.init_cache(both)), plain)
    assert torch.equal(
        run(guided_step(net.step_fn(0), 0.0), net.init_cache(both)), run(net.step_fn(0), net.init_cache(null))
    )
    # the model's own guidance path runs and stays in the semantic vocabulary
    guided = _chain_model(tokenizers, chain, guidance_scale=3.0, control_dropout=0.5)
    out = guided.generate_tokens(features, control=control, generator=torch.Generator().manual_seed(0))
    assert int(out["semantic"].max()) < 8


def test_text_prompt_needs_control(tokenizers) -> None:
    model = _model("visual2semantic", tokenizers)
    with pytest.raises(ValueError, match="control='none'"):
        model.control_from_text(["a rock song"])


def test_mismatched_tokenizer_fingerprint_names_both_files(tokenizers, chain, tmp_path: Path) -> None:
    other = train_tokenizer("semantic", tmp_path / "other_semantic.ckpt", seed=1)
    ckpts = {f"{stage}_ckpt": str(path) for stage, path in chain.items()}
    with pytest.raises(ValueError, match=r"visual2semantic\.ckpt.*other_semantic\.ckpt"):
        _model("coarse2fine", tokenizers, **(ckpts | {"semantic_ckpt": str(other), "control": "joint"}))


def test_bad_visual_input_is_one_error_naming_both_sides(tokenizers) -> None:
    model = _model("visual2semantic", tokenizers)
    batch = _batch(0) | {"visual_features": torch.randn(2, SECONDS, 5)}
    with pytest.raises(ValueError, match=r"\(2, 2, 5\).*feature_dims \[6, 3\]"):
        model._token_loss(batch)
    nan = _batch(0)
    nan["visual_features"][0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        model._token_loss(nan)


def test_predict_writes_one_wav_per_clip_and_follows_prompts(tokenizers, chain, tmp_path: Path) -> None:
    import soundfile as sf

    model = _chain_model(tokenizers, chain, joint_ckpt=str(tokenizers["joint"]))
    trainer = pl.Trainer(default_root_dir=tmp_path, logger=False, accelerator="cpu", enable_progress_bar=False,
                         enable_model_summary=False)  # fmt: skip
    batch = _batch(4) | {"prompt": ["an energetic rock song", ""]}
    for i, info in enumerate(batch["meta"]):
        info["start_s"] = 10.0 * i
    (out,) = trainer.predict(model, torch.utils.data.DataLoader([batch], batch_size=None))
    assert out["audio"].shape == (2, SECONDS * RATE)
    files = sorted((tmp_path / "v2meow_predictions").glob("*.wav"))
    assert [f.name for f in files] == ["v40_0s.wav", "v41_10s.wav"]
    assert all(sf.info(str(f)).frames == SECONDS * RATE for f in files)
    control, null = model.control_from_text(["an energetic rock song", "  "])
    assert null.tolist() == [False, True] and control[0].abs().sum() > 0


@pytest.mark.parametrize(
    ("stage", "extra"),
    [
        ("visual2semantic", {"feature_dims": (), "visual_token_vocab": 50, "visual_token_patches": 4}),
        ("visual2semantic", {"visual_token_vocab": 50, "visual_token_patches": 4, "seconds_encoding": False}),
        ("semantic2coarse", {"coarse_visual": True, "visual_token_vocab": 50, "visual_token_patches": 4}),
    ],
    ids=["tokens", "tokens_features", "coarse_visual"],
)
def test_fast_dev_run_with_visual_tokens(tokenizers, stage: str, extra: dict) -> None:
    model = _model(stage, tokenizers, **extra)
    trainer = pl.Trainer(fast_dev_run=1, logger=False, accelerator="cpu", enable_progress_bar=False,
                         enable_model_summary=False)  # fmt: skip
    g = torch.Generator().manual_seed(0)
    batch = _batch(0) | {"visual_tokens": torch.randint(0, 50, (2, SECONDS, 4), generator=g)}
    loader = torch.utils.data.DataLoader([batch], batch_size=None)
    trainer.fit(model, loader, loader)
    assert torch.isfinite(trainer.callback_metrics["train/loss"])
    with pytest.raises(ValueError, match="vocabulary 0 .. 49"):
        model._token_loss(batch | {"visual_tokens": torch.full((2, SECONDS, 4), 50)})


def test_predict_from_a_chain_checkpoint_into_a_config_built_model(tokenizers, chain, tmp_path: Path) -> None:
    """``cli.py predict --ckpt_path``: the model comes from a config (here the defaults of the tokenizers' sizes and
    no earlier stages), the checkpoint brings every network with the sizes it was trained with."""
    trained = _chain_model(tokenizers, chain)
    path = tmp_path / "chain.ckpt"
    torch.save({"state_dict": trained.state_dict(), "hyper_parameters": dict(trained.hparams),
                "pytorch-lightning_version": pl.__version__, "epoch": 0, "global_step": 0}, path)  # fmt: skip
    fresh = V2Meow(stage="coarse2fine", **(STAGE_SIZES | {"lm_dim": 16, "lm_heads": 4}))
    assert fresh.hparams.codec_levels == 12 and fresh.visual2semantic is None
    trainer = pl.Trainer(default_root_dir=tmp_path, logger=False, accelerator="cpu", enable_progress_bar=False,
                         enable_model_summary=False)  # fmt: skip
    loader = torch.utils.data.DataLoader([_batch(6)], batch_size=None)
    (out,) = trainer.predict(fresh, loader, ckpt_path=str(path))
    assert fresh.hparams.codec_levels == 4 and fresh.hparams.lm_dim == 32 and fresh.hparams.control == "joint"
    assert out["audio"].shape == (2, SECONDS * RATE) and torch.isfinite(out["audio"]).all()
    state, expected = fresh.state_dict(), trained.state_dict()
    assert state.keys() == expected.keys() and all(torch.equal(state[k], v) for k, v in expected.items())
