"""MV100KDataModule's token kinds (``visual_tokens``) and control embeddings (``control_embedding``) on the MV100K
fixture (datamodules/mv100k.py docstring; V2Meow §3.1 and §4.1), and the one clear error for each kind of bad file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from datamodules.mv100k import MV100KDataModule, segment_count, segments_overlapping
from tests.datamodules.test_mv100k import VIDEOS, write_fixture

P = 49


def _tokens(k: int, seconds: int) -> np.ndarray:
    """Row t, patch p of video k holds 1000 k + 10 t + p, so a clip's ids trace back to its seconds."""
    return (1000 * k + 10 * np.arange(seconds)[:, None] + np.arange(P)[None, :]).astype(np.int16)


def _embeddings(k: int, duration: float) -> np.ndarray:
    """Segment j of video k holds (k, j, j^2): the mean over segments is known in closed form."""
    j = np.arange(segment_count(duration), dtype=np.float32)
    return np.stack([np.full_like(j, k), j, j**2], axis=1)


def write_root(root: Path) -> Path:
    write_fixture(root)
    for k, (vid, _, duration, _) in enumerate(VIDEOS):
        (root / "features" / "effnet_tokens").mkdir(parents=True, exist_ok=True)
        np.save(root / "features" / "effnet_tokens" / f"{vid}.npy", _tokens(k, int(np.floor(duration))))
        (root / "embeddings" / "tiny").mkdir(parents=True, exist_ok=True)
        np.save(root / "embeddings" / "tiny" / f"{vid}.npy", _embeddings(k, duration))
    return root


def test_segments() -> None:
    assert [segment_count(d) for d in (7.0, 10.0, 12.0, 21.0, 23.5, 30.0)] == [1, 1, 2, 3, 3, 3]
    assert segments_overlapping(0, 10, 3).tolist() == [0]
    assert segments_overlapping(5, 15, 3).tolist() == [0, 1]
    assert segments_overlapping(13, 23, 3).tolist() == [1, 2]
    assert segments_overlapping(25, 35, 3).tolist() == [2]  # past the last segment: the last one


def test_tokens_and_video_embedding_round_trip(tmp_path: Path) -> None:
    root = write_root(tmp_path / "mv")
    dm = MV100KDataModule(str(root), feature_kinds=("flow",), token_kinds=("effnet_tokens",), embedding_kind="tiny",
                          clip_seconds=10, sample_rate=8000, batch_size=2)  # fmt: skip
    dm.setup("fit")
    assert dm.token_dims == (P,) and dm.token_dim == P and dm.embedding_dim == 3
    assert dm.provided_fields == ("visual_features", "visual_tokens", "control_embedding", "audio", "text", "meta")
    torch.manual_seed(0)
    batch = next(iter(dm.train_dataloader()))
    assert batch["visual_tokens"].shape == (2, 10, P) and batch["visual_tokens"].dtype == torch.long
    assert batch["control_embedding"].shape == (2, 3) and batch["control_embedding"].dtype == torch.float32
    for tokens, embedding, features, meta in zip(
        batch["visual_tokens"], batch["control_embedding"], batch["visual_features"], batch["meta"]
    ):
        k = [v[0] for v in VIDEOS].index(meta["id"])
        start = int(meta["start_s"])
        expected = _tokens(k, int(np.floor(VIDEOS[k][2])))[start : start + 10]
        np.testing.assert_array_equal(tokens.numpy(), expected)
        torch.testing.assert_close(features[:, 0], 100 * k + start + torch.arange(10.0))  # same seconds
        rows = _embeddings(k, VIDEOS[k][2])
        np.testing.assert_allclose(embedding.numpy(), rows.mean(0), rtol=1e-6)  # the whole video's mean
        assert meta["token_kinds"] == ["effnet_tokens"] and meta["token_vocab"] == [8192]
        assert meta["embedding_kind"] == "tiny"

    (batch,) = list(dm.val_dataloader())  # Cd03 (21 s, 3 segments): clips at 0 and 10 s, one video-level embedding
    torch.testing.assert_close(batch["control_embedding"][0], batch["control_embedding"][1])
    torch.testing.assert_close(batch["control_embedding"][0], torch.tensor([2.0, 1.0, 5 / 3]))


def test_clip_scope_embeds_only_the_overlapping_segments(tmp_path: Path) -> None:
    root = write_root(tmp_path / "mv")
    dm = MV100KDataModule(str(root), feature_kinds=(), token_kinds=("effnet_tokens",), embedding_kind="tiny",
                          embedding_scope="clip", clip_seconds=10, sample_rate=8000, batch_size=2)  # fmt: skip
    dm.setup("validate")
    (batch,) = list(dm.val_dataloader())
    assert "visual_features" not in batch and batch["visual_tokens"].shape == (2, 10, P)
    torch.testing.assert_close(batch["control_embedding"], torch.tensor([[2.0, 0.0, 0.0], [2.0, 1.0, 1.0]]))
    dm.setup("test")
    (batch,) = list(dm.test_dataloader())  # Ef04: 7 s, one segment; tokens padded by repeating the last second
    torch.testing.assert_close(batch["control_embedding"], torch.tensor([[3.0, 0.0, 0.0]]))
    np.testing.assert_array_equal(batch["visual_tokens"][0, 6:].numpy(), np.repeat(_tokens(3, 7)[6:], 4, axis=0))


def _damage_tokens(value: int, dtype=np.int16):
    def damage(root: Path) -> None:
        tokens = _tokens(2, 21).astype(dtype)
        tokens[4, 7] = value
        np.save(root / "features/effnet_tokens/Cd03.npy", tokens)

    return damage


@pytest.mark.parametrize(
    ("damage", "kwargs", "error", "match"),
    [
        (
            _damage_tokens(8192),
            {},
            ValueError,
            r"effnet_tokens/Cd03.npy holds token ids in \[\d+, 8192\] outside the "
            r"vocabulary \[0, 8192\)",
        ),  # fmt: skip
        (_damage_tokens(-3), {}, ValueError, r"effnet_tokens/Cd03.npy holds token ids in \[-3, \d+\] outside"),
        (_damage_tokens(5, np.float32), {}, ValueError, r"Cd03.npy holds float32 values; token kinds hold integer"),
        (
            None,
            {"feature_kinds": ("effnet_tokens",), "token_kinds": ()},
            ValueError,
            r"effnet_tokens/Cd03.npy holds int16 values; effnet_tokens is a token kind",
        ),  # fmt: skip
        (
            lambda r: np.save(r / "embeddings/tiny/Cd03.npy", np.zeros((7, 3), np.float32)),
            {},
            ValueError,
            r"embeddings/tiny/Cd03.npy has shape \(7, 3\); expected \[3, D\]",
        ),  # fmt: skip
        (
            lambda r: np.save(r / "embeddings/tiny/Cd03.npy", np.full((3, 3), np.nan, np.float32)),
            {},
            ValueError,
            r"embeddings/tiny/Cd03.npy holds NaN",
        ),  # fmt: skip
        (
            lambda r: (r / "embeddings/tiny/Cd03.npy").write_bytes(b"\x93NUMPY broken"),
            {},
            RuntimeError,
            r"cannot read .*embeddings/tiny/Cd03.npy",
        ),  # fmt: skip
    ],
)
def test_bad_token_and_embedding_files_name_the_file(tmp_path: Path, damage, kwargs, error, match: str) -> None:
    root = write_root(tmp_path / "mv")
    if damage is not None:
        damage(root)
    options = {"feature_kinds": ("flow",), "token_kinds": ("effnet_tokens",), "embedding_kind": "tiny"} | kwargs
    dm = MV100KDataModule(str(root), batch_size=1, **options)
    with pytest.raises(error, match=match):
        dm.setup("validate")
        dm.datasets["val"][0]


def test_missing_embeddings_and_unknown_kinds_are_one_error(tmp_path: Path) -> None:
    root = write_root(tmp_path / "mv")
    (root / "embeddings/tiny/Ef04.npy").unlink()
    with pytest.raises(FileNotFoundError, match=r"1 file\(s\) .* missing: .*embeddings/tiny/Ef04.npy"):
        MV100KDataModule(str(root), embedding_kind="tiny", batch_size=1).setup("test")
    with pytest.raises(FileNotFoundError, match=r"embeddings/mulan does not exist \(embeddings kinds here: \['tiny'\]"):
        MV100KDataModule(str(root), embedding_kind="mulan", batch_size=1).setup("test")
    with pytest.raises(ValueError, match=r"token kinds \['vit_vqgan'\] have no known vocabulary size"):
        MV100KDataModule(str(root), token_kinds=("vit_vqgan",))
    with pytest.raises(ValueError, match="embedding_scope must be one of"):
        MV100KDataModule(str(root), embedding_kind="tiny", embedding_scope="segment")
    with pytest.raises(ValueError, match="feature_kinds or token_kinds"):
        MV100KDataModule(str(root), feature_kinds=(), token_kinds=())
    # a user's token kind with its own vocabulary: ids are checked against it
    dm = MV100KDataModule(str(root), feature_kinds=(), token_kinds=("effnet_tokens",),
                          token_vocab={"effnet_tokens": 2140}, batch_size=1)  # fmt: skip
    dm.setup("validate")
    dm.datasets["val"][0]  # Cd03 from 0 s: ids up to 2000 + 90 + 48 < 2140
    with pytest.raises(ValueError, match=r"outside the vocabulary \[0, 2140\)"):
        dm.datasets["val"][1]  # from 10 s: up to 2238
