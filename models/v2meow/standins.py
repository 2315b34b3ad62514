"""V2Meow's pretrained models as the suite's trained stand-ins, each loaded from a :class:`V2Meow` stage checkpoint
and implementing its protocol: :class:`SoundStreamCodec` (``models.tokenizers.AudioCodec``), :class:`SemanticTokens`
(``models.tokenizers.SemanticTokenizer``), :class:`JointEmbedding` (``metrics.text_audio.JointTextAudioModel``, usable
by ``prepare --task embeddings --joint_class models.v2meow.JointEmbedding``).

A checkpoint that cannot be read, lacks the network, or whose weights do not match the fingerprint stored with them
is one ``RuntimeError`` naming the file."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from models.tokenizers import check_audio, check_codes, fingerprint
from models.v2meow.model import CODEC_SIZES, JOINT_SIZES, SEMANTIC_SIZES, V2Meow

_SIZES = {"codec": CODEC_SIZES, "joint": JOINT_SIZES, "semantic": SEMANTIC_SIZES}


def load_network(path: str | Path, name: str) -> tuple[nn.Module, dict[str, Any], str]:
    """``(network, hyper-parameters, fingerprint)`` of the V2Meow network ``name`` stored in checkpoint ``path``."""
    path = Path(path)
    where = f"V2Meow {name} checkpoint {path}"
    if not path.is_file():
        raise FileNotFoundError(f"{where} does not exist")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:  # noqa: BLE001 - re-raised naming the file
        raise RuntimeError(f"{where}: cannot be read ({type(error).__name__}: {error})") from None
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("state_dict"), dict):
        raise RuntimeError(f"{where}: not a Lightning checkpoint (no state_dict)")
    hyper = dict(checkpoint.get("hyper_parameters") or {})
    missing = [k for k in _SIZES[name] if k not in hyper]
    if missing:
        raise RuntimeError(f"{where}: hyper-parameters {missing} are missing (not a V2Meow checkpoint?)")
    prefix = f"{name}."
    weights = {k[len(prefix) :]: v for k, v in checkpoint["state_dict"].items() if k.startswith(prefix)}
    if not weights:
        raise RuntimeError(f"{where}: holds no {name} network (trained stage {hyper.get('stage')!r})")
    net = V2Meow.build_network(name, hyper)
    try:
        net.load_state_dict(weights)
    except RuntimeError as error:
        raise RuntimeError(f"{where}: weights do not fit the stored configuration: {error}") from None
    print_ = fingerprint({k: hyper[k] for k in _SIZES[name]}, net.state_dict())
    stored = (checkpoint.get("fingerprints") or {}).get(name)
    if stored is not None and stored != print_:
        raise RuntimeError(f"{where}: weights do not match the stored fingerprint {stored} (got {print_}): corrupt")
    return net.eval(), hyper, print_


class SoundStreamCodec(nn.Module):
    """The codec stage as an :class:`models.tokenizers.AudioCodec`: ``encode(audio [B, N], sample_rate)`` -> codes
    long [B, levels, ceil(N / hop)], ``decode(codes [B, n <= levels, F])`` -> audio [B, F · hop]."""

    def __init__(self, net: nn.Module, hyper: dict[str, Any], fingerprint: str, source: str = "") -> None:
        super().__init__()
        self.net = net.eval()
        self.sample_rate = int(hyper["sample_rate"])
        self.levels = int(hyper["codec_levels"])
        self.codebook_size = int(hyper["codec_codebook_size"])
        self.hop_length = int(net.hop_length)
        self.frame_rate = self.sample_rate / self.hop_length
        self.fingerprint = fingerprint
        self.source = source

    @classmethod
    def from_checkpoint(cls, path: str | Path) -> SoundStreamCodec:
        return cls(*load_network(path, "codec"), source=str(path))

    @torch.no_grad()
    def encode(self, audio: Tensor, sample_rate: int, levels: int | None = None) -> Tensor:
        audio = check_audio(audio, sample_rate, self.sample_rate, f"SoundStreamCodec.encode ({self.source})")
        return self.net.encode(audio.to(self._device()), levels)

    @torch.no_grad()
    def decode(self, codes: Tensor) -> Tensor:
        codes = check_codes(codes, self.levels, self.codebook_size, f"SoundStreamCodec.decode ({self.source})")
        return self.net.decode(codes.to(self._device()))

    def _device(self) -> torch.device:
        return next(self.net.parameters()).device


class SemanticTokens(nn.Module):
    """The semantic stage as a :class:`models.tokenizers.SemanticTokenizer`: ``encode(audio [B, N], sample_rate)`` ->
    k-means ids long [B, F] at ``rate`` per second."""

    def __init__(self, net: nn.Module, hyper: dict[str, Any], fingerprint: str, source: str = "") -> None:
        super().__init__()
        if not net.fitted:
            raise RuntimeError(f"V2Meow semantic checkpoint {source}: k-means was never fitted (train longer)")
        self.net = net.eval()
        self.sample_rate = int(hyper["sample_rate"])
        self.rate = self.sample_rate / (int(hyper["mel_hop"]) * int(hyper["stack"]))
        self.vocab_size = int(hyper["semantic_clusters"])
        self.hyper = dict(hyper)  # the configuration (a baseline tokenizer of the same sizes is built from it)
        self.fingerprint = fingerprint
        self.source = source
        self.min_samples = int(hyper["n_fft"]) + int(hyper["mel_hop"]) * int(hyper["stack"])

    @classmethod
    def from_checkpoint(cls, path: str | Path) -> SemanticTokens:
        net, hyper, print_ = load_network(path, "semantic")
        if hyper["representation"] == "joint_audio":
            joint, _, _ = load_network(path, "joint")
            net.joint_tower = [joint.tower_a]
        return cls(net, hyper, print_, source=str(path))

    @torch.no_grad()
    def encode(self, audio: Tensor, sample_rate: int) -> Tensor:
        where = f"SemanticTokens.encode ({self.source})"
        audio = check_audio(audio, sample_rate, self.sample_rate, where)
        if audio.shape[-1] < self.min_samples:
            raise ValueError(f"{where}: {audio.shape[-1]} samples, fewer than one token's {self.min_samples}")
        return self.net.encode(audio.to(self.net.mean.device))


class JointEmbedding(nn.Module):
    """The joint stage as a :class:`metrics.text_audio.JointTextAudioModel`: ``embed_text(list[str])`` and
    ``embed_audio(audio [B, N], sample_rate)`` -> normalised [B, 128]. An empty caption is an error; a caption longer
    than the text tower's limit is truncated with a warning."""

    name = "v2meow_joint"

    def __init__(self, net: nn.Module, hyper: dict[str, Any], fingerprint: str, source: str = "") -> None:
        super().__init__()
        self.net = net.eval()
        self.sample_rate = int(hyper["sample_rate"])
        self.dim = int(hyper["joint_dim"])
        self.fingerprint = fingerprint
        self.source = source
        self.min_samples = int(hyper["n_fft"]) + int(hyper["mel_hop"]) * int(hyper["stack"])

    @classmethod
    def from_checkpoint(cls, path: str | Path) -> JointEmbedding:
        return cls(*load_network(path, "joint"), source=str(path))

    @torch.no_grad()
    def embed_text(self, text: list[str]) -> Tensor:
        text = [text] if isinstance(text, str) else list(text)
        empty = [i for i, t in enumerate(text) if not str(t).strip()]
        if not text or empty:
            raise ValueError(f"JointEmbedding.embed_text ({self.source}): empty captions at positions {empty or [0]}")
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            return self.net.embed_b(text)

    @torch.no_grad()
    def embed_audio(self, audio: Tensor, sample_rate: int) -> Tensor:
        where = f"JointEmbedding.embed_audio ({self.source})"
        audio = check_audio(audio, sample_rate, self.sample_rate, where)
        if audio.shape[-1] < self.min_samples:
            raise ValueError(f"{where}: {audio.shape[-1]} samples, fewer than the {self.min_samples} one frame needs")
        return self.net.embed_a(audio.to(next(self.net.parameters()).device))


__all__ = ["JointEmbedding", "SemanticTokens", "SoundStreamCodec", "load_network"]
