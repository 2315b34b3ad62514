"""Skewed relative attention equals the naive O(L^2 D) formulation; the skew maps every causal entry correctly."""

from __future__ import annotations

import pytest
import torch

from models.nn.decoding import reorder_cache
from models.nn.relative_attention import (
    KVBuffer,
    RelativeSelfAttention,
    causal_mask,
    naive_relative_logits,
    relative_embeddings,
    skew,
)


@pytest.mark.parametrize(("lq", "lk", "max_rel"), [(7, 7, 16), (1, 9, 16), (4, 9, 16), (12, 12, 5), (3, 20, 6)])
def test_skewed_logits_equal_naive(lq: int, lk: int, max_rel: int) -> None:
    torch.manual_seed(0)
    q = torch.randn(2, 3, lq, 8, dtype=torch.float64)
    table = torch.randn(3, max_rel, 8, dtype=torch.float64)
    skewed = skew(torch.einsum("bhqd,hkd->bhqk", q, relative_embeddings(table, lk)))
    naive = naive_relative_logits(q, table, lk)
    keep = ~causal_mask(lq, lk, q.device)
    assert torch.allclose(skewed[..., keep], naive[..., keep], atol=1e-10)
    # a distance computed by hand: query at the last position, key 0 -> distance lk - 1 (clipped to max_rel - 1)
    d = min(lk - 1, max_rel - 1)
    assert torch.allclose(skewed[0, 1, -1, 0], q[0, 1, -1] @ table[1, max_rel - 1 - d])


def test_module_skew_equals_naive_and_is_causal() -> None:
    torch.manual_seed(0)
    attn = RelativeSelfAttention(32, 4, max_relative_position=16).eval()
    x = torch.randn(2, 10, 32)
    fast, _ = attn(x)
    attn.skew = False
    slow, _ = attn(x)
    assert (fast - slow).abs().max() < 1e-5
    # causality: changing the future does not change the past
    x2 = x.clone()
    x2[:, 6:] = torch.randn_like(x2[:, 6:])
    attn.skew = True
    assert torch.allclose(attn(x2)[0][:, :6], fast[:, :6], atol=1e-6)
    assert not torch.allclose(attn(x2)[0][:, 6:], fast[:, 6:], atol=1e-3)


def test_relative_embeddings_carry_position_information() -> None:
    """Without the relative term the last output is invariant to permuting the earlier tokens; with it, it is not."""
    torch.manual_seed(0)
    attn = RelativeSelfAttention(16, 2, max_relative_position=8).eval()
    x = torch.randn(1, 6, 16)
    perm = torch.tensor([3, 0, 4, 1, 2, 5])
    y, yp = attn(x)[0][0, -1], attn(x[:, perm])[0][0, -1]
    assert (y - yp).abs().max() > 1e-3
    with torch.no_grad():
        attn.relative.zero_()
    y, yp = attn(x)[0][0, -1], attn(x[:, perm])[0][0, -1]
    assert (y - yp).abs().max() < 1e-5


def test_cached_steps_equal_full_pass() -> None:
    torch.manual_seed(0)
    attn = RelativeSelfAttention(24, 3, max_relative_position=6).eval()
    x = torch.randn(2, 11, 24)
    full, _ = attn(x)
    cache: dict = {}
    outs = []
    for t in range(0, 11, 3):  # chunks of 3 then 2
        y, cache = attn(x[:, t : t + 3], cache)
        outs.append(y)
    assert torch.allclose(torch.cat(outs, 1), full, atol=1e-5)


@pytest.mark.parametrize("per_head", [False, True])
def test_single_query_steps_equal_full_pass_beyond_the_buffer(per_head: bool) -> None:
    """One position per step (the decoding fast path: no mask, no skew), past the preallocated buffer (4) and past
    the table's distances (clipped), with a shared or a per-head table; skewed equals naive for both tables."""
    torch.manual_seed(0)
    attn = RelativeSelfAttention(24, 3, max_relative_position=4, relative_per_head=per_head).eval()
    assert attn.relative.shape == ((3 if per_head else 1), 4, 8)
    x = torch.randn(2, 11, 24)
    full, _ = attn(x)
    cache: dict = {}
    steps = []
    for t in range(11):
        y, cache = attn(x[:, t : t + 1], cache)
        steps.append(y)
    assert cache["kv"].length == 11 and cache["kv"].keys.shape[0] >= 11
    assert torch.allclose(torch.cat(steps, 1), full, atol=1e-5)
    attn.skew = False
    assert torch.allclose(attn(x)[0], full, atol=1e-5)


def test_reordered_buffer_follows_the_rows_and_empties_the_old_one() -> None:
    torch.manual_seed(0)
    attn = RelativeSelfAttention(16, 2, max_relative_position=8).eval()
    x = torch.randn(3, 5, 16)
    _, cache = attn(x[:, :4], {})
    for index in (torch.tensor([2, 0, 0]), torch.tensor([1, 1, 2, 0, 2])):  # same batch (swap), then expanded
        old = cache["kv"]
        cache = reorder_cache(cache, index)
        with pytest.raises(RuntimeError, match="reordered"):
            old.append(torch.zeros(3, 2, 1, 8), torch.zeros(3, 2, 1, 8))
        x = x[index]
    y, _ = attn(x[:, 4:], cache)
    assert torch.allclose(y, attn(x)[0][:, 4:], atol=1e-5)


def test_in_place_reorder_copies_the_changed_rows_only_and_matches_a_gather() -> None:
    """Same batch size: the storage is kept and only rows whose source differs are written (swaps included, whose
    sources must be read before they are overwritten); a new size gathers into new storage."""
    torch.manual_seed(0)
    buffer = KVBuffer.empty(torch.zeros(4, 2, 1, 3), capacity=8)
    k, v = torch.randn(4, 2, 5, 3), torch.randn(4, 2, 5, 3)
    buffer.append(k, v)
    storage = buffer.keys.data_ptr()
    with torch.no_grad():
        for index in (torch.tensor([1, 0, 2, 3]), torch.tensor([0, 0, 3, 3]), torch.tensor([3, 2, 1, 0])):
            buffer = buffer.reorder(index)
            k, v = k[index], v[index]
            assert buffer.keys.data_ptr() == storage
            assert torch.equal(buffer._view(buffer.keys), k) and torch.equal(buffer._view(buffer.values), v)
        wider = buffer.reorder(torch.tensor([2, 2, 0, 1, 3, 3]))
    assert torch.equal(wider._view(wider.keys), k[[2, 2, 0, 1, 3, 3]])
    assert wider.keys.data_ptr() != storage and wider.length == 5
    with pytest.raises(RuntimeError, match="reordered"):
        buffer.append(k[:, :, :1], v[:, :, :1])
