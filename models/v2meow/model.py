"""V2Meow (Su et al., AAAI 2024): music from video as a chain of token models over pretrained audio tokenizers.

The paper builds on three pretrained models that cannot be had offline (SoundStream, w2v-BERT + k-means, MuLan,
§3); the suite trains its own stand-ins as the first stages of one LightningModule (:class:`V2Meow`, ``stage``):

1. ``codec`` (SoundStream, Zeghidour et al. 2021; sizes of AudioLM's, Borsos et al. 2023 — the paper is silent):
   SEANet encoder (strides 2·4·5·8: 50 code frames/s at 16 kHz) -> residual VQ (12 levels × 1024 EMA codes,
   k-means init, dead-code restart, quantizer dropout) -> SEANet decoder; multi-scale mel reconstruction loss,
   multi-scale STFT discriminator with hinge and feature-matching losses (manual optimisation; the adversarial terms
   start at ``adversarial_start``).
2. ``joint`` (MuLan stand-in, embedding width Dm = 128 as §3.1): a log-mel transformer audio tower and a frozen
   all-MiniLM-L6-v2 text tower (``text_tower="minilm"``; ``"hashed"``: a trained bag-of-words tower), each projected
   to 128 and trained with symmetric InfoNCE and a learnable temperature on (10-s clip, caption) pairs. Pairs whose
   caption is empty are left out of the batch.
3. ``semantic`` (w2v-BERT + k-means stand-in, AudioLM's 25 Hz and K = 1024): a masked-prediction SSL encoder on
   log-mel with BEST-RQ random-projection targets, then k-means on a per-dimension standardised middle layer
   (``representation="ssl"``); or on the joint model's audio frame states (``"joint_audio"``, needs ``joint_ckpt``)
   or on stacked log-mel (``"logmel"``, the baseline). k-means is fitted on the training clips seen (a seeded
   reservoir of ``kmeans_clips`` clips) before every validation and at every epoch end, and stored in the checkpoint.

Each stage's checkpoint is loaded by a stand-in implementing its protocol (``models.tokenizers``,
``metrics.text_audio``): :class:`models.v2meow.standins.SoundStreamCodec`, ``SemanticTokens``, ``JointEmbedding``.
Every checkpoint carries a fingerprint per network (hyper-parameters that size it + its weights).

Choices the papers leave open (✱), each a constructor argument: 1-s random crops for the codec; loss weights
λ_rec 1, λ_adv 1, λ_feat 100 and Adam (1e-4, β 0.5 / 0.9) as SoundStream; commitment weight 1; codes whose EMA use
falls below 0.1 per batch are restarted (a batch holds fewer vectors than codes); every training batch takes a random
number of levels (SoundStream's quantizer dropout); 80 log-mel bins at a 10-ms hop stacked by 4 (25
frames/s) for the SSL encoder and the audio tower; SSL encoder 12 layers × 512 (BEST-RQ targets 8192 × 16, mask
probability 0.01, spans of 10); clustered layer: the middle one; audio tower 4 layers × 256.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal, Optional

import torch
from pytorch_lightning.utilities import rank_zero_warn
from torch import Tensor, nn

from models.nn.adversarial_losses import feature_matching_loss, hinge_discriminator_loss, hinge_generator_loss
from models.nn.audio_losses import MultiScaleMelLoss
from models.nn.contrastive import TwoTowerContrastive
from models.nn.masked_ssl import MaskedSSLEncoder
from models.nn.mel import MelSpectrogram
from models.nn.stft_discriminator import MultiScaleSTFTDiscriminator
from models.staged import StagedModule, StageSpec
from models.tokenizers import check_audio, fingerprint
from models.v2meow.networks import (
    AudioTower,
    CodecNet,
    HashedTextTower,
    LogMel,
    MiniLMTextTower,
    SemanticNet,
)

CODEC_SIZES = (
    "sample_rate", "codec_channels", "codec_dim", "codec_strides", "codec_levels", "codec_codebook_size",
    "quantizer_dropout", "commitment_weight", "dead_code_threshold",
)  # fmt: skip
FRONTEND_SIZES = ("sample_rate", "n_mels", "n_fft", "mel_hop", "stack")
JOINT_SIZES = (*FRONTEND_SIZES, "audio_dim", "audio_layers", "audio_heads", "text_tower", "joint_dim")
SEMANTIC_SIZES = (
    *FRONTEND_SIZES, "representation", "ssl_dim", "ssl_layers", "ssl_heads", "ssl_codebook_size", "ssl_code_dim",
    "ssl_layer", "semantic_clusters",
)  # fmt: skip
REPRESENTATIONS = ("ssl", "joint_audio", "logmel")


def si_snr(reference: Tensor, estimate: Tensor, eps: float = 1e-8) -> Tensor:
    """Scale-invariant SNR (dB) per row of [B, N]."""
    reference = reference - reference.mean(-1, keepdim=True)
    estimate = estimate - estimate.mean(-1, keepdim=True)
    target = (estimate * reference).sum(-1, keepdim=True) / (reference.pow(2).sum(-1, keepdim=True) + eps) * reference
    return 10 * torch.log10(target.pow(2).sum(-1) / ((estimate - target).pow(2).sum(-1) + eps) + eps)


class V2Meow(StagedModule):
    """V2Meow's stand-in stages (module docstring); part of the paper's chain of token models.

    Args:
        stage: ``codec``, ``joint`` or ``semantic``.
        sample_rate: audio rate of every stand-in (16 kHz, AudioLM's).
        codec_*: the codec (channels C of SEANet, embedding width, strides, RVQ levels and codes).
        quantizer_dropout, commitment_weight, dead_code_threshold: the RVQ.
        crop_seconds: codec training crops. adversarial_start: step at which the GAN terms start.
        reconstruction_weight, adversarial_weight, feature_weight: the codec's generator loss.
        discriminator_filters: the STFT discriminators' width.
        n_mels, n_fft, mel_hop, stack: the log-mel front-end of the joint and semantic models.
        audio_dim, audio_layers, audio_heads, text_tower, joint_dim, init_temperature: the joint model.
        representation, ssl_*, semantic_clusters, kmeans_clips: the semantic tokenizer (``ssl_layer`` None = middle).
        lr, betas: Adam. *_ckpt: the stages' checkpoints.
    """

    STAGES = {
        "codec": StageSpec("codec", ckpt="codec_ckpt", sizes=CODEC_SIZES, aux=("discriminator",)),
        "joint": StageSpec("joint", ckpt="joint_ckpt", sizes=JOINT_SIZES),
        "semantic": StageSpec("semantic", ckpt="semantic_ckpt", sizes=SEMANTIC_SIZES),
    }

    def __init__(
        self,
        stage: Literal["codec", "joint", "semantic"] = "codec",
        sample_rate: int = 16000,
        codec_channels: int = 32,
        codec_dim: int = 128,
        codec_strides: Sequence[int] = (2, 4, 5, 8),
        codec_levels: int = 12,
        codec_codebook_size: int = 1024,
        quantizer_dropout: float = 1.0,
        commitment_weight: float = 1.0,
        dead_code_threshold: float = 0.1,
        crop_seconds: float = 1.0,
        adversarial_start: int = 0,
        reconstruction_weight: float = 1.0,
        adversarial_weight: float = 1.0,
        feature_weight: float = 100.0,
        discriminator_filters: int = 32,
        n_mels: int = 80,
        n_fft: int = 400,
        mel_hop: int = 160,
        stack: int = 4,
        audio_dim: int = 256,
        audio_layers: int = 4,
        audio_heads: int = 4,
        text_tower: Literal["minilm", "hashed"] = "minilm",
        joint_dim: int = 128,
        init_temperature: float = 0.07,
        representation: Literal["ssl", "joint_audio", "logmel"] = "ssl",
        ssl_dim: int = 512,
        ssl_layers: int = 12,
        ssl_heads: int = 8,
        ssl_codebook_size: int = 8192,
        ssl_code_dim: int = 16,
        ssl_layer: Optional[int] = None,
        semantic_clusters: int = 1024,
        kmeans_clips: int = 128,
        lr: float = 1e-4,
        betas: Sequence[float] = (0.5, 0.9),
        codec_ckpt: Optional[str] = None,
        joint_ckpt: Optional[str] = None,
        semantic_ckpt: Optional[str] = None,
    ) -> None:
        super().__init__()
        if representation not in REPRESENTATIONS:
            raise ValueError(f"V2Meow: representation must be one of {REPRESENTATIONS}, got {representation!r}")
        if text_tower not in ("minilm", "hashed"):
            raise ValueError(f"V2Meow: text_tower must be 'minilm' or 'hashed', got {text_tower!r}")
        self.save_hyperparameters()
        self.automatic_optimization = stage != "codec"
        self.build_stages(stage)
        codec = stage == "codec"  # reconstruction loss and held-out log-mel distance (no weights)
        self.mel_loss = MultiScaleMelLoss(sample_rate) if codec else None
        self.eval_mel = MelSpectrogram(sample_rate, 1024, 256, n_mels=64, log=True) if codec else None
        self._reservoir: list[Tensor] = []
        self._seen = 0
        self._fitted_at = -1
        self._generator = torch.Generator().manual_seed(0)

    # -------------------------------------------------------------------------------------------------- networks
    @staticmethod
    def build_network(name: str, h: Mapping[str, Any]) -> nn.Module:
        """Network ``name`` of the configuration ``h`` (hyper-parameters), as :meth:`_build` and the stand-ins need."""
        if name == "codec":
            return CodecNet(
                h["codec_channels"], h["codec_dim"], tuple(h["codec_strides"]), h["codec_levels"],
                h["codec_codebook_size"], h["quantizer_dropout"], h["commitment_weight"], h["dead_code_threshold"],
            )  # fmt: skip
        logmel = LogMel(h["sample_rate"], h["n_fft"], h["mel_hop"], h["n_mels"])
        if name == "joint":
            audio = AudioTower(logmel, h["n_mels"], h["stack"], h["audio_dim"], h["audio_layers"], h["audio_heads"])
            text = MiniLMTextTower() if h["text_tower"] == "minilm" else HashedTextTower()
            return TwoTowerContrastive(
                audio, text, audio.width, text.width, h["joint_dim"], h.get("init_temperature", 0.07)
            )
        if name == "semantic":
            layers = h["ssl_layers"]
            layer = h["ssl_layer"] if h["ssl_layer"] is not None else layers // 2
            if not 0 <= layer < layers:
                raise ValueError(f"V2Meow: ssl_layer must be in 0 .. {layers - 1}, got {layer}")
            ssl = None
            if h["representation"] == "ssl":
                ssl = MaskedSSLEncoder(
                    h["n_mels"], h["stack"], h["ssl_dim"], layers, h["ssl_heads"], 4 * h["ssl_dim"],
                    codebook_size=h["ssl_codebook_size"], code_dim=h["ssl_code_dim"],
                )  # fmt: skip
            return SemanticNet(h["representation"], logmel, ssl, layer, h["semantic_clusters"], h["stack"])
        raise ValueError(f"V2Meow: unknown network {name!r}")

    def _build(self, name: str) -> nn.Module:
        if name == "discriminator":
            return MultiScaleSTFTDiscriminator(filters=self.hparams.discriminator_filters)
        return self.build_network(name, self.hparams)

    def setup(self, stage: str) -> None:
        super().setup(stage)
        if self.stage == "semantic" and self.hparams.representation == "joint_audio":
            if self.joint is None:
                raise FileNotFoundError("V2Meow: representation 'joint_audio' needs joint_ckpt (a trained joint stage)")
            self.semantic.joint_tower = [self.joint.tower_a]

    @property
    def hop_length(self) -> int:
        return math.prod(self.hparams.codec_strides)

    # --------------------------------------------------------------------------------------------------- batches
    @staticmethod
    def _where(batch: dict[str, Any]) -> str:
        ids = [m.get("id", "?") for m in batch.get("meta", [])]
        return f"batch of {ids[:4]}" if ids else "batch"

    def _audio(self, batch: dict[str, Any]) -> Tensor:
        if "audio" not in batch:
            raise KeyError("V2Meow: the batch has no 'audio' (use a DataModule that yields audio, e.g. MV100K)")
        rate = (
            int(batch.get("meta", [{}])[0].get("sample_rate", self.hparams.sample_rate))
            if batch.get("meta")
            else (self.hparams.sample_rate)
        )
        return check_audio(batch["audio"], rate, self.hparams.sample_rate, f"V2Meow ({self._where(batch)})")

    def _crop(self, audio: Tensor) -> Tensor:
        """A random ``crop_seconds`` crop (a whole number of code frames) of every clip; the whole clip when shorter."""
        hop = self.hop_length
        size = max(hop, int(self.hparams.crop_seconds * self.hparams.sample_rate) // hop * hop)
        if audio.shape[-1] <= size:
            return audio[..., : audio.shape[-1] // hop * hop or audio.shape[-1]]
        start = int(torch.randint(0, audio.shape[-1] - size + 1, (1,)))
        return audio[..., start : start + size]

    # ----------------------------------------------------------------------------------------------------- codec
    def _codec_losses(self, audio: Tensor) -> tuple[Tensor, Tensor, dict[str, Tensor]]:
        recon, q = self.codec(audio)
        recon = recon[..., : audio.shape[-1]]
        reconstruction = self._mel_loss(audio, recon)
        return recon, q.commitment_loss, {"reconstruction": reconstruction, "perplexity": q.perplexity}

    def _mel_loss(self, audio: Tensor, recon: Tensor) -> Tensor:
        return self.mel_loss(audio, recon)

    def _codec_step(self, batch: dict[str, Any]) -> None:
        opt_g, opt_d = self.optimizers()
        audio = self._crop(self._audio(batch))
        h = self.hparams
        recon, commitment, logs = self._codec_losses(audio)
        loss_g = h.reconstruction_weight * logs["reconstruction"] + commitment
        adversarial = self.global_step // 2 >= h.adversarial_start  # two optimiser steps per batch
        if adversarial:
            fake_logits, fake_maps = self.discriminator(recon[:, None])
            _, real_maps = self.discriminator(audio[:, None])
            logs["generator"] = hinge_generator_loss(fake_logits)
            logs["feature_matching"] = feature_matching_loss([[m.detach() for m in s] for s in real_maps], fake_maps)
            loss_g = loss_g + h.adversarial_weight * logs["generator"] + h.feature_weight * logs["feature_matching"]
        opt_g.zero_grad()
        self.manual_backward(loss_g)
        opt_g.step()
        if adversarial:
            real_logits, _ = self.discriminator(audio[:, None])
            fake_logits, _ = self.discriminator(recon.detach()[:, None])
            loss_d = hinge_discriminator_loss(real_logits, fake_logits)
            opt_d.zero_grad()
            self.manual_backward(loss_d)
            opt_d.step()
            logs["discriminator"] = loss_d
        else:
            opt_d.step()  # keeps the two optimisers' step counts together (no gradients: a no-op)
        logs |= {"loss": loss_g, "commitment": commitment}
        self.log_dict({f"train/{k}": v.detach() for k, v in logs.items()}, batch_size=audio.shape[0])

    # ----------------------------------------------------------------------------------------------------- joint
    def _pairs(self, batch: dict[str, Any]) -> tuple[Tensor, list[str]]:
        audio = self._audio(batch)
        text = list(batch.get("text") or [])
        if len(text) != audio.shape[0]:
            raise ValueError(f"V2Meow joint: {len(text)} captions for {audio.shape[0]} clips ({self._where(batch)})")
        keep = [i for i, t in enumerate(text) if t.strip()]
        return audio[keep], [text[i] for i in keep]

    def _joint_step(self, batch: dict[str, Any], split: str) -> Optional[Tensor]:
        audio, text = self._pairs(batch)
        if len(text) < 2:
            rank_zero_warn(f"V2Meow joint: fewer than 2 captioned clips in a {split} batch; skipped")
            return None
        out = self.joint(audio, text)
        target = torch.arange(len(text), device=out.logits.device)
        r1 = (out.logits.argmax(1) == target).float().mean()
        self.log_dict({f"{split}/loss": out.loss, f"{split}/r1": r1, f"{split}/temperature": self.joint.temperature},
                      batch_size=len(text), prog_bar=split == "train")  # fmt: skip
        return out.loss

    # -------------------------------------------------------------------------------------------------- semantic
    def _remember(self, audio: Tensor) -> None:
        """Seeded reservoir sampling of training clips for k-means."""
        for clip in audio.detach().cpu():
            self._seen += 1
            if len(self._reservoir) < self.hparams.kmeans_clips:
                self._reservoir.append(clip)
            else:
                j = int(torch.randint(0, self._seen, (1,), generator=self._generator))
                if j < self.hparams.kmeans_clips:
                    self._reservoir[j] = clip
        self._fitted_at = min(self._fitted_at, self._seen - 1)

    @torch.no_grad()
    def fit_kmeans(self, clips: Optional[Sequence[Tensor]] = None) -> None:
        """Fit the semantic tokenizer's standardisation and k-means on ``clips`` (default: the reservoir)."""
        clips = list(self._reservoir if clips is None else clips)
        if not clips:
            raise RuntimeError("V2Meow semantic: no training clips to fit k-means on")
        was_training = self.semantic.training
        self.semantic.eval()
        feats = []
        for start in range(0, len(clips), 8):
            length = min(c.shape[-1] for c in clips[start : start + 8])
            chunk = torch.stack([c[:length] for c in clips[start : start + 8]]).to(self.device)
            feats.append(self.semantic.features(chunk).reshape(-1, self._semantic_width()).float().cpu())
        data = torch.cat(feats)
        if len(data) < self.hparams.semantic_clusters:
            raise RuntimeError(f"V2Meow semantic: {len(data)} frames for {self.hparams.semantic_clusters} clusters")
        self.semantic.fit(data)
        self.semantic.to(self.device)
        self.semantic.train(was_training)
        self._fitted_at = self._seen

    def _semantic_width(self) -> int:
        h = self.hparams
        return {"ssl": h.ssl_dim, "joint_audio": h.audio_dim, "logmel": h.n_mels * h.stack}[h.representation]

    def _maybe_fit(self) -> None:
        if self.stage == "semantic" and self._reservoir and self._fitted_at < self._seen:
            self.fit_kmeans()

    def on_validation_epoch_start(self) -> None:
        if self.trainer is not None and self.trainer.state.fn == "fit":
            self._maybe_fit()

    def on_train_epoch_end(self) -> None:
        self._maybe_fit()

    def _semantic_step(self, batch: dict[str, Any], split: str) -> Optional[Tensor]:
        audio = self._audio(batch)
        if split == "train":
            self._remember(audio)
        if self.semantic.ssl is None:
            return None
        out = self.semantic.ssl(self.semantic.logmel(audio))
        self.log_dict({f"{split}/loss": out.loss, f"{split}/accuracy": out.accuracy}, batch_size=audio.shape[0],
                      prog_bar=split == "train")  # fmt: skip
        return out.loss

    # ------------------------------------------------------------------------------------------------- lightning
    def training_step(self, batch: dict[str, Any], batch_idx: int) -> Optional[Tensor]:
        if self.stage == "codec":
            return self._codec_step(batch)
        if self.stage == "joint":
            return self._joint_step(batch, "train")
        return self._semantic_step(batch, "train")

    def _eval_step(self, batch: dict[str, Any], split: str) -> None:
        if self.stage == "joint":
            self._joint_step(batch, split)
        elif self.stage == "semantic":
            self._semantic_step(batch, split)
        else:
            audio = self._audio(batch)
            audio = audio[..., : max(self.hop_length, audio.shape[-1] // self.hop_length * self.hop_length)]
            recon, commitment, logs = self._codec_losses(audio)
            metrics = {
                f"{split}/reconstruction": logs["reconstruction"],
                f"{split}/si_snr": si_snr(audio, recon).mean(),
                f"{split}/mel_l1": (self.eval_mel(audio) - self.eval_mel(recon)).abs().mean(),
                f"{split}/commitment": commitment,
            }
            self.log_dict(metrics, batch_size=audio.shape[0])

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        self._eval_step(batch, "val")

    def test_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        self._eval_step(batch, "test")

    def configure_optimizers(self) -> Any:
        h = self.hparams
        if self.stage == "codec":
            betas = tuple(h.betas)
            return [
                torch.optim.Adam(self.codec.parameters(), lr=h.lr, betas=betas),
                torch.optim.Adam(self.discriminator.parameters(), lr=h.lr, betas=betas),
            ]
        params = [p for p in getattr(self, self.trains).parameters() if p.requires_grad]
        return torch.optim.Adam(params, lr=h.lr) if params else None

    # ---------------------------------------------------------------------------------------------- fingerprints
    def fingerprints(self) -> dict[str, str]:
        """``{network: fingerprint}`` of the stand-in networks this model has (sizes + weights)."""
        sizes = {spec.trains: spec.sizes for spec in self.STAGES.values()}
        return {
            name: fingerprint({k: self.hparams[k] for k in sizes[name]}, net.state_dict())
            for name, net in self.networks()
            if name in sizes
        }

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["fingerprints"] = self.fingerprints()


__all__ = ["CODEC_SIZES", "JOINT_SIZES", "REPRESENTATIONS", "SEMANTIC_SIZES", "V2Meow", "si_snr"]
