"""Small fixed-seed audio models for metric tests (random, untrained: for properties, not for quality)."""

from __future__ import annotations

import torch
from torch import nn

from metrics.audio_model import AudioWindowModel


class RandomProjectionEmbedder(AudioWindowModel):
    """Time-averaged log-mel (64 bands) -> fixed random linear map; a fixed random classifier head on top."""

    name = "random_projection"

    def __init__(self, embedding_dim: int = 16, num_classes: int = 5, seed: int = 0) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        self.embedding_dim, self.num_classes = embedding_dim, num_classes
        self.project = nn.Linear(64, embedding_dim)
        self.classifier = nn.Linear(embedding_dim, num_classes)
        with torch.no_grad():
            for layer in (self.project, self.classifier):
                layer.weight.copy_(torch.randn(layer.weight.shape, generator=generator) / layer.weight.shape[1] ** 0.5)
                layer.bias.zero_()

    def forward_examples(self, examples: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        embedding = self.project(examples.mean(dim=1))
        return embedding, self.classifier(embedding)
