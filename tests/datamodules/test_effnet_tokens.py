"""``effnet_tokens`` (datamodules/features/effnet_tokens.py): the fixed random-projection quantiser by hand, the tokens
of real photos, and ``prepare --task features`` writing them into an MV100K root that MV100KDataModule reads back as
``visual_tokens``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from datamodules.features import TOKEN_DIMS, TOKEN_VOCAB, extractor
from datamodules.features.effnet_tokens import RandomProjectionQuantizer


def test_quantizer_picks_the_codeword_of_largest_cosine() -> None:
    q = RandomProjectionQuantizer(dim=3, code_dim=2, vocab_size=4, seed=1)
    q.projection = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])  # drop the third dimension
    q.codebook = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]])  # 0, 90, 180, 270 degrees
    x = torch.tensor([[2.0, 0.1, 5.0], [-1.0, -3.0, 0.0], [-3.0, 1.0, 9.0], [0.2, 0.3, -7.0]])
    assert q(x).tolist() == [0, 3, 2, 1]
    assert q(x * 10).tolist() == [0, 3, 2, 1]  # scale-free (cosine)


def test_default_quantizer_is_fixed() -> None:
    a, b = RandomProjectionQuantizer(), RandomProjectionQuantizer()
    assert a.projection.shape == (1280, 16) and a.codebook.shape == (8192, 16) and a.vocab_size == 8192
    assert torch.equal(a.projection, b.projection) and torch.equal(a.codebook, b.codebook)
    torch.testing.assert_close(a.codebook.norm(dim=1), torch.ones(8192))
    assert not torch.equal(a.codebook, RandomProjectionQuantizer(seed=1).codebook)
    x = torch.randn(1000, 1280, generator=torch.Generator().manual_seed(0))
    assert len(torch.unique(a(x))) > 800  # random inputs spread over the vocabulary


def test_tokens_of_real_photos() -> None:
    data = pytest.importorskip("skimage.data")
    tokens = extractor("effnet_tokens")
    frames = np.stack([data.chelsea()[:300, :300], data.chelsea()[:300, :300], data.coffee()[:300, 150:450]])
    ids = tokens.tokens(frames)
    assert ids.shape == (3, TOKEN_DIMS["effnet_tokens"]) and ids.dtype == np.int16
    assert ids.min() >= 0 and ids.max() < TOKEN_VOCAB["effnet_tokens"]
    np.testing.assert_array_equal(ids[0], ids[1])
    assert (ids[0] != ids[2]).mean() > 0.8  # another picture, other tokens
    assert len(np.unique(ids[0])) > 10  # patches of one picture differ
    pooled, maps = tokens.net.pooled_and_head(frames[:1])
    np.testing.assert_array_equal(pooled, tokens.net.embed(frames[:1]))  # one pass serves effnet_lite0 too
    assert maps.shape == (1, 1280, 7, 7) and abs(float(maps.mean())) < 3


def test_features_task_writes_tokens_the_datamodule_reads(tmp_path: Path) -> None:
    from datamodules.mux import mux_audio
    from datamodules.mv100k import MV100KDataModule
    from datamodules.prepare import run
    from datamodules.video import write_video

    rng = np.random.default_rng(0)
    src = tmp_path / "videos"
    src.mkdir()
    rate = 16000
    video = np.full((36, 96, 128, 3), 40, np.uint8)
    for t in range(36):
        video[t, 20:70, 10 + 2 * t : 60 + 2 * t] = rng.integers(0, 255, 3, dtype=np.uint8)
    silent = write_video(tmp_path / "silent.mp4", video, 12)
    mux_audio(silent, 0.3 * np.sin(2 * np.pi * 220 * np.arange(3 * rate) / rate).astype(np.float32), rate,
              src / "Vid01.mp4")  # fmt: skip
    out = tmp_path / "mv"
    run("features", src, out, kinds=("effnet_tokens",), progress=False)
    ids = np.load(out / "features" / "effnet_tokens" / "Vid01.npy")
    assert ids.shape == (3, 49) and ids.dtype == np.int16 and 0 <= ids.min() and ids.max() < 8192
    (out / "videos.csv").write_text("id,split,duration_s,labels\nVid01,val,3.0,\n")
    dm = MV100KDataModule(str(out), feature_kinds=(), token_kinds=("effnet_tokens",), clip_seconds=3,
                          sample_rate=8000, batch_size=1)  # fmt: skip
    dm.setup("validate")
    (batch,) = list(dm.val_dataloader())
    assert batch["visual_tokens"].dtype == torch.long
    np.testing.assert_array_equal(batch["visual_tokens"][0].numpy(), ids)
