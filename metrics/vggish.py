"""VGGish (Hershey et al. 2017), the embedder of "FAD VGG" in V2Meow Table 1, in the torchvggish layout.

Architecture of ``torchvggish.vggish.VGG``: four conv stages 64 / 128 / 256-256 / 512-512 (3x3, ReLU, 2x2 max-pool
after each stage) on a [1, 96, 64] log-mel example, flattened in TensorFlow's channel-last order, then
``embeddings`` = Linear(12288, 4096) ReLU Linear(4096, 4096) ReLU Linear(4096, 128) ReLU. The 128-d output without
torchvggish's PCA/quantisation post-processing is the FAD embedding (as in fadtk, ``postprocess=False``).

The weights cannot be downloaded here: :meth:`VGGish.from_checkpoint` loads a local torchvggish state dict
(``vggish-10086976.pth``, keys ``features.*`` and ``embeddings.*``). Without a checkpoint, use the in-project
:class:`metrics.suite_embedder.SuiteAudioEmbedder`; the metric names (``fad_vggish`` vs ``fad_suite_embedder``)
keep the two apart.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from metrics.audio_model import AudioWindowModel


def _features() -> nn.Sequential:
    layers: list[nn.Module] = []
    channels = 1
    for stage in ((64,), (128,), (256, 256), (512, 512)):
        for width in stage:
            layers += [nn.Conv2d(channels, width, 3, padding=1), nn.ReLU(inplace=True)]
            channels = width
        layers.append(nn.MaxPool2d(2, 2))
    return nn.Sequential(*layers)


class VGGish(AudioWindowModel):
    """VGGish embedder (no classifier head: KL needs another classifier)."""

    name = "vggish"
    embedding_dim = 128

    def __init__(self) -> None:
        super().__init__()
        self.features = _features()
        self.embeddings = nn.Sequential(
            nn.Linear(512 * 4 * 6, 4096),
            nn.ReLU(inplace=True),
            nn.Linear(4096, 4096),
            nn.ReLU(inplace=True),
            nn.Linear(4096, 128),
            nn.ReLU(inplace=True),
        )

    def forward_examples(self, examples: torch.Tensor) -> tuple[torch.Tensor, None]:
        x = self.features(examples[:, None])  # [W, 512, 6, 4]
        x = x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)  # TensorFlow (NHWC) flatten order
        return self.embeddings(x), None

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike) -> VGGish:
        """Load a torchvggish state dict from ``path``; one clear error if it is missing or not VGGish."""
        path = Path(path).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"VGGish checkpoint {path} does not exist (torchvggish's vggish-10086976.pth)")
        try:
            state = torch.load(str(path), map_location="cpu", weights_only=True)
        except Exception as error:
            raise RuntimeError(f"VGGish checkpoint {path} is unreadable: {error}") from error
        if isinstance(state, dict) and "state_dict" in state:
            state = state["state_dict"]
        with torch.device("meta"):  # no random initialisation of 72M parameters that are overwritten anyway
            model = cls()
        shapes = {k: v.shape for k, v in model.state_dict().items()}
        state = {k: v for k, v in state.items() if not k.startswith("pproc")}  # torchvggish's PCA post-processing
        missing, unexpected = set(shapes) - set(state), set(state) - set(shapes)
        wrong = [k for k in set(shapes) & set(state) if tuple(state[k].shape) != tuple(shapes[k])]
        if missing or unexpected or wrong:
            raise RuntimeError(
                f"{path} is not a torchvggish VGGish state dict: missing {sorted(missing)[:4]}, "
                f"unexpected {sorted(unexpected)[:4]}, wrong shapes {sorted(wrong)[:4]}"
            )
        model.load_state_dict({k: v.float() for k, v in state.items()}, assign=True)
        return model.eval()


__all__ = ["VGGish"]
