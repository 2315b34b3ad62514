"""``effnet_tokens``: discrete visual tokens of a frame, the suite's offline stand-in for V2Meow's ViT-VQGAN image
tokens (§4.1: a pretrained ViT-VQGAN encoder gives 1024 tokens per image from a vocabulary of 8192; its weights
cannot be had here).

A frame goes through EfficientNet-Lite0 (:mod:`datamodules.features.efficientnet`, the same crop and weights as the
``effnet_lite0`` kind); its last feature map, 1280 channels on a 7 x 7 grid, is taken before the head's batch norm and
standardised per channel with that batch norm's own ImageNet running statistics (so every channel is about zero-mean,
unit-variance on ImageNet, with no statistic fitted to the data at hand). Each of the 49 patch vectors is then
quantised by a fixed random-projection quantiser (BEST-RQ, Chiu et al. ICML 2022): a seeded Gaussian projection to
:data:`CODE_DIM` dimensions, L2-normalised, and the nearest (largest cosine) of :data:`VOCAB_SIZE` seeded random unit
codewords. Nothing is trained, so the tokens of a frame are the same on every machine that runs the same network.

Output per frame: :data:`PATCHES` = 49 ids in ``[0, VOCAB_SIZE)``, patches in raster order (row by row, top left
first); per video ``[T, 49]`` at 1 fps, stored as int16 (:data:`TOKEN_DTYPE`).
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import torch

from datamodules.features.efficientnet import EfficientNetLite0

VOCAB_SIZE = 8192  # V2Meow §4.1 (ViT-VQGAN's vocabulary)
GRID = 7  # EfficientNet-Lite0's last feature map at 224 x 224
PATCHES = GRID * GRID
CODE_DIM = 16  # BEST-RQ's codebook dimension
SEED = 20240101  # the quantiser's fixed seed: part of the kind's definition, never a run option
TOKEN_DTYPE = np.int16


class RandomProjectionQuantizer:
    """Fixed BEST-RQ quantiser: ``argmax_k cos(normalise(x @ P), c_k)`` with a seeded Gaussian ``P`` [dim, code_dim]
    and seeded random unit codewords ``c`` [vocab_size, code_dim]."""

    def __init__(
        self, dim: int = EfficientNetLite0.dim, code_dim: int = CODE_DIM, vocab_size: int = VOCAB_SIZE, seed: int = SEED
    ) -> None:
        rng = np.random.default_rng(seed)
        self.projection = torch.from_numpy(rng.standard_normal((dim, code_dim)) / np.sqrt(dim)).float()
        codebook = rng.standard_normal((vocab_size, code_dim))
        self.codebook = torch.from_numpy(codebook / np.linalg.norm(codebook, axis=1, keepdims=True)).float()
        self.vocab_size = int(vocab_size)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Ids long ``[...]`` of vectors ``[..., dim]``."""
        y = torch.nn.functional.normalize(x.float() @ self.projection, dim=-1)
        return (y @ self.codebook.T).argmax(dim=-1)


class EfficientNetTokens:
    """``effnet_tokens`` of video frames (module docstring); ``net`` shares an already loaded EfficientNet-Lite0."""

    dim = PATCHES
    vocab_size = VOCAB_SIZE

    def __init__(self, net: Optional[EfficientNetLite0] = None) -> None:
        self.net = net if net is not None else EfficientNetLite0()
        self.quantizer = RandomProjectionQuantizer()

    def tokens(self, frames: np.ndarray, batch_size: int = 16) -> np.ndarray:
        """Ids ``[N, 49]`` (:data:`TOKEN_DTYPE`) of uint8 RGB frames ``[N, H, W, 3]``."""
        return self.quantize(self.net.pooled_and_head(frames, batch_size)[1])

    def quantize(self, maps: torch.Tensor) -> np.ndarray:
        """Ids ``[N, 49]`` of standardised head feature maps ``[N, 1280, 7, 7]``
        (:meth:`EfficientNetLite0.pooled_and_head`)."""
        if maps.shape[-2:] != (GRID, GRID):
            raise RuntimeError(f"effnet_tokens: expected a {GRID}x{GRID} feature map, got {tuple(maps.shape)}")
        patches = maps.flatten(2).transpose(1, 2)  # [N, 49, 1280], raster order
        return self.quantizer(patches).numpy().astype(TOKEN_DTYPE)


__all__ = ["CODE_DIM", "PATCHES", "VOCAB_SIZE", "EfficientNetTokens", "RandomProjectionQuantizer"]
