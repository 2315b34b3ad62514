"""ST-GCN: partition strategies (hand-checkable on a chain), shapes and strides, edge importance, augmentation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from models.nn.keypoint_augment import random_affine
from models.nn.stgcn import STGCN, component_centers, hop_distance, partition_adjacency

CHAIN = [(0, 1), (1, 2), (2, 3)]  # 0 - 1 - 2 - 3, centre 1


def test_hop_distance_chain_and_disconnected() -> None:
    d = hop_distance(5, CHAIN)
    assert d[0, 3] == 3 and d[3, 0] == 3 and d[1, 1] == 0
    assert np.isinf(d[4, 0])
    assert hop_distance(4, CHAIN, max_hop=1)[0, 2] == np.inf


def test_spatial_partition_on_a_chain() -> None:
    a = partition_adjacency(4, CHAIN, center=1, strategy="spatial")
    assert a.shape == (3, 4, 4)
    # every receiving node averages its closed neighbourhood: columns of the sum add to 1
    assert np.allclose(a.sum(axis=(0, 1)), 1.0)
    # partition 0 = self loops only
    assert np.allclose(a[0], np.diag(np.diag(a[0]))) and (np.diag(a[0]) > 0).all()
    # receiver 2 (distance 1 from the centre): sender 1 (distance 0) is centripetal, sender 3 (distance 2) is not
    assert a[2, 1, 2] > 0 and a[1, 1, 2] == 0
    assert a[1, 3, 2] > 0 and a[2, 3, 2] == 0
    # receiver 1 is the centre: both neighbours are farther -> centrifugal partition
    assert a[1, 0, 1] > 0 and a[1, 2, 1] > 0 and a[2, :, 1].sum() == 0
    # normalisation: receiver 2 has 3 nodes in its closed neighbourhood
    assert np.isclose(a[:, 1, 2].sum(), 1 / 3)


def test_uniform_and_distance_partitions() -> None:
    u = partition_adjacency(4, CHAIN, strategy="uniform")
    d = partition_adjacency(4, CHAIN, strategy="distance")
    assert u.shape == (1, 4, 4) and d.shape == (2, 4, 4)
    assert np.allclose(d.sum(0), u[0])
    assert np.allclose(np.diag(d[1]), 0)
    with pytest.raises(ValueError, match="unknown partition"):
        partition_adjacency(4, CHAIN, strategy="bogus")  # type: ignore[arg-type]


def test_component_centres_for_two_unconnected_hands() -> None:
    edges = [(0, 1), (1, 2), (3, 4), (4, 5)]
    assert component_centers(6, edges, 0) == [0, 3]
    a = partition_adjacency(6, edges, center=0)
    assert a[2, 3, 4] > 0  # second hand: 3 is its centre, so 3 -> 4 is centripetal


def test_stgcn_shapes_strides_and_gradients() -> None:
    torch.manual_seed(0)
    blocks = ((-1, 8, 1), (8, 8, 1), (8, 16, 2), (16, 16, 2))
    net = STGCN(3, 4, CHAIN, center=1, out_dim=12, blocks=blocks, temporal_kernel=3)
    x = torch.randn(2, 20, 4, 3)
    y = net(x)
    assert y.shape == (2, 5, 12) and net.downsample == 4
    y.sum().backward()
    assert all(p.grad is not None for p in net.edge_importance)
    assert net.edge_importance[0].shape == (3, 4, 4)
    with pytest.raises(ValueError, match="expects keypoints"):
        net(torch.randn(2, 20, 5, 3))


def test_stgcn_default_is_the_ten_block_network() -> None:
    net = STGCN(3, 4, CHAIN, center=1, out_dim=512)
    assert len(net.blocks) == 10 and net.downsample == 4
    y = net(torch.randn(1, 132, 4, 3))
    assert y.shape == (1, 33, 512)


def test_graph_structure_matters() -> None:
    """Features of a joint only mix with its neighbours in one layer: perturbing joint 3 leaves joint 0 unchanged."""
    torch.manual_seed(0)
    from models.nn.stgcn import GraphConv

    conv = GraphConv(2, 4, 3)
    a = torch.from_numpy(partition_adjacency(4, CHAIN, center=1))
    x = torch.randn(1, 2, 5, 4)
    x2 = x.clone()
    x2[..., 3] += 1.0
    y, y2 = conv(x, a), conv(x2, a)
    assert torch.allclose(y[..., 0], y2[..., 0]) and not torch.allclose(y[..., 2], y2[..., 2])


def test_random_affine_keeps_missing_joints_and_confidence() -> None:
    torch.manual_seed(0)
    kp = torch.rand(4, 10, 6, 3)
    kp[:, :, 5] = 0.0
    out = random_affine(kp)
    assert torch.equal(out[..., 5, :], kp[..., 5, :])
    assert torch.equal(out[..., 2], kp[..., 2])
    assert not torch.allclose(out[..., :2], kp[..., :2])
    # one transform per sequence: pairwise distances scale by the same factor in every frame (0.9 .. 1.1)
    d_in = torch.cdist(kp[..., :5, :2], kp[..., :5, :2])
    d_out = torch.cdist(out[..., :5, :2], out[..., :5, :2])
    ratio = d_out[d_in > 1e-3] / d_in[d_in > 1e-3]
    assert ratio.min() > 0.899 and ratio.max() < 1.101


def test_center_hops_reproduces_the_reference_partition_on_a_chain() -> None:
    """Centre 0 of the chain 0-1-2-3: with distances to the centre cut at one hop, joints 2 and 3 are both
    'infinitely' far, so the bone 2-3 is a same-distance pair (partition 1) in both directions."""
    exact = partition_adjacency(4, CHAIN, center=0, strategy="spatial")
    cut = partition_adjacency(4, CHAIN, center=0, strategy="spatial", center_hops=1)
    assert [int((a != 0).sum()) for a in exact] == [4, 3, 3]
    assert [int((a != 0).sum()) for a in cut] == [4, 4, 2]
    assert cut[1, 2, 3] > 0 and cut[1, 3, 2] > 0 and exact[2, 2, 3] > 0
    assert np.allclose(exact.sum(0), cut.sum(0))
    assert STGCN(3, 4, CHAIN, center=0, center_hops=1).adjacency.shape == (3, 4, 4)
