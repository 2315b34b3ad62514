"""EMA vector quantiser and residual VQ (models/nn/vector_quantizer.py) against values computed by hand."""

from __future__ import annotations

import math

import pytest
import torch

from models.nn.vector_quantizer import ResidualVectorQuantizer, VectorQuantizer


def _set_codebook(vq: VectorQuantizer, codes: list[list[float]]) -> None:
    table = torch.tensor(codes)
    vq.embedding.copy_(table)
    vq.embed_sum.copy_(table)
    vq.cluster_size.fill_(1.0)


def test_nearest_code_assignment_and_decode() -> None:
    vq = VectorQuantizer(3, 2).eval()
    _set_codebook(vq, [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    z = torch.tensor([[[0.1, 0.2], [0.9, -0.1], [0.2, 0.8], [0.6, 0.45]]])
    codes = vq.encode(z)
    assert codes.tolist() == [[0, 1, 2, 1]]
    out = vq(z)
    assert out.codes.tolist() == [[0, 1, 2, 1]]
    assert torch.equal(vq.decode(codes), torch.tensor([[[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]]))
    assert torch.allclose(out.quantized, vq.decode(codes))
    # eval mode never touches the codebook
    assert torch.equal(vq.embedding, torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="out of range"):
        vq.decode(torch.tensor([[3]]))
    with pytest.raises(ValueError, match=r"\[B, T, 2\]"):
        vq(torch.zeros(1, 4, 3))


def test_one_ema_step_by_hand() -> None:
    eps = 1e-5
    vq = VectorQuantizer(2, 1, decay=0.5, commitment_weight=0.25, eps=eps, dead_code_threshold=0.0).train()
    _set_codebook(vq, [[0.0], [10.0]])
    z = torch.tensor([[[1.0], [2.0], [9.0]]])
    out = vq(z)
    assert out.codes.tolist() == [[0, 0, 1]]
    # output = the codes chosen before the update
    assert torch.allclose(out.quantized, torch.tensor([[[0.0], [0.0], [10.0]]]))
    # commitment: 0.25 * mean((1-0)², (2-0)², (9-10)²) = 0.25 * 6/3
    assert out.commitment_loss.item() == pytest.approx(0.5, abs=1e-6)
    # perplexity of p = (2/3, 1/3)
    expected_ppl = math.exp(-(2 / 3 * math.log(2 / 3) + 1 / 3 * math.log(1 / 3)))
    assert out.perplexity.item() == pytest.approx(expected_ppl, rel=1e-5)
    # N = 0.5·1 + 0.5·(2, 1) = (1.5, 1.0);  m = 0.5·(0, 10) + 0.5·(3, 9) = (1.5, 9.5)
    assert vq.cluster_size.tolist() == pytest.approx([1.5, 1.0], abs=1e-6)
    assert vq.embed_sum.flatten().tolist() == pytest.approx([1.5, 9.5], abs=1e-6)
    total = 2.5
    smoothed = [(n + eps) / (total + 2 * eps) * total for n in (1.5, 1.0)]
    assert vq.embedding.flatten().tolist() == pytest.approx([1.5 / smoothed[0], 9.5 / smoothed[1]], abs=1e-6)
    assert vq.embedding.flatten().tolist() == pytest.approx([1.0, 9.5], abs=1e-4)


def test_straight_through_gradient_is_identity() -> None:
    vq = VectorQuantizer(8, 4).train()
    z = torch.randn(2, 5, 4, requires_grad=True)
    weight = torch.randn(2, 5, 4)
    (vq(z).quantized * weight).sum().backward()
    assert torch.allclose(z.grad, weight)
    # the commitment loss pulls z towards its (frozen) code: gradient 2β(z - e)/numel
    z2 = z.detach().clone().requires_grad_(True)
    vq.eval()
    out = vq(z2)
    out.commitment_loss.backward()
    expected = 2 * 0.25 * (z2.detach() - vq.decode(out.codes)) / z2.numel()
    assert torch.allclose(z2.grad, expected, atol=1e-6)
    assert not vq.embedding.requires_grad


def test_dead_codes_are_restarted_from_batch_vectors() -> None:
    torch.manual_seed(0)
    vq = VectorQuantizer(4, 2, dead_code_threshold=1.0).train()
    _set_codebook(vq, [[0.0, 0.0], [1.0, 1.0], [100.0, 100.0], [-100.0, 100.0]])
    z = torch.cat([torch.randn(1, 16, 2) * 0.1, 1.0 + torch.randn(1, 16, 2) * 0.1], dim=1)
    out = vq(z)
    assert set(out.codes.flatten().tolist()) == {0, 1}
    batch = z.reshape(-1, 2)
    for code in (2, 3):
        row = vq.embedding[code]
        assert torch.isclose(batch, row[None]).all(dim=1).any(), f"code {code} was not revived from the batch"
        assert vq.cluster_size[code].item() == 1.0
    # the used codes were not restarted: their counts grew by the EMA
    assert vq.cluster_size[0].item() == pytest.approx(0.99 + 0.01 * 16, abs=1e-5)
    # a threshold of 0 disables restarts
    still = VectorQuantizer(4, 2, dead_code_threshold=0.0).train()
    _set_codebook(still, [[0.0, 0.0], [1.0, 1.0], [100.0, 100.0], [-100.0, 100.0]])
    still(z)
    assert torch.allclose(still.embedding[2:], torch.tensor([[100.0, 100.0], [-100.0, 100.0]]))


def test_kmeans_init_on_first_batch() -> None:
    torch.manual_seed(0)
    vq = VectorQuantizer(2, 2, kmeans_init=True, dead_code_threshold=0.0)
    assert not bool(vq.initialized)
    z = torch.cat([torch.randn(1, 50, 2) * 0.05 + 3.0, torch.randn(1, 50, 2) * 0.05 - 3.0], dim=1)
    vq.train()(z)
    assert bool(vq.initialized)
    centres = sorted(vq.embedding[:, 0].tolist())
    assert centres == pytest.approx([-3.0, 3.0], abs=0.05)


def test_residual_sums_by_hand() -> None:
    rvq = ResidualVectorQuantizer(2, 2, 1).eval()
    _set_codebook(rvq.levels[0], [[0.0], [10.0]])
    _set_codebook(rvq.levels[1], [[-1.0], [1.0]])
    z = torch.tensor([[[9.0], [1.2]]])
    # 9 -> 10 (code 1), residual -1 -> -1 (code 0): 9;  1.2 -> 0 (code 0), residual 1.2 -> 1 (code 1): 1
    codes = rvq.encode(z)
    assert codes.shape == (1, 2, 2)
    assert codes.tolist() == [[[1, 0], [0, 1]]]
    assert rvq.decode(codes).flatten().tolist() == [9.0, 1.0]
    assert rvq.decode(codes, levels=1).flatten().tolist() == [10.0, 0.0]
    assert rvq.encode(z, levels=1).tolist() == [[[1, 0]]]
    out = rvq(z)
    assert out.codes.tolist() == codes.tolist()
    assert out.quantized.flatten().tolist() == pytest.approx([9.0, 1.0])
    # commitment: level 1 mean((9-10)², (1.2-0)²), level 2 mean((-1+1)², (1.2-1)²), each ×0.25, summed
    expected = 0.25 * (1.0 + 1.44) / 2 + 0.25 * (0.0 + 0.04) / 2
    assert out.commitment_loss.item() == pytest.approx(expected, abs=1e-6)
    one = rvq(z, n_levels=1)
    assert one.codes.shape == (1, 1, 2)
    assert one.quantized.flatten().tolist() == pytest.approx([10.0, 0.0])
    # straight-through over the whole stack: identity, not N × identity
    zg = z.clone().requires_grad_(True)
    rvq(zg).quantized.sum().backward()
    assert torch.allclose(zg.grad, torch.ones_like(zg))
    with pytest.raises(ValueError, match="levels"):
        rvq(z, n_levels=3)


def test_quantizer_dropout_uses_fewer_levels() -> None:
    torch.manual_seed(0)
    z = torch.randn(2, 6, 3)
    rvq = ResidualVectorQuantizer(4, 8, 3, quantizer_dropout=1.0).train()
    used = {rvq(z).codes.shape[1] for _ in range(30)}
    assert used == {1, 2, 3, 4}
    never = ResidualVectorQuantizer(4, 8, 3, quantizer_dropout=0.0).train()
    assert {never(z).codes.shape[1] for _ in range(10)} == {4}
    rvq.eval()
    assert {rvq(z).codes.shape[1] for _ in range(10)} == {4}
    # an explicit level count overrides the dropout
    rvq.train()
    assert rvq(z, n_levels=2).codes.shape[1] == 2


def test_state_dict_round_trip() -> None:
    torch.manual_seed(0)
    rvq = ResidualVectorQuantizer(3, 16, 4, kmeans_init=True).train()
    z = torch.randn(4, 20, 4)
    for _ in range(3):
        rvq(z)
    fresh = ResidualVectorQuantizer(3, 16, 4, kmeans_init=True)
    fresh.load_state_dict(rvq.state_dict())
    assert all(bool(level.initialized) for level in fresh.levels)
    rvq.eval()
    fresh.eval()
    assert torch.equal(fresh.encode(z), rvq.encode(z))
    assert torch.equal(fresh.decode(rvq.encode(z)), rvq.decode(rvq.encode(z)))
    for name in ("embedding", "cluster_size", "embed_sum", "initialized"):
        assert f"levels.0.{name}" in rvq.state_dict()


def test_training_reduces_quantisation_error() -> None:
    """EMA updates move the codebook onto the data: error falls well below that of the random codebook."""
    torch.manual_seed(0)
    centres = torch.randn(8, 4) * 3
    data = centres[torch.randint(0, 8, (64, 32))] + 0.1 * torch.randn(64, 32, 4)
    vq = VectorQuantizer(8, 4, decay=0.9, kmeans_init=False, dead_code_threshold=0.5)
    vq.eval()
    before = (vq.decode(vq.encode(data)) - data).pow(2).mean().item()
    vq.train()
    for step in range(40):
        vq(data[step % 8 * 8 : step % 8 * 8 + 8])
    vq.eval()
    after = (vq.decode(vq.encode(data)) - data).pow(2).mean().item()
    assert after < 0.2 * before
    assert vq(data).perplexity.item() > 4.0


def test_error_falls_with_each_level() -> None:
    torch.manual_seed(0)
    data = torch.randn(32, 16, 4)
    rvq = ResidualVectorQuantizer(4, 16, 4, kmeans_init=True, dead_code_threshold=0.5).train()
    for step in range(10):
        rvq(data[step % 4 * 8 : step % 4 * 8 + 8])
    rvq.eval()
    codes = rvq.encode(data)
    errors = [(rvq.decode(codes, levels=n) - data).pow(2).mean().item() for n in range(1, 5)]
    assert all(later < 0.9 * earlier for earlier, later in zip(errors, errors[1:])), errors


def _ddp_worker(rank: int, store: str, data: torch.Tensor, out: str) -> None:
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=2)
    torch.manual_seed(rank)  # ranks draw different restart vectors: rank 0's must win
    rvq = ResidualVectorQuantizer(2, 8, 3, dead_code_threshold=1.0, quantizer_dropout=0.5, kmeans_init=True).train()
    torch.manual_seed(0)
    for level in rvq.levels:
        level.embedding.copy_(torch.randn(8, 3))
    torch.manual_seed(rank)
    for step in range(4):
        rvq(data[rank, step])
    torch.save(rvq.state_dict(), f"{out}.{rank}")
    dist.destroy_process_group()


@pytest.mark.slow
def test_distributed_ranks_keep_one_codebook(tmp_path) -> None:
    """Two gloo ranks with different data: all-reduced EMA statistics, broadcast restarts and level draws keep the
    codebooks identical on both ranks."""
    import torch.multiprocessing as mp

    data = torch.randn(2, 4, 2, 10, 3)
    mp.spawn(_ddp_worker, args=(str(tmp_path / "store"), data, str(tmp_path / "state")), nprocs=2)
    first, second = torch.load(tmp_path / "state.0"), torch.load(tmp_path / "state.1")
    for key in first:
        assert torch.equal(first[key], second[key]), key
