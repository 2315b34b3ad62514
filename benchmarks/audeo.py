"""Audeo throughput: does loading 5-frame stacks keep up with a Video2Roll training step?

    python benchmarks/audeo.py [--root D] [--batch-size 16] [--steps 5] [--workers 0] [--small]   # make bench-audeo

Reports the loader (cached, memory-mapped uint8 frames -> float stacks, balanced sampler) in stacks per second, the
first-epoch decode/cache time, and the Video2Roll train step (paper sizes unless --small) in samples per second.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> dict[str, float]:
    import torch
    import torch.nn.functional as F

    from datamodules.audeo import AudeoDataModule
    from models.audeo import Video2RollNet

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=None)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--small", action="store_true", help="debug widths instead of the paper's ResNet-18")
    args = parser.parse_args(argv)

    dm = AudeoDataModule(root=args.root, batch_size=args.batch_size, num_workers=args.workers, synthetic_minutes=2.0)
    start = time.perf_counter()
    dm.setup("fit")
    setup_s = time.perf_counter() - start
    loader = dm.train_dataloader()
    batches, start = [], time.perf_counter()
    for batch in loader:
        batches.append(batch)
        if len(batches) >= 4 * args.steps:
            break
    load_s = time.perf_counter() - start
    stacks_per_s = sum(len(b["roll"]) for b in batches) / load_s

    if args.small:
        small = {"widths": (8, 16, 32, 64), "feature_channels": 16, "top_channels": 8}
        net = Video2RollNet(51, **small, feature_transform="adaptive")
    else:
        net = Video2RollNet(51)  # the paper's sizes
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    start = time.perf_counter()
    for batch in batches[: args.steps]:
        loss = F.binary_cross_entropy_with_logits(net(batch["frames"]), batch["roll"][..., 0])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    step_s = (time.perf_counter() - start) / args.steps
    result = {
        "setup_and_cache_s": round(setup_s, 2),
        "loader_stacks_per_s": round(stacks_per_s, 1),
        "train_samples_per_s": round(args.batch_size / step_s, 2),
        "train_step_s": round(step_s, 3),
        "loader_to_train_ratio": round(stacks_per_s / (args.batch_size / step_s), 1),
        "torch_threads": torch.get_num_threads(),
    }
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
