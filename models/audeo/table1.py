"""Audeo's Table 1 (frame-level precision / recall / accuracy / F1 of the pseudo-Midi evaluation) and its layout for
measured numbers beside the paper's."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

TABLE1_STATS = ("precision", "recall", "accuracy", "f1")
# Audeo Table 1 (%, frame level; TS = 0.4 unless stated), Pseudo Midi Evaluation set (Paul Barton, Bach WTC).
TABLE1 = {
    "ResNet [33]": (64.3, 54.7, 40.4, 49.7),
    "ResNet+Aggregation+slope [33]": (61.5, 57.3, 41.2, 50.8),
    "Video2Roll Net": (61.2, 65.6, 46.4, 56.4),
    "Roll2Midi Net TS=0.4": (60.0, 77.0, 50.6, 61.5),
    "Roll2Midi Net TS=0.5": (65.1, 69.9, 50.8, 60.4),
}


def format_table1(
    rows: dict[str, Sequence[float]], dataset: str, spread: Optional[dict[str, Sequence[float]]] = None
) -> str:
    """Table 1's layout: measured precision / recall / accuracy / F1 (%) next to the paper's, rows as in the paper.

    ``spread``: per row, the standard deviations over runs (then ``rows`` holds their means), shown as ``mean±std``.
    """
    width = 10 if spread else 5
    head = f"{'Model':32s} | " + " | ".join(f"{s[:4].title():>{width}s} {'paper':>5s}" for s in TABLE1_STATS)
    lines = [f"Audeo Table 1 (frame level, micro, %) on {dataset}", head, "-" * len(head)]
    for name, paper in TABLE1.items():
        measured = rows.get(name)
        cells = []
        for i in range(4):
            if measured is None:
                value = "n/a"
            elif spread:
                value = f"{measured[i]:.1f}±{spread[name][i]:.1f}"
            else:
                value = f"{measured[i]:.1f}"
            cells.append(f"{value:>{width}s} {paper[i]:5.1f}")
        lines.append(f"{name:32s} | " + " | ".join(cells))
    lines.append("n/a: not measured in this run (the ResNet baselines of [33] are not part of Audeo).")
    return "\n".join(lines)


__all__ = ["TABLE1", "TABLE1_STATS", "format_table1"]
