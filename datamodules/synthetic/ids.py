"""Made-up YouTube-style ids for synthetic recordings (11 characters of the URL-safe base64 alphabet).

About one in five (and always the second) starts with ``_``, as 15 real Solos ids do, so that loaders are exercised
on that gotcha (docs/DATASETS.md §3: never drop keys just because they start with an underscore).
"""

from __future__ import annotations

import numpy as np

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def youtube_ids(count: int, rng: np.random.Generator) -> list[str]:
    """``count`` distinct 11-character ids; about 20 % start with ``_``."""
    ids: list[str] = []
    while len(ids) < count:
        chars = "".join(ALPHABET[i] for i in rng.integers(0, len(ALPHABET), 11))
        if rng.random() < 0.2 or len(ids) == 1:  # the second id always does
            chars = "_" + chars[1:]
        if chars not in ids:
            ids.append(chars)
    return ids


__all__ = ["youtube_ids"]
