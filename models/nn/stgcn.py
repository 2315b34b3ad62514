"""Spatial-temporal graph convolutional network (ST-GCN, Yan, Xiong & Lin, AAAI 2018) over keypoint sequences.

Graph: one node per joint, the skeleton's bones as edges. Partition strategies of ST-GCN §3.6 split each node's
1-neighbourhood into K subsets, each with its own weights: ``uniform`` (K=1), ``distance`` (K=2: the node itself,
its neighbours) and ``spatial`` (K=3: the root node; neighbours as far from the skeleton's centre as the root or
farther (centrifugal); neighbours nearer to it (centripetal)). Several centres are allowed (e.g. two wrists for a
two-hand graph whose halves are not connected): a node's distance to the centre is its hop distance to the nearest one.

``center_hops`` reproduces ST-GCN's reference graph code, which measures the distance to the centre with the same
hop-limited distance matrix it builds the neighbourhoods from (``max_hop`` = 1): every joint more than one hop from
the centre is then "infinitely" far, so all bones between such joints count as same-distance pairs and join the
root/centripetal partition, and only the bones leaving the centre's 1-neighbourhood are centrifugal (on the 65-joint
body-and-fingers graph: 65 / 118 / 10 non-zero entries per partition instead of 65 / 64 / 64).

The graph convolution is written with dense adjacency tensors ``[K, V, V]`` and an einsum rather than
torch-geometric's sparse message passing: skeleton graphs are tiny (V <= 65), the K partitioned kernels and the
learnable edge-importance mask (ST-GCN §3.7, an elementwise weight on every adjacency entry) are exactly a dense
``A * M`` product, and the dense form runs as a single batched matmul on CPU and GPU. torch-geometric's convolutions
have one weight per layer, not one per partition, and no per-edge learnable mask over a normalised adjacency.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Optional

import numpy as np
import torch
from torch import Tensor, nn

Strategy = Literal["uniform", "distance", "spatial"]

# (in, out, stride) of the 10 ST-GCN blocks (ST-GCN §4.2; Foley Music §4.1 uses this 10-layer network)
STGCN_BLOCKS: tuple[tuple[int, int, int], ...] = (
    (-1, 64, 1),
    (64, 64, 1),
    (64, 64, 1),
    (64, 64, 1),
    (64, 128, 2),
    (128, 128, 1),
    (128, 128, 1),
    (128, 256, 2),
    (256, 256, 1),
    (256, 256, 1),
)


def hop_distance(num_nodes: int, edges: Sequence[tuple[int, int]], max_hop: Optional[int] = None) -> np.ndarray:
    """Shortest-path hop counts ``[V, V]`` on the undirected graph (``inf`` when unreachable or beyond ``max_hop``)."""
    adjacency = np.eye(num_nodes, dtype=bool)
    for i, j in edges:
        if not (0 <= i < num_nodes and 0 <= j < num_nodes):
            raise ValueError(f"edge ({i}, {j}) refers to a joint outside 0..{num_nodes - 1}")
        adjacency[i, j] = adjacency[j, i] = True
    dist = np.full((num_nodes, num_nodes), np.inf)
    reach = np.eye(num_nodes, dtype=bool)
    dist[reach] = 0
    limit = num_nodes if max_hop is None else max_hop
    for hop in range(1, limit + 1):
        reach_next = (reach.astype(np.int64) @ adjacency.astype(np.int64)) > 0
        dist[reach_next & ~reach] = hop
        if (reach_next == reach).all():
            break
        reach = reach_next
    return dist


def component_centers(num_nodes: int, edges: Sequence[tuple[int, int]], center: int | Sequence[int]) -> list[int]:
    """``center`` plus, for every connected component that holds none of them, its lowest-index joint (for a
    two-hand graph whose hands are unconnected: the second hand's wrist), so every joint has a distance to a centre."""
    centers = [center] if isinstance(center, int) else list(center)
    reachable = np.isfinite(hop_distance(num_nodes, edges))
    for node in range(num_nodes):
        if not reachable[node, centers].any():
            centers.append(node)
    return centers


def _normalise(adjacency: np.ndarray) -> np.ndarray:
    """``A D^-1``: each column (receiving node) averages over its neighbourhood (ST-GCN's normalisation)."""
    degree = adjacency.sum(0)
    inverse = np.where(degree > 0, 1.0 / np.maximum(degree, 1e-12), 0.0)
    return adjacency * inverse[None, :]


def partition_adjacency(
    num_nodes: int,
    edges: Sequence[tuple[int, int]],
    center: int | Sequence[int] = 0,
    strategy: Strategy = "spatial",
    max_hop: int = 1,
    center_hops: Optional[int] = None,
) -> np.ndarray:
    """Partitioned, normalised adjacency ``[K, V, V]`` (entry ``[k, v, w]``: weight of node v's message to w).

    Args:
        num_nodes: joints V. edges: bones as joint-index pairs (undirected).
        center: the skeleton's centre joint(s) for the ``spatial`` strategy (see :func:`component_centers`).
        strategy: ``uniform``, ``distance`` or ``spatial`` (see module docstring).
        max_hop: neighbourhood radius (ST-GCN uses 1).
        center_hops: for ``spatial``, distances to the centre counted only up to this many hops, farther joints all
            at the same (infinite) distance, as ST-GCN's reference code does with 1; ``None``: exact distances.
    """
    dist = hop_distance(num_nodes, edges, max_hop)
    within = dist <= max_hop
    normalised = _normalise(within.astype(np.float64))
    if strategy == "uniform":
        return normalised[None].astype(np.float32)
    if strategy == "distance":
        return np.stack([np.where(dist == hop, normalised, 0.0) for hop in range(max_hop + 1)]).astype(np.float32)
    if strategy != "spatial":
        raise ValueError(f"unknown partition strategy {strategy!r} (uniform, distance, spatial)")
    centers = component_centers(num_nodes, edges, center)
    to_center = hop_distance(num_nodes, edges, center_hops)[:, centers].min(axis=1)  # [V]
    # column w receives from row v; compare the sender's distance to the centre with the receiver's
    sender, receiver = to_center[:, None], to_center[None, :]
    parts = [np.where(dist == 0, normalised, 0.0)]
    for hop in range(1, max_hop + 1):
        ring = dist == hop
        parts.append(np.where(ring & (sender >= receiver), normalised, 0.0))  # same distance or centrifugal
        parts.append(np.where(ring & (sender < receiver), normalised, 0.0))  # centripetal
    return np.stack(parts).astype(np.float32)


class GraphConv(nn.Module):
    """Partitioned graph convolution: ``sum_k (X W_k) A_k`` over ``[N, C, T, V]`` (Foley Music Eq. 1, ``A X W_S``)."""

    def __init__(self, in_channels: int, out_channels: int, partitions: int) -> None:
        super().__init__()
        self.partitions = partitions
        self.conv = nn.Conv2d(in_channels, out_channels * partitions, kernel_size=1)

    def forward(self, x: Tensor, adjacency: Tensor) -> Tensor:
        n, _, t, v = x.shape
        x = self.conv(x).view(n, self.partitions, -1, t, v)
        return torch.einsum("nkctv,kvw->nctw", x, adjacency)


class STGCNBlock(nn.Module):
    """Graph convolution -> BN-ReLU-temporal conv (kernel ``temporal_kernel``, ``stride``)-BN-dropout, + residual."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        partitions: int,
        temporal_kernel: int = 9,
        stride: int = 1,
        dropout: float = 0.0,
        residual: bool = True,
    ) -> None:
        super().__init__()
        if temporal_kernel % 2 != 1:
            raise ValueError(f"temporal_kernel must be odd, got {temporal_kernel}")
        self.gcn = GraphConv(in_channels, out_channels, partitions)
        self.tcn = nn.Sequential(
            nn.BatchNorm2d(out_channels),
            nn.ReLU(),
            nn.Conv2d(out_channels, out_channels, (temporal_kernel, 1), (stride, 1), ((temporal_kernel - 1) // 2, 0)),
            nn.BatchNorm2d(out_channels),
            nn.Dropout(dropout),
        )
        if not residual:
            self.residual: Optional[nn.Module] = None
        elif in_channels == out_channels and stride == 1:
            self.residual = nn.Identity()
        else:
            self.residual = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, (stride, 1)), nn.BatchNorm2d(out_channels)
            )
        self.relu = nn.ReLU()

    def forward(self, x: Tensor, adjacency: Tensor) -> Tensor:
        out = self.tcn(self.gcn(x, adjacency))
        if self.residual is not None:
            out = out + self.residual(x)
        return self.relu(out)


class STGCN(nn.Module):
    """ST-GCN encoder: keypoints ``[B, T, V, C]`` -> features ``[B, T / prod(strides), out_dim]``.

    Input BatchNorm over (joint, channel), the blocks of :data:`STGCN_BLOCKS` (the first without residual, as in
    ST-GCN), learnable edge importance per block, mean over joints, 1x1 convolution to ``out_dim``.

    Args:
        in_channels: per-joint input channels (x, y[, confidence]).
        num_nodes, edges, center: the skeleton graph (see :func:`partition_adjacency`).
        out_dim: output feature width. strategy: partition strategy. temporal_kernel: temporal conv size.
        blocks: ``(in, out, stride)`` per block (``in`` of the first is ignored).
        dropout: dropout inside the blocks. edge_importance: learn the edge-importance masks.
        center_hops: see :func:`partition_adjacency` (``None``: exact distances to the centre).
    """

    def __init__(
        self,
        in_channels: int,
        num_nodes: int,
        edges: Sequence[tuple[int, int]],
        center: int | Sequence[int] = 0,
        out_dim: int = 512,
        strategy: Strategy = "spatial",
        temporal_kernel: int = 9,
        blocks: Sequence[tuple[int, int, int]] = STGCN_BLOCKS,
        dropout: float = 0.0,
        edge_importance: bool = True,
        center_hops: Optional[int] = None,
    ) -> None:
        super().__init__()
        adjacency = torch.from_numpy(partition_adjacency(num_nodes, edges, center, strategy, center_hops=center_hops))
        self.register_buffer("adjacency", adjacency)
        self.num_nodes = num_nodes
        self.in_channels = in_channels
        self.data_bn = nn.BatchNorm1d(in_channels * num_nodes)
        k = adjacency.shape[0]
        layers = []
        channels = in_channels
        for i, (_, out, stride) in enumerate(blocks):
            layers.append(STGCNBlock(channels, out, k, temporal_kernel, stride, dropout if i else 0.0, residual=i > 0))
            channels = out
        self.blocks = nn.ModuleList(layers)
        self.edge_importance = nn.ParameterList(
            nn.Parameter(torch.ones_like(adjacency), requires_grad=edge_importance) for _ in self.blocks
        )
        self.proj = nn.Conv1d(channels, out_dim, kernel_size=1)
        self.downsample = int(np.prod([stride for _, _, stride in blocks]))

    def forward(self, keypoints: Tensor) -> Tensor:
        b, t, v, c = keypoints.shape
        if v != self.num_nodes or c != self.in_channels:
            raise ValueError(
                f"STGCN expects keypoints [B, T, {self.num_nodes}, {self.in_channels}], got {tuple(keypoints.shape)}"
            )
        x = self.data_bn(keypoints.permute(0, 2, 3, 1).reshape(b, v * c, t))
        x = x.view(b, v, c, t).permute(0, 2, 3, 1)  # [B, C, T, V]
        for block, importance in zip(self.blocks, self.edge_importance):
            x = block(x, self.adjacency * importance)
        x = x.mean(dim=-1)  # over joints -> [B, C, T']
        return self.proj(x).transpose(1, 2)
