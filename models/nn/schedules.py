"""Learning-rate schedules, as factors of the peak learning rate for ``torch.optim.lr_scheduler.LambdaLR``."""

from __future__ import annotations

import math


def noam_factor(step: int, warmup_steps: int) -> float:
    """The transformer's warm-up / inverse-square-root schedule (Vaswani et al. 2017, §5.3; Foley Music §4.1): linear
    warm-up to 1 over ``warmup_steps``, then ``sqrt(warmup_steps / step)``. Steps count from 1 (0 is taken as 1)."""
    if warmup_steps < 1:
        raise ValueError(f"noam_factor: warmup_steps must be >= 1, got {warmup_steps}")
    step = max(step, 1)
    return min(step / warmup_steps, math.sqrt(warmup_steps / step))


__all__ = ["noam_factor"]
