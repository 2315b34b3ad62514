"""Vector quantisers: an EMA-codebook VQ layer and a residual stack of them (RVQ).

:class:`VectorQuantizer` maps every vector of ``z`` [B, T, D] to its nearest codebook entry (squared Euclidean).
- Codebook learning by exponential moving averages instead of a codebook loss (van den Oord et al. 2017, App. A.1;
  Razavi et al. 2019): per code ``N_i <- γ N_i + (1-γ) n_i`` and ``m_i <- γ m_i + (1-γ) Σ_{z→i} z``, then
  ``e_i = m_i / Ñ_i`` with the Laplace-smoothed count ``Ñ_i = (N_i + ε) / (ΣN + K ε) · ΣN``. The codebook is a buffer,
  updated in ``forward`` while training; batch counts and sums are all-reduced when ``torch.distributed`` is
  initialised, so every rank keeps the same codebook.
- Commitment loss ``β ‖z − sg[e]‖²`` (mean over elements), returned already weighted by ``commitment_weight`` β.
- Straight-through estimator: the output is ``z + sg[e − z]``, whose gradient with respect to ``z`` is the identity.
- Perplexity ``exp(−Σ p_i log p_i)`` of the batch's code histogram (K when every code is used equally, 1 when one is).
- Dead-code restart (as in Dhariwal et al. 2020): after each EMA step, every code whose EMA count ``N_i`` is below
  ``dead_code_threshold`` (in assigned vectors per batch) is replaced by a random vector of the batch (its EMA
  state restarts as one vector at that value). Counts start at 1, so with the default threshold 1 a code that wins
  nothing in a batch is restarted at once; lower the threshold when a batch holds fewer vectors than codes, 0
  disables restarts.
- Optional k-means initialisation: the first training batch is clustered (k-means++ and Lloyd iterations) and the
  centres become the codebook (Zeghidour et al. 2021, §3.3); otherwise the codebook starts as a unit Gaussian.

:class:`ResidualVectorQuantizer` (Zeghidour et al. 2021, Alg. 1) quantises ``z`` with level 1, the residual with
level 2, and so on; the output is the sum of the levels' codes. Quantizer dropout (§3.3): during training, with
probability ``quantizer_dropout``, only the first ``n`` levels are used for the batch, ``n`` uniform in ``1 .. N``,
so one model serves every bitrate.
"""

from __future__ import annotations

from typing import NamedTuple, Optional

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn

from models.nn.kmeans import kmeans


class Quantized(NamedTuple):
    """Output of a quantiser.

    ``quantized`` [B, T, D] (straight-through: gradient identity to the input); ``codes`` long [B, T] for a
    :class:`VectorQuantizer`, [B, N, T] for a :class:`ResidualVectorQuantizer`; ``commitment_loss`` scalar (already
    weighted); ``perplexity`` scalar (mean over the levels used for an RVQ).
    """

    quantized: Tensor
    codes: Tensor
    commitment_loss: Tensor
    perplexity: Tensor


def _distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def _all_reduce(tensor: Tensor) -> Tensor:
    if _distributed():
        dist.all_reduce(tensor)
    return tensor


def _broadcast(tensor: Tensor) -> Tensor:
    if _distributed():
        dist.broadcast(tensor, src=0)
    return tensor


def _check_input(z: Tensor, dim: int, where: str) -> None:
    if z.dim() != 3 or z.shape[-1] != dim:
        raise ValueError(f"{where}: expected z of shape [B, T, {dim}], got {tuple(z.shape)}")


class VectorQuantizer(nn.Module):
    """Nearest-neighbour vector quantiser with an EMA codebook (see the module docstring).

    Args:
        codebook_size: number of codes K.
        dim: code dimension D.
        decay: EMA decay γ of the counts and sums.
        commitment_weight: β of the commitment loss (van den Oord et al. 2017 use 0.25).
        eps: Laplace smoothing ε of the counts.
        dead_code_threshold: codes whose EMA count (assigned vectors per batch) falls below this are restarted from
            batch vectors; 0 disables restarts.
        kmeans_init: initialise the codebook by k-means on the first training batch.
        kmeans_iters: Lloyd iterations of that initialisation.
    """

    def __init__(
        self,
        codebook_size: int,
        dim: int,
        decay: float = 0.99,
        commitment_weight: float = 0.25,
        eps: float = 1e-5,
        dead_code_threshold: float = 1.0,
        kmeans_init: bool = False,
        kmeans_iters: int = 10,
    ) -> None:
        super().__init__()
        if codebook_size < 1 or dim < 1:
            raise ValueError(f"VectorQuantizer: codebook_size and dim must be >= 1 (got {codebook_size}, {dim})")
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"VectorQuantizer: decay must be in [0, 1) (got {decay})")
        self.codebook_size = codebook_size
        self.dim = dim
        self.decay = decay
        self.commitment_weight = commitment_weight
        self.eps = eps
        self.dead_code_threshold = dead_code_threshold
        self.kmeans_init = kmeans_init
        self.kmeans_iters = kmeans_iters
        embedding = torch.randn(codebook_size, dim)
        self.register_buffer("embedding", embedding)
        self.register_buffer("cluster_size", torch.ones(codebook_size))
        self.register_buffer("embed_sum", embedding.clone())
        self.register_buffer("initialized", torch.tensor(not kmeans_init))

    # ------------------------------------------------------------------ lookup
    def _nearest(self, flat: Tensor) -> Tensor:
        """Index of the nearest code of every row of ``flat`` [N, D] (float32 arithmetic)."""
        flat = flat.float()
        emb = self.embedding.float()
        dist_ = flat.pow(2).sum(1, keepdim=True) - 2.0 * flat @ emb.t() + emb.pow(2).sum(1)[None, :]
        return dist_.argmin(dim=1)

    @torch.no_grad()
    def encode(self, z: Tensor) -> Tensor:
        """Codes [B, T] (long) of ``z`` [B, T, D]; never updates the codebook."""
        _check_input(z, self.dim, "VectorQuantizer.encode")
        return self._nearest(z.reshape(-1, self.dim)).reshape(z.shape[:-1])

    def decode(self, codes: Tensor) -> Tensor:
        """Code vectors [..., D] of ``codes`` [...] (long, in ``0 .. K-1``)."""
        if codes.dtype not in (torch.int64, torch.int32, torch.int16, torch.uint8):
            raise ValueError(f"VectorQuantizer.decode: codes must be integers, got {codes.dtype}")
        if codes.numel() and (int(codes.min()) < 0 or int(codes.max()) >= self.codebook_size):
            raise ValueError(
                f"VectorQuantizer.decode: codes out of range [0, {self.codebook_size}) "
                f"(min {int(codes.min())}, max {int(codes.max())})"
            )
        return F.embedding(codes.long(), self.embedding)

    # ------------------------------------------------------------------ training-time updates
    @torch.no_grad()
    def _init_by_kmeans(self, flat: Tensor) -> None:
        data = flat.float()
        if data.shape[0] < self.codebook_size:  # too few vectors: repeat them (the restarts spread them later)
            reps = -(-self.codebook_size // data.shape[0])
            data = data.repeat(reps, 1)
        seed = int(torch.randint(0, 2**31 - 1, (1,)))
        centres = kmeans(data, self.codebook_size, num_iters=self.kmeans_iters, seed=seed)
        self.embedding.copy_(_broadcast(centres.to(self.embedding)))
        self.embed_sum.copy_(self.embedding)
        self.cluster_size.fill_(1.0)
        self.initialized.fill_(True)

    @torch.no_grad()
    def _ema_update(self, flat: Tensor, codes: Tensor, counts: Tensor) -> None:
        """One EMA step from the batch's (all-reduced) ``counts`` [K] and the code sums of ``flat`` [N, D]."""
        flat = flat.float()
        sums = torch.zeros(self.codebook_size, self.dim, device=flat.device).index_add_(0, codes, flat)
        _all_reduce(sums)
        self.cluster_size.mul_(self.decay).add_(counts.to(self.cluster_size), alpha=1.0 - self.decay)
        self.embed_sum.mul_(self.decay).add_(sums.to(self.embed_sum), alpha=1.0 - self.decay)
        total = self.cluster_size.sum()
        smoothed = (self.cluster_size + self.eps) / (total + self.codebook_size * self.eps) * total
        self.embedding.copy_(self.embed_sum / smoothed[:, None])

    @torch.no_grad()
    def _restart_dead_codes(self, flat: Tensor) -> None:
        if self.dead_code_threshold <= 0:
            return
        dead = self.cluster_size < self.dead_code_threshold
        num_dead = int(dead.sum())
        if num_dead == 0:
            return
        pick = torch.randint(0, flat.shape[0], (num_dead,), device=flat.device)
        fresh = flat[pick].float().to(self.embedding)
        self.embedding[dead] = fresh
        self.embed_sum[dead] = fresh
        self.cluster_size[dead] = 1.0
        if _distributed():  # every rank drew its own vectors: keep rank 0's
            _broadcast(self.embedding)
            _broadcast(self.embed_sum)

    # ------------------------------------------------------------------ forward
    def quantize(self, z: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """``(code vectors [B, T, D] without straight-through, codes [B, T], commitment loss, perplexity)``.

        While training this also initialises (k-means), updates (EMA) and restarts codes; the returned vectors are
        the codes chosen before the update.
        """
        _check_input(z, self.dim, "VectorQuantizer")
        flat = z.reshape(-1, self.dim)
        if self.training and not torch.isfinite(flat.detach()).all():
            raise ValueError("VectorQuantizer: input contains NaN or Inf (it would corrupt the EMA codebook)")
        if self.training and not bool(self.initialized):
            self._init_by_kmeans(flat.detach())
        codes = self._nearest(flat.detach())
        chosen = F.embedding(codes, self.embedding).to(z.dtype)
        commitment = self.commitment_weight * F.mse_loss(z, chosen.reshape(z.shape).detach())
        with torch.no_grad():
            counts = _all_reduce(torch.bincount(codes, minlength=self.codebook_size).float())
            probs = counts / counts.sum().clamp_min(1.0)
            perplexity = torch.exp(-(probs * torch.log(probs.clamp_min(1e-10))).sum())
        if self.training:
            self._ema_update(flat.detach(), codes, counts)
            self._restart_dead_codes(flat.detach())
        return chosen.reshape(z.shape), codes.reshape(z.shape[:-1]), commitment, perplexity

    def forward(self, z: Tensor) -> Quantized:
        chosen, codes, commitment, perplexity = self.quantize(z)
        return Quantized(z + (chosen - z).detach(), codes, commitment, perplexity)


class ResidualVectorQuantizer(nn.Module):
    """Residual stack of :class:`VectorQuantizer` levels with quantizer dropout (see the module docstring).

    Args:
        num_levels: levels N.
        codebook_size: codes K per level.
        dim: code dimension D.
        quantizer_dropout: probability that a training batch uses only the first ``n ~ U{1..N}`` levels.
        decay, commitment_weight, eps, dead_code_threshold, kmeans_init, kmeans_iters: per level, as in
            :class:`VectorQuantizer`. The commitment loss of the RVQ is the sum over the levels used.
    """

    def __init__(
        self,
        num_levels: int,
        codebook_size: int,
        dim: int,
        quantizer_dropout: float = 0.0,
        decay: float = 0.99,
        commitment_weight: float = 0.25,
        eps: float = 1e-5,
        dead_code_threshold: float = 1.0,
        kmeans_init: bool = False,
        kmeans_iters: int = 10,
    ) -> None:
        super().__init__()
        if num_levels < 1:
            raise ValueError(f"ResidualVectorQuantizer: num_levels must be >= 1 (got {num_levels})")
        if not 0.0 <= quantizer_dropout <= 1.0:
            raise ValueError(f"ResidualVectorQuantizer: quantizer_dropout must be in [0, 1] (got {quantizer_dropout})")
        self.num_levels = num_levels
        self.codebook_size = codebook_size
        self.dim = dim
        self.quantizer_dropout = quantizer_dropout
        self.levels = nn.ModuleList(
            VectorQuantizer(
                codebook_size, dim, decay, commitment_weight, eps, dead_code_threshold, kmeans_init, kmeans_iters
            )
            for _ in range(num_levels)
        )

    def _check_levels(self, n: Optional[int], where: str) -> int:
        if n is None:
            return self.num_levels
        if not 1 <= n <= self.num_levels:
            raise ValueError(f"ResidualVectorQuantizer.{where}: levels must be in 1 .. {self.num_levels} (got {n})")
        return n

    def _dropout_levels(self) -> int:
        """Levels for this training batch (the draw is broadcast from rank 0 so ranks agree)."""
        choice = torch.tensor([self.num_levels])
        if torch.rand(()) < self.quantizer_dropout:
            choice = torch.randint(1, self.num_levels + 1, (1,))
        if _distributed():
            device = self.levels[0].embedding.device
            choice = _broadcast(choice.to(device)).cpu()
        return int(choice)

    def forward(self, z: Tensor, n_levels: Optional[int] = None) -> Quantized:
        """Quantise ``z`` [B, T, D] with ``n_levels`` levels (all by default; while training with quantizer dropout
        and no ``n_levels`` given, a random prefix). ``codes`` has one row per level used: [B, n, T]."""
        _check_input(z, self.dim, "ResidualVectorQuantizer")
        n = self._check_levels(n_levels, "forward")
        if n_levels is None and self.training and self.quantizer_dropout > 0:
            n = self._dropout_levels()
        residual = z
        total = torch.zeros_like(z)
        codes, losses, perplexities = [], [], []
        for level in self.levels[:n]:
            chosen, level_codes, loss, perplexity = level.quantize(residual)
            residual = residual - chosen.detach()
            total = total + chosen.detach()
            codes.append(level_codes)
            losses.append(loss)
            perplexities.append(perplexity)
        quantized = z + (total - z).detach()
        return Quantized(quantized, torch.stack(codes, 1), torch.stack(losses).sum(), torch.stack(perplexities).mean())

    @torch.no_grad()
    def encode(self, z: Tensor, levels: Optional[int] = None) -> Tensor:
        """Codes [B, n, T] (long) of ``z`` [B, T, D] with the first ``levels`` levels (all by default)."""
        _check_input(z, self.dim, "ResidualVectorQuantizer.encode")
        n = self._check_levels(levels, "encode")
        residual = z
        codes = []
        for level in self.levels[:n]:
            level_codes = level.encode(residual)
            residual = residual - level.decode(level_codes).to(z.dtype)
            codes.append(level_codes)
        return torch.stack(codes, 1)

    def decode(self, codes: Tensor, levels: Optional[int] = None) -> Tensor:
        """Sum of the code vectors [B, T, D] of ``codes`` [B, n, T], using the first ``levels`` rows (all given)."""
        if codes.dim() != 3 or codes.shape[1] > self.num_levels:
            raise ValueError(
                f"ResidualVectorQuantizer.decode: expected codes [B, n <= {self.num_levels}, T], "
                f"got {tuple(codes.shape)}"
            )
        n = codes.shape[1] if levels is None else self._check_levels(levels, "decode")
        if n > codes.shape[1]:
            raise ValueError(f"ResidualVectorQuantizer.decode: {n} levels asked, codes hold {codes.shape[1]}")
        out = self.levels[0].decode(codes[:, 0])
        for i in range(1, n):
            out = out + self.levels[i].decode(codes[:, i])
        return out


__all__ = ["Quantized", "ResidualVectorQuantizer", "VectorQuantizer"]
