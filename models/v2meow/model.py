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

The paper's own stages (§3.2) model the stand-ins' tokens, computed on the fly from the frozen tokenizers (the
``codec`` and ``semantic`` networks, loaded from ``codec_ckpt`` / ``semantic_ckpt``); networks in
``models.v2meow.token_networks``:

4. ``visual2semantic`` (Stage 1): encoder-decoder Transformer, visual features / visual tokens (+ the control
   embedding as one extra encoder position, ``control="joint"``) -> semantic tokens. Paper: 12 layers (read as 12
   encoder + 12 decoder), 16 heads, d 1024, ff 4096, relative positions; 10-s crops; sampling temperature 1.0.
5. ``semantic2coarse`` (Stage 2): ``coarse_visual=False``: decoder-only prefix LM on [semantic; coarse] (AudioLM);
   ``True``: encoder on visual features + semantic tokens, decoder -> coarse. Coarse = the first ``coarse_levels``
   RVQ levels flattened frame-major; 10-s crops; temperature 0.95.
6. ``coarse2fine`` (Stage 3): decoder-only, coarse -> the next ``fine_levels`` levels per 3-s chunk; temperature
   0.4; the codec's decoder turns all levels into audio.

Each token stage's checkpoint stores the fingerprints of the tokenizers it was trained on; a chain whose tokenizer
differs from the one a stage was trained on fails naming both checkpoints. The control embedding comes from the batch
(``control_embedding``: the video-level joint embedding, §3.1) or, when absent, from the joint model
(``joint_ckpt``) on the clip's audio; at inference from a text prompt through the joint model's text tower.
``generate_from_video`` (``cli.py generate``) runs the chain on ``stage_crop_seconds`` windows covering a whole video
(:mod:`models.v2meow.generation`); ``predict`` writes each clip's WAV and, at the end, a metrics JSON (token NLL per
stage; FAD / KL with ``eval_embedder``).

Each stage's checkpoint is loaded by a stand-in implementing its protocol (``models.tokenizers``,
``metrics.text_audio``): :class:`models.v2meow.standins.SoundStreamCodec`, ``SemanticTokens``, ``JointEmbedding``.
Every checkpoint carries a fingerprint per network (hyper-parameters that size it + its weights).

Choices the papers leave open (✱), each a constructor argument: 1-s random crops for the codec; loss weights
λ_rec 1, λ_adv 1, λ_feat 100 and Adam (1e-4, β 0.5 / 0.9) as SoundStream; commitment weight 1; codes whose EMA use
falls below 0.1 per batch are restarted (a batch holds fewer vectors than codes); every training batch takes a random
number of levels (SoundStream's quantizer dropout); 80 log-mel bins at a 10-ms hop stacked by 4 (25
frames/s) for the SSL encoder and the audio tower; SSL encoder 12 layers × 512 (BEST-RQ targets 8192 × 16, mask
probability 0.01, spans of 10); clustered layer: the middle one; audio tower 4 layers × 256. Token stages: Nc 4 and
Nf 8 levels (AudioLM's split of 12); stage 2-3 sizes = stage 1's (one set of ``lm_*`` sizes); dropout 0.1;
pre-LayerNorm; relative distances clipped at 512; every visual kind LayerNorm-ed before its projection; visual
tokens flattened to T · P positions; the seconds encoding (``seconds_encoding``, a suite choice: relative positions
carry no absolute time); stage 3 generates non-overlapping 3-s chunks; classifier-free guidance (not in the paper)
off (``guidance_scale`` 1.0; other values need ``control_dropout`` > 0 to learn the null embedding).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, Optional

import torch
import torch.nn.functional as F
from pytorch_lightning.utilities import rank_zero_warn
from torch import Tensor, nn

from models.nn.adversarial_losses import feature_matching_loss, hinge_discriminator_loss, hinge_generator_loss
from models.nn.audio_losses import MultiScaleMelLoss
from models.nn.contrastive import TwoTowerContrastive
from models.nn.decoding import guided_step, sample
from models.nn.masked_ssl import MaskedSSLEncoder
from models.nn.mel import MelSpectrogram
from models.nn.stft_discriminator import MultiScaleSTFTDiscriminator
from models.staged import StagedModule, StageSpec, _plain
from models.tokenizers import check_audio, fingerprint
from models.v2meow.generation import generate_soundtrack, resolve_kinds
from models.v2meow.networks import (
    AudioTower,
    CodecNet,
    HashedTextTower,
    LogMel,
    MiniLMTextTower,
    SemanticNet,
)
from models.v2meow.token_networks import ConditionEncoder, TokenLM, flatten_codes, level_masks, unflatten_codes

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
LM_SIZES = (
    "lm_dim", "lm_encoder_layers", "lm_decoder_layers", "lm_heads", "lm_feedforward", "lm_dropout", "lm_max_relative",
    "seconds_encoding",
)  # fmt: skip
VISUAL_SIZES = ("feature_dims", "visual_token_vocab", "visual_token_patches", "visual_kinds")
V2S_SIZES = (*LM_SIZES, *VISUAL_SIZES, "control", "control_dim")
S2C_SIZES = (*LM_SIZES, *VISUAL_SIZES, "coarse_levels", "coarse_visual")
C2F_SIZES = (*LM_SIZES, "coarse_levels", "fine_levels")
TOKEN_STAGES = ("visual2semantic", "semantic2coarse", "coarse2fine")
TOKENIZERS = ("codec", "semantic", "joint")
REPRESENTATIONS = ("ssl", "joint_audio", "logmel")


def si_snr(reference: Tensor, estimate: Tensor, eps: float = 1e-8) -> Tensor:
    """Scale-invariant SNR (dB) per row of [B, N]."""
    reference = reference - reference.mean(-1, keepdim=True)
    estimate = estimate - estimate.mean(-1, keepdim=True)
    target = (estimate * reference).sum(-1, keepdim=True) / (reference.pow(2).sum(-1, keepdim=True) + eps) * reference
    return 10 * torch.log10(target.pow(2).sum(-1) / ((estimate - target).pow(2).sum(-1) + eps) + eps)


class V2Meow(StagedModule):
    """V2Meow: the stand-in stages and the paper's token stages (module docstring).

    Args:
        stage: ``codec``, ``joint``, ``semantic`` (stand-ins) or ``visual2semantic``, ``semantic2coarse``,
            ``coarse2fine`` (§3.2).
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
        lm_*: the token stages' Transformers (dim, encoder / decoder layers, heads, feed-forward, dropout, relative
            distance clip); seconds_encoding: the seconds encoding of encoder positions and decoder inputs.
        feature_dims: widths of the visual feature kinds (in the batch's order); visual_token_vocab /
            visual_token_patches: visual token kinds (0: none).
        visual_kinds: names of those kinds, the feature kinds then the token kinds (what ``cli.py generate``
            extracts from a video or reads from ``--features``); None: the suite's kinds of those widths
            (:mod:`models.v2meow.generation`).
        control, control_dim, control_dropout, guidance_scale: text / music control of stage 1 (``"joint"``: the
            joint model's embedding as one encoder position), its dropout to the null embedding, and classifier-free
            guidance at generation.
        coarse_visual: stage 2 with visual input. coarse_levels, fine_levels: Nc, Nf.
        stage_crop_seconds, fine_crop_seconds: crops of stages 1-2 and 3. temperatures: sampling, stages 1-3.
        prompt_field: the batch field whose strings are the text prompts at ``predict`` (``prompt``; a MusicCaps
            evaluation: ``text``, the caption); used only with ``control="joint"``.
        eval_embedder: ``predict`` also computes FAD and KL of the generated clips against the batch's audio with
            this audio embedder (:mod:`metrics.suite_embedder`): a checkpoint path, or ``"suite"`` for the suite's
            cached one (trained on first use); None: token NLL only.
    """

    STAGES = {
        "codec": StageSpec("codec", ckpt="codec_ckpt", sizes=CODEC_SIZES, aux=("discriminator",)),
        "joint": StageSpec("joint", ckpt="joint_ckpt", sizes=JOINT_SIZES),
        "semantic": StageSpec("semantic", ckpt="semantic_ckpt", sizes=SEMANTIC_SIZES),
        "visual2semantic": StageSpec(
            "visual2semantic", ckpt="visual2semantic_ckpt", sizes=V2S_SIZES, needs=("semantic",)
        ),
        "semantic2coarse": StageSpec(
            "semantic2coarse", ckpt="semantic2coarse_ckpt", sizes=S2C_SIZES, needs=("codec", "semantic")
        ),
        "coarse2fine": StageSpec("coarse2fine", ckpt="coarse2fine_ckpt", sizes=C2F_SIZES, needs=("codec",)),
    }

    def __init__(
        self,
        stage: Literal["codec", "joint", "semantic", "visual2semantic", "semantic2coarse", "coarse2fine"] = "codec",
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
        lm_dim: int = 1024,
        lm_encoder_layers: int = 12,
        lm_decoder_layers: int = 12,
        lm_heads: int = 16,
        lm_feedforward: int = 4096,
        lm_dropout: float = 0.1,
        lm_max_relative: int = 512,
        seconds_encoding: bool = True,
        feature_dims: Sequence[int] = (768, 1024),
        visual_token_vocab: int = 0,
        visual_token_patches: int = 0,
        control: Literal["none", "joint"] = "none",
        control_dim: int = 128,
        control_dropout: float = 0.0,
        guidance_scale: float = 1.0,
        coarse_visual: bool = False,
        coarse_levels: int = 4,
        fine_levels: int = 8,
        stage_crop_seconds: float = 10.0,
        fine_crop_seconds: float = 3.0,
        temperatures: Sequence[float] = (1.0, 0.95, 0.4),
        visual2semantic_ckpt: Optional[str] = None,
        semantic2coarse_ckpt: Optional[str] = None,
        coarse2fine_ckpt: Optional[str] = None,
        visual_kinds: Optional[Sequence[str]] = None,
        prompt_field: str = "prompt",
        eval_embedder: Optional[str] = None,
    ) -> None:
        super().__init__()
        if control not in ("none", "joint"):
            raise ValueError(f"V2Meow: control must be 'none' or 'joint', got {control!r}")
        if not 0.0 <= control_dropout < 1.0:
            raise ValueError(f"V2Meow: control_dropout must be in [0, 1), got {control_dropout}")
        if guidance_scale != 1.0 and (control == "none" or control_dropout <= 0):
            raise ValueError(
                f"V2Meow: guidance_scale={guidance_scale} needs control='joint' and control_dropout > 0 (a learned "
                f"null embedding); got control={control!r}, control_dropout={control_dropout}"
            )
        if len(temperatures) != 3 or min(temperatures) <= 0:
            raise ValueError(f"V2Meow: temperatures must be three values > 0 (stages 1-3), got {list(temperatures)}")
        if not feature_dims and not visual_token_vocab:
            raise ValueError("V2Meow: feature_dims is empty and visual_token_vocab is 0: the model sees no video")
        if representation not in REPRESENTATIONS:
            raise ValueError(f"V2Meow: representation must be one of {REPRESENTATIONS}, got {representation!r}")
        if text_tower not in ("minilm", "hashed"):
            raise ValueError(f"V2Meow: text_tower must be 'minilm' or 'hashed', got {text_tower!r}")
        if visual_kinds is not None:
            resolve_kinds(feature_dims, visual_token_vocab, visual_token_patches, visual_kinds)
        self.save_hyperparameters()
        self.automatic_optimization = stage != "codec"
        self.check_shared_sizes()
        self.build_stages(stage)
        codec = stage == "codec"  # reconstruction loss and held-out log-mel distance (no weights)
        self.mel_loss = MultiScaleMelLoss(sample_rate) if codec else None
        self.eval_mel = MelSpectrogram(sample_rate, 1024, 256, n_mels=64, log=True) if codec else None
        self._reservoir: list[Tensor] = []
        self._seen = 0
        self._fitted_at = -1
        self._generator = torch.Generator().manual_seed(0)
        self.check_tokenizers()

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
        if name in TOKEN_STAGES:
            return V2Meow._token_network(name, h)
        raise ValueError(f"V2Meow: unknown network {name!r}")

    @staticmethod
    def _token_network(name: str, h: Mapping[str, Any]) -> nn.Module:
        lm = (h["lm_dim"], h["lm_decoder_layers"], h["lm_heads"], h["lm_feedforward"], h["lm_dropout"],
              h["lm_max_relative"])  # fmt: skip
        frame_rate = h["sample_rate"] / math.prod(h["codec_strides"])
        semantic_rate = h["sample_rate"] / (h["mel_hop"] * h["stack"])
        ks, k, nc, nf = h["semantic_clusters"], h["codec_codebook_size"], h["coarse_levels"], h["fine_levels"]
        seconds = bool(h["seconds_encoding"])

        def encoder(control_dim: int = 0, semantic_vocab: int = 0) -> ConditionEncoder:
            return ConditionEncoder(
                h["lm_dim"], h["lm_encoder_layers"], h["lm_heads"], h["lm_feedforward"], h["lm_dropout"],
                h["lm_max_relative"], tuple(h["feature_dims"]), h["visual_token_vocab"], h["visual_token_patches"],
                control_dim, semantic_vocab, semantic_rate, seconds,
            )  # fmt: skip

        if name == "visual2semantic":
            control = h["control_dim"] if h["control"] == "joint" else 0
            return TokenLM(ks + 1, *lm, semantic_rate, encoder=encoder(control), seconds_encoding=seconds)
        if name == "semantic2coarse":
            if h["coarse_visual"]:
                return TokenLM(nc * k + 1, *lm, frame_rate, nc, encoder=encoder(0, ks), seconds_encoding=seconds)
            return TokenLM(ks + nc * k + 1, *lm, frame_rate, nc, semantic_rate, 1, seconds_encoding=seconds)
        return TokenLM((nc + nf) * k + 1, *lm, frame_rate, nf, frame_rate, nc, seconds_encoding=seconds)

    def _build(self, name: str) -> nn.Module:
        if name == "discriminator":
            return MultiScaleSTFTDiscriminator(filters=self.hparams.discriminator_filters)
        return self.build_network(name, self.hparams)

    def setup(self, stage: str) -> None:
        if stage == "fit" or self.stage not in TOKEN_STAGES:
            super().setup(stage)
        else:  # predict / test of a token stage: the chain may come from the checkpoint restored after setup
            self._load_stage_checkpoints(required=False)
        if self.semantic is not None and self.hparams.representation == "joint_audio":
            if self.joint is None:
                raise FileNotFoundError("V2Meow: representation 'joint_audio' needs joint_ckpt (a trained joint stage)")
            self.semantic.joint_tower = [self.joint.tower_a]
        self.check_tokenizers()
        if stage == "fit" and self.stage in TOKEN_STAGES:
            self._check_token_setup()

    def _check_token_setup(self) -> None:
        h = self.hparams
        if self.codec is not None and h.coarse_levels + (h.fine_levels if self.stage == "coarse2fine" else 0) > (
            h.codec_levels
        ):
            raise ValueError(
                f"V2Meow: coarse_levels {h.coarse_levels} + fine_levels {h.fine_levels} exceed the codec's "
                f"{h.codec_levels} levels (codec_ckpt {h.codec_ckpt})"
            )
        if self.semantic is not None and not self.semantic.fitted:
            raise RuntimeError(f"V2Meow: the semantic tokenizer in {h.semantic_ckpt} has no fitted k-means")

    # ---------------------------------------------------------------------------------------------- token chain
    def _stored_fingerprints(self, path: str) -> dict[str, str]:
        checkpoint = torch.load(path, map_location="cpu", weights_only=False)
        return dict(checkpoint.get("fingerprints") or {}) if isinstance(checkpoint, dict) else {}

    def check_shared_sizes(self) -> None:
        """The stages given by checkpoint agree on the hyper-parameters they share (one set of ``lm_*`` sizes, the
        visual kinds, Nc, the front-end): each stage takes its sizes from its checkpoint, so a disagreement would
        build one of them wrongly. Else one ``ValueError`` naming both checkpoints and the value."""
        seen: dict[str, tuple[str, Any]] = {}
        for spec in self.STAGES.values():
            path = self.hparams.get(spec.ckpt)
            if not path or not Path(path).is_file():
                continue
            try:  # memory-mapped: only the hyper-parameters are read, not the weights
                checkpoint = torch.load(path, map_location="cpu", weights_only=False, mmap=True)
            except Exception as error:  # noqa: BLE001 - re-raised with the file named
                raise RuntimeError(f"V2Meow: cannot read checkpoint {path} ({spec.ckpt}): {error}") from error
            hyper = (checkpoint.get("hyper_parameters") or {}) if isinstance(checkpoint, dict) else {}
            hyper = self._sizing(spec.trains, hyper)
            for key in (k for k in spec.sizes if k in hyper):
                if key in seen and _plain(seen[key][1]) != _plain(hyper[key]):
                    where, value = seen[key]
                    raise ValueError(
                        f"V2Meow: {spec.ckpt} {path} was trained with {key}={hyper[key]}, but {where} with "
                        f"{key}={value}: the stages of one chain share {key} (retrain one of them to match)"
                    )
                seen.setdefault(key, (f"{spec.ckpt} {path}", hyper[key]))

    @staticmethod
    def _sizing(name: str, hyper: Mapping[str, Any]) -> dict[str, Any]:
        """The hyper-parameters of a stage's checkpoint that size its network: stage 2 without visual input
        (``coarse_visual`` false) takes no visual kinds, so a chain's stage 1 keeps its own."""
        if name == "semantic2coarse" and not hyper.get("coarse_visual", False):
            return {k: v for k, v in hyper.items() if k not in VISUAL_SIZES}
        return dict(hyper)

    def _adopt_sizes(self, name: str, hyper: Mapping[str, Any], path: Path) -> bool:
        return super()._adopt_sizes(name, self._sizing(name, hyper), path)

    def check_tokenizers(self) -> None:
        """Every token stage loaded from a checkpoint was trained on the tokenizers this model holds: else one
        ``ValueError`` naming the stage's checkpoint and the tokenizer's."""
        loaded = getattr(self, "_loaded", set())
        stages = [n for n in TOKEN_STAGES if n in loaded and self.checkpoints.get(n)]
        if not stages:
            return
        current = {name: fp for name, fp in self.fingerprints().items() if name in TOKENIZERS}
        for name in stages:
            path = self.checkpoints[name]
            stored = self._stored_fingerprints(path)
            for tokenizer, fp in current.items():
                if tokenizer in stored and stored[tokenizer] != fp:
                    raise ValueError(
                        f"V2Meow: the {name} checkpoint {path} was trained on the {tokenizer} tokenizer "
                        f"{stored[tokenizer]}, but {self._ckpt_argument(tokenizer)} {self.checkpoints.get(tokenizer)} "
                        f"holds {tokenizer} {fp}: retrain that stage on this tokenizer or chain the one it was "
                        "trained on"
                    )

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

    # ---------------------------------------------------------------------------------------------- token stages
    @property
    def frame_rate(self) -> float:
        """Codec frames (acoustic token frames) per second."""
        return self.hparams.sample_rate / self.hop_length

    @property
    def semantic_rate(self) -> float:
        """Semantic tokens per second."""
        return self.hparams.sample_rate / (self.hparams.mel_hop * self.hparams.stack)

    def _visual(self, batch: dict[str, Any]) -> tuple[Optional[Tensor], Optional[Tensor]]:
        """The batch's ``visual_features`` / ``visual_tokens`` checked against the model's kinds and sizes."""
        h, where = self.hparams, f"V2Meow ({self._where(batch)})"
        meta = (batch.get("meta") or [{}])[0]
        features = tokens = None
        if h.feature_dims:
            if "visual_features" not in batch:
                raise KeyError(f"{where}: the model was built for visual_features (feature_dims {list(h.feature_dims)})"
                               " but the batch has none (set the DataModule's feature_kinds)")  # fmt: skip
            features = batch["visual_features"]
            if features.dim() != 3 or features.shape[-1] != sum(h.feature_dims):
                raise ValueError(
                    f"{where}: the batch's visual_features are {tuple(features.shape)} (kinds "
                    f"{meta.get('feature_kinds')}, dims {meta.get('feature_dims')}), the model was built for "
                    f"feature_dims {list(h.feature_dims)} (D = {sum(h.feature_dims)})"
                )
            if not bool(torch.isfinite(features).all()):
                raise ValueError(f"{where}: visual_features hold NaN or Inf")
        if h.visual_token_vocab:
            if "visual_tokens" not in batch:
                raise KeyError(f"{where}: the model was built for visual_tokens but the batch has none "
                               "(set the DataModule's token_kinds)")  # fmt: skip
            tokens = batch["visual_tokens"].long()
            if tokens.dim() != 3 or (h.visual_token_patches and tokens.shape[-1] != h.visual_token_patches):
                raise ValueError(
                    f"{where}: the batch's visual_tokens are {tuple(tokens.shape)} (kinds {meta.get('token_kinds')}),"
                    f" the model was built for {h.visual_token_patches} tokens per frame"
                )
            if tokens.numel() and (int(tokens.min()) < 0 or int(tokens.max()) >= h.visual_token_vocab):
                raise ValueError(f"{where}: visual token ids {int(tokens.min())} .. {int(tokens.max())} outside the "
                                 f"model's vocabulary 0 .. {h.visual_token_vocab - 1}")  # fmt: skip
        return features, tokens

    def _control(self, batch: dict[str, Any], audio: Tensor) -> Optional[Tensor]:
        """The control embedding [B, control_dim]: the batch's, else the joint model's embedding of the clip."""
        h = self.hparams
        if h.control == "none":
            return None
        control = batch.get("control_embedding")
        if control is None:
            if self.joint is None:
                raise KeyError(
                    f"V2Meow ({self._where(batch)}): control='joint' needs control_embedding in the batch "
                    "(MV100KDataModule(embedding_kind=...)) or joint_ckpt (embeds the clip's audio)"
                )
            with torch.no_grad():
                control = self.joint.embed_a(audio)
        if control.dim() != 2 or control.shape[-1] != h.control_dim:
            raise ValueError(f"V2Meow ({self._where(batch)}): control_embedding is {tuple(control.shape)}, the model "
                             f"takes control_dim {h.control_dim}")  # fmt: skip
        return control.float()

    def _stage_crop(self, batch: dict[str, Any]) -> tuple[Tensor, Optional[Tensor], Optional[Tensor]]:
        """A ``stage_crop_seconds`` crop (whole seconds, random in training) of audio and visual input."""
        rate = self.hparams.sample_rate
        audio = self._audio(batch)
        features, tokens = self._visual(batch)
        total = audio.shape[-1] // rate
        if total < 1:
            raise ValueError(f"V2Meow ({self._where(batch)}): clips of {audio.shape[-1] / rate:.2f} s; the token "
                             "stages need at least 1 s")  # fmt: skip
        length = min(total, int(self.hparams.stage_crop_seconds))
        start = int(torch.randint(0, total - length + 1, (1,))) if self.training else 0
        audio = audio[..., start * rate : (start + length) * rate]
        features = None if features is None else features[:, start : start + length]
        tokens = None if tokens is None else tokens[:, start : start + length]
        return audio, features, tokens

    @torch.no_grad()
    def tokenize(self, audio: Tensor, semantic: bool = True, acoustic: bool = True) -> tuple[Optional[Tensor], ...]:
        """Semantic tokens [B, round(seconds · semantic_rate)] and codec codes [B, levels, round(seconds ·
        frame_rate)] of ``audio`` [B, N], from the frozen tokenizers."""
        seconds = audio.shape[-1] / self.hparams.sample_rate
        ids = (
            self._need("semantic").encode(audio)[:, : max(1, round(seconds * self.semantic_rate))] if semantic else None
        )
        codes = self._need("codec").encode(audio)[..., : max(1, round(seconds * self.frame_rate))] if acoustic else None
        return ids, codes

    def _fine_crop(self, codes: Tensor) -> Tensor:
        frames = max(1, round(self.hparams.fine_crop_seconds * self.frame_rate))
        if codes.shape[-1] <= frames:
            return codes
        start = int(torch.randint(0, codes.shape[-1] - frames + 1, (1,))) if self.training else 0
        return codes[..., start : start + frames]

    def _token_loss(
        self, batch: dict[str, Any], stage: Optional[str] = None, prompt: Optional[tuple[Tensor, Tensor]] = None
    ) -> tuple[Tensor, int]:
        """Token NLL (nats per token) of ``stage``'s targets (default: this model's stage) and the batch size;
        ``prompt`` (control, null), when given, is stage 1's control instead of the batch's (evaluation)."""
        h = self.hparams
        stage = stage or self.stage
        net = self._need(stage)
        k, nc, nf, ks = h.codec_codebook_size, h.coarse_levels, h.fine_levels, h.semantic_clusters
        special = net.vocab_size - 1  # BOS (encoder-decoder) or SEP (decoder-only)
        if stage == "coarse2fine":
            _, codes = self.tokenize(self._audio(batch), semantic=False)
            codes = self._fine_crop(codes)
            coarse, target = flatten_codes(codes[:, :nc], k), flatten_codes(codes[:, nc : nc + nf], k, nc)
            sep = torch.full_like(coarse[:, :1], special)
            logits = net(torch.cat([coarse, sep, target[:, :-1]], 1), coarse.shape[1])[:, coarse.shape[1] :]
        else:
            audio, features, tokens = self._stage_crop(batch)
            semantic, codes = self.tokenize(audio, acoustic=stage == "semantic2coarse")
            start = torch.full_like(semantic[:, :1], special)
            if stage == "visual2semantic":
                control, null = prompt if prompt is not None else (self._control(batch, audio), None)
                if control is not None and self.training and h.control_dropout > 0:
                    null = torch.rand(control.shape[0], device=control.device) < h.control_dropout
                memory = net.encoder(features, tokens, control, null)
                target = semantic
                logits = net(torch.cat([start, target[:, :-1]], 1), 0, memory)
            elif h.coarse_visual:
                target = flatten_codes(codes[:, :nc], k)
                memory = net.encoder(features, tokens, semantic=semantic)
                logits = net(torch.cat([start, target[:, :-1]], 1), 0, memory)
            else:
                target = flatten_codes(codes[:, :nc], k, offset=ks)
                inputs = torch.cat([semantic, start, target[:, :-1]], 1)
                logits = net(inputs, semantic.shape[1])[:, semantic.shape[1] :]
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), target.reshape(-1))
        return loss, target.shape[0]

    def _token_step(self, batch: dict[str, Any], split: str) -> Tensor:
        loss, size = self._token_loss(batch)
        self.log_dict({f"{split}/loss": loss, f"{split}/nll": loss.detach()}, batch_size=size,
                      prog_bar=split == "train")  # fmt: skip
        return loss

    def control_from_text(self, text: Sequence[str]) -> tuple[Tensor, Tensor]:
        """Text prompts -> (embeddings [B, control_dim], null [B] bool): an empty prompt is no prompt (the null
        embedding). One error when the model has no control or no joint model."""
        if self.hparams.control == "none":
            shown = next((str(t) for t in text if str(t).strip()), "")
            raise ValueError(
                f"V2Meow: a text prompt was given ({shown!r}) but this model has control='none' (train the "
                "visual2semantic stage with control: joint, e.g. experiments/v2meow_text.yaml)"
            )
        null = torch.tensor([not str(t).strip() for t in text], dtype=torch.bool)
        control = torch.zeros(len(text), self.hparams.control_dim, device=self.device)
        if not bool(null.all()):
            joint = self._need("joint")
            kept = [str(t) for t in text if str(t).strip()]
            control[~null.to(self.device)] = joint.embed_b(kept).to(self.device).float()
        return control, null.to(self.device)

    @torch.no_grad()
    def generate_tokens(
        self,
        features: Optional[Tensor] = None,
        visual_tokens: Optional[Tensor] = None,
        control: Optional[Tensor] = None,
        null_control: Optional[Tensor] = None,
        generator: Optional[torch.Generator] = None,
        greedy: bool = False,
    ) -> dict[str, Tensor]:
        """The chain (§3.2) on one window of 1-fps visual input [B, T, ...]: ``semantic`` [B, S], ``coarse`` codes
        [B, Nc, F], ``fine`` codes [B, Nf, F] (absent without a ``coarse2fine`` network: the no-fine ablation) and
        ``audio`` [B, F · hop] (the codec decoding all levels generated)."""
        h = self.hparams
        t1, t2, t3 = (float(t) for t in h.temperatures)
        k, nc, nf, ks = h.codec_codebook_size, h.coarse_levels, h.fine_levels, h.semantic_clusters
        ref = features if features is not None else visual_tokens
        if ref is None:
            raise ValueError("V2Meow.generate_tokens: no visual input")
        batch, seconds, device = ref.shape[0], ref.shape[1], self.device
        kw = dict(eos=-1, pad=0, generator=generator, device=device, greedy=greedy)
        # stage 1: visual -> semantic
        net = self._need("visual2semantic")
        memory = net.encoder(features, visual_tokens, control, null_control)
        step, scale = net.step_fn(0), float(h.guidance_scale)
        if scale != 1.0:
            memory = torch.cat([memory, net.encoder(features, visual_tokens, None)])
            step = guided_step(step, scale)
        length = max(1, round(seconds * self.semantic_rate))
        allowed = torch.arange(net.vocab_size) < ks
        semantic = sample(step, net.init_cache(memory), batch, sos=ks, max_len=length, temperature=t1,
                          allowed=allowed[None], **kw).tokens  # fmt: skip
        # stage 2: semantic -> coarse
        net = self._need("semantic2coarse")
        frames = max(1, round(seconds * self.frame_rate))
        if h.coarse_visual:
            cache, step, offset = (
                net.init_cache(net.encoder(features, visual_tokens, semantic=semantic)),
                net.step_fn(0),
                0,
            )
        else:
            cache, offset = net.init_cache(batch_size=batch), ks
            _, cache = net.prefill(semantic, cache, semantic.shape[1])
            step = net.step_fn(semantic.shape[1])
        ids = sample(step, cache, batch, sos=net.vocab_size - 1, max_len=frames * nc, temperature=t2,
                     allowed=level_masks(net.vocab_size, nc, k, offset=offset), **kw).tokens  # fmt: skip
        out = {"semantic": semantic, "coarse": unflatten_codes(ids, nc, k, offset=offset)}
        # stage 3: coarse -> fine, per chunk of fine_crop_seconds
        codes = out["coarse"]
        if self.coarse2fine is not None:
            net, chunk, fine = self.coarse2fine, max(1, round(h.fine_crop_seconds * self.frame_rate)), []
            for a in range(0, frames, chunk):
                prefix = flatten_codes(out["coarse"][..., a : a + chunk], k)
                cache = net.init_cache(batch_size=batch)
                _, cache = net.prefill(prefix, cache, prefix.shape[1])
                ids = sample(net.step_fn(prefix.shape[1]), cache, batch, sos=net.vocab_size - 1,
                             max_len=(prefix.shape[1] // nc) * nf, temperature=t3,
                             allowed=level_masks(net.vocab_size, nf, k, first_level=nc), **kw).tokens  # fmt: skip
                fine.append(unflatten_codes(ids, nf, k, first_level=nc))
            out["fine"] = torch.cat(fine, -1)
            codes = torch.cat([codes, out["fine"]], 1)
        out["audio"] = self._need("codec").decode(codes)
        return out

    def predict_step(self, batch: dict[str, Any], batch_idx: int) -> dict[str, Any]:
        """The chain on a batch's visual input (``cli.py predict``: the test split), conditioned on the batch's text
        prompts (``prompt_field``, one per clip; an empty one is no prompt) when the model has control, else on none
        — never on the reference audio's embedding. Returns the audio [B, N] and ``meta``; with a trainer, each clip
        is also written to ``<default_root_dir>/v2meow_predictions/<id>_<start>s.wav``, and the metrics of all
        clips (:meth:`prediction_metrics`) to ``metrics.json`` there at the end."""
        features, tokens = self._visual(batch)
        control = null = None
        prompts = batch.get(self.hparams.prompt_field)
        if self.hparams.control == "joint" and prompts is not None:
            control, null = self.control_from_text(list(prompts))
        audio = self.generate_tokens(features, tokens, control, null)["audio"]
        meta = list(batch.get("meta") or [])
        self._score_prediction(batch, audio, (control, null))
        if self._trainer is not None:
            from models.generation import write_wav

            folder = self.predictions_folder()
            folder.mkdir(parents=True, exist_ok=True)
            for i, clip in enumerate(audio.float().cpu().numpy()):
                info = meta[i] if i < len(meta) else {}
                name = f"{info.get('id', f'{batch_idx}_{i}')}_{float(info.get('start_s', 0.0)):g}s.wav"
                write_wav(folder / name, clip, self.hparams.sample_rate)
        return {"audio": audio, "meta": meta}

    def predictions_folder(self) -> Path:
        """``<default_root_dir>/v2meow_predictions`` (WAVs and ``metrics.json`` of ``predict``)."""
        return Path(self.trainer.default_root_dir) / "v2meow_predictions"

    def _score_prediction(self, batch: dict[str, Any], audio: Tensor, prompt: tuple[Any, Any]) -> None:
        """Add a predicted batch to the running metrics: token NLL of the reference audio's tokens for every token
        stage this model holds (stage 1 conditioned on the prompts, never on the reference audio's embedding) and,
        with ``eval_embedder``, FAD / KL of the generated clips against the references."""
        if "audio" not in batch:
            return
        scores = self.__dict__.setdefault("_prediction_scores", {"nll": {}, "clips": 0})
        scores["clips"] += int(audio.shape[0])
        needs = {"visual2semantic": ("semantic",), "semantic2coarse": ("semantic", "codec"), "coarse2fine": ("codec",)}
        for stage in TOKEN_STAGES:
            if getattr(self, stage) is None or any(getattr(self, n) is None for n in needs[stage]):
                continue
            with torch.no_grad():
                loss, _ = self._token_loss(batch, stage, prompt)
            total, count = scores["nll"].get(stage, (0.0, 0))
            scores["nll"][stage] = (total + float(loss) * audio.shape[0], count + int(audio.shape[0]))
        if self.hparams.eval_embedder:
            metrics = scores.get("audio_metrics") or self._audio_metrics()
            scores["audio_metrics"] = metrics
            reference = self._audio(batch)
            rate = int(self.hparams.sample_rate)
            generated = [a.float().cpu() for a in audio]
            references = [r.float().cpu()[: g.shape[-1]] for r, g in zip(reference, generated)]
            metrics[0].update(references, real=True, sample_rate=rate)
            metrics[0].update(generated, real=False, sample_rate=rate)
            metrics[1].update(generated, references, sample_rate=rate)

    def _audio_metrics(self) -> tuple[Any, Any]:
        """FAD and KL with the ``eval_embedder`` (:mod:`metrics.suite_embedder`)."""
        from metrics.fad import FAD
        from metrics.kl import KLDivergence
        from metrics.suite_embedder import SuiteAudioEmbedder, ensure_suite_embedder

        source = self.hparams.eval_embedder
        path = ensure_suite_embedder(None if source == "suite" else source)
        embedder = SuiteAudioEmbedder.from_checkpoint(path)
        return FAD(embedder, keep_embeddings=False), KLDivergence(embedder)

    def prediction_metrics(self) -> dict[str, Any]:
        """The metrics of the clips predicted so far: ``token_nll`` {stage: nats per token, clip-weighted mean of
        the clips' NLL}, ``clips`` and, with ``eval_embedder``, ``fad_<embedder>`` / ``kl_<embedder>``."""
        scores = self.__dict__.get("_prediction_scores") or {"nll": {}, "clips": 0}
        out: dict[str, Any] = {
            "clips": scores["clips"],
            "token_nll": {stage: total / max(count, 1) for stage, (total, count) in scores["nll"].items()},
        }
        if "audio_metrics" in scores:
            for metric in scores["audio_metrics"]:
                try:
                    out[metric.name] = float(metric.compute())
                except RuntimeError as error:  # too few windows for a covariance: reported, not fatal
                    rank_zero_warn(f"V2Meow predict: {metric.name} not computed: {error}")
        return out

    def on_predict_epoch_start(self) -> None:
        self.__dict__.pop("_prediction_scores", None)

    def on_predict_epoch_end(self) -> None:
        """Write :meth:`prediction_metrics` as ``metrics.json`` beside the predicted WAVs."""
        import json

        folder = self.predictions_folder()
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "metrics.json"
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(self.prediction_metrics(), indent=2, sort_keys=True) + "\n")
        tmp.replace(path)

    @torch.no_grad()
    def generate_from_video(
        self,
        video: str,
        keypoints: Optional[str] = None,
        text: Optional[str] = None,
        features: Optional[str] = None,
        seed: int = 0,
    ) -> Any:
        """Soundtrack of a whole video (``cli.py generate``; :mod:`models.v2meow.generation`): stage 1's visual kinds
        read from ``features`` (a folder) or extracted offline, ``stage_crop_seconds`` windows covering the video
        (the last one padded), each through the chain, the audio cut at the video's end. ``text``: a prompt for a
        model with ``control="joint"`` (empty = no prompt). ``keypoints`` are not used (V2Meow sees frame
        features). Seeded: the same video gives the same audio."""
        from models.generation import Example

        if keypoints is not None:
            rank_zero_warn(f"V2Meow: keypoints {keypoints} are not used (the model reads frame features)")
        self.eval()
        audio, extra = generate_soundtrack(self, video, text=text, features=features, seed=seed)
        return Example(Path(video).stem, audio=audio, sample_rate=int(self.hparams.sample_rate), extra=extra)

    # ------------------------------------------------------------------------------------------------- lightning
    def training_step(self, batch: dict[str, Any], batch_idx: int) -> Optional[Tensor]:
        if self.stage in TOKEN_STAGES:
            return self._token_step(batch, "train")
        if self.stage == "codec":
            return self._codec_step(batch)
        if self.stage == "joint":
            return self._joint_step(batch, "train")
        return self._semantic_step(batch, "train")

    def _eval_step(self, batch: dict[str, Any], split: str) -> None:
        if self.stage in TOKEN_STAGES:
            self._token_step(batch, split)
        elif self.stage == "joint":
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

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Restoring a checkpoint into a model built from a config (``--ckpt_path``): the networks the checkpoint
        holds take the sizes they were trained with (its hyper-parameters), before their weights are loaded."""
        hyper = checkpoint.get("hyper_parameters") or {}
        state = checkpoint.get("state_dict") or {}
        held = [s for s in self.STAGES.values() if any(k.startswith(f"{s.trains}.") for k in state)]
        changed = {}
        for spec in held:
            changed |= {k: hyper[k] for k in spec.sizes if k in hyper and _plain(hyper[k]) != _plain(self.hparams[k])}
        if not changed:
            return
        self.hparams.update(changed)
        for spec in held:  # token networks also depend on the tokenizers' sizes: rebuild every held network
            if getattr(self, spec.trains) is not None:
                setattr(self, spec.trains, self._build(spec.trains).to(self.device))


__all__ = [
    "C2F_SIZES", "CODEC_SIZES", "JOINT_SIZES", "LM_SIZES", "REPRESENTATIONS", "S2C_SIZES", "SEMANTIC_SIZES",
    "TOKEN_STAGES", "V2S_SIZES", "V2Meow", "si_snr",
]  # fmt: skip
