"""Beat F-measure (RhythmicNet §4 beat evaluation; mir_eval / MIREX convention).

Per clip: estimated and reference beats are matched one-to-one within ``±tolerance`` seconds (maximum bipartite
matching, ``mir_eval.util.match_events``); P = matches / estimated, R = matches / reference, F = 2PR/(P+R); a clip
with no estimated or no reference beats scores 0 (as ``mir_eval.beat.f_measure``). Clips are averaged with equal
weight. Pinned where RhythmicNet is silent: tolerance 70 ms (mir_eval's default) and **no** trimming of the first
5 seconds (``mir_eval.beat.trim_beats``), which would empty short dance clips.

Inputs: per clip, beat times in seconds (1-D arrays/tensors, or a list of them), or, when ``fps`` is given, beat-frame
rolls ``[B, T]`` / ``[T]`` whose frames with value >= 0.5 are beats at ``frame / fps`` seconds.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np
import torch
from torchmetrics import Metric


class BeatFMeasure(Metric):
    """Mean per-clip beat F-measure; ``compute()`` returns ``{"f_measure", "precision", "recall"}``."""

    full_state_update = False
    higher_is_better = True

    def __init__(self, tolerance: float = 0.07, fps: Optional[float] = None, **kwargs) -> None:
        super().__init__(**kwargs)
        if tolerance <= 0:
            raise ValueError(f"tolerance must be positive, got {tolerance}")
        self.tolerance = float(tolerance)
        self.fps = None if fps is None else float(fps)
        for name in ("sum_f", "sum_p", "sum_r", "clips"):
            self.add_state(name, torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")

    def _clips(self, beats: Any) -> list[np.ndarray]:
        if isinstance(beats, (list, tuple)):
            return [self._times(b) for b in beats]
        beats = torch.as_tensor(beats)
        if self.fps is not None:
            return [self._times(row) for row in (beats[None] if beats.dim() == 1 else beats)]
        if beats.dim() != 1:
            raise ValueError("BeatFMeasure: pass a list of per-clip beat-time arrays, or set fps for [B, T] beat rolls")
        return [self._times(beats)]

    def _times(self, beats: Any) -> np.ndarray:
        values = np.asarray(beats.detach().cpu() if hasattr(beats, "detach") else beats, dtype=np.float64).reshape(-1)
        if self.fps is not None:
            return np.flatnonzero(values >= 0.5) / self.fps
        return np.sort(values)

    def update(self, preds: Any, target: Any) -> None:
        from mir_eval.util import f_measure, match_events

        estimated, reference = self._clips(preds), self._clips(target)
        if len(estimated) != len(reference):
            raise ValueError(f"BeatFMeasure: {len(estimated)} estimated clips vs {len(reference)} reference clips")
        for est, ref in zip(estimated, reference):
            if est.size == 0 or ref.size == 0:
                p = r = f = 0.0
            else:
                matches = len(match_events(ref, est, self.tolerance))
                p, r = matches / est.size, matches / ref.size
                f = f_measure(p, r)
            self.sum_f += f
            self.sum_p += p
            self.sum_r += r
            self.clips += 1

    def compute(self) -> dict[str, torch.Tensor]:
        clips = self.clips.clamp_min(1)
        return {"f_measure": self.sum_f / clips, "precision": self.sum_p / clips, "recall": self.sum_r / clips}


__all__ = ["BeatFMeasure"]
