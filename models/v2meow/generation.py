"""V2Meow's soundtrack for a whole video (``python cli.py generate``): 1-fps visual input of the kinds stage 1
was trained on, in ``stage_crop_seconds`` windows covering the video (:mod:`models.video_windows`: the last window
padded by repeating the video's last second), every window through the chain (:meth:`V2Meow.generate_tokens`:
visual -> semantic -> coarse -> fine -> codec decoder) in one batch, the windows' audio placed end to end and cut at
the video's end.

Visual kinds. Stage 1's input is ``feature_dims`` (float kinds, concatenated along D) and, with
``visual_token_vocab``, token kinds (integer ids, concatenated along P). Their names are the model's ``visual_kinds``
(feature kinds first, then token kinds) or, when it is None, the suite's kinds of those widths
(:data:`datamodules.features.FEATURE_DIMS`: ``effnet_lite0`` 1280, ``flow`` 45; ``effnet_tokens`` 49 patches of
8192 ids). Each kind is read from ``features`` (a folder: ``<kind>/<video stem>.npy`` as under an MV100K root's
``features/``, or ``<kind>.npy``; ``[T, D]`` at 1 fps, ``T = floor(duration)`` give or take one row) when the folder
holds it, else extracted offline from the video (:func:`models.video_windows.feature_windows`) when the suite
computes that kind, else it is an error naming the kind and the folder.

Bad input is one error naming the file: a corrupt or frameless video (:mod:`datamodules.video`), a features file that
cannot be read, of another width than the model's for its kind, with NaN / Inf values or token ids outside the
model's vocabulary, or of another length than the video.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Optional, Union

import numpy as np
import torch
from torch import Tensor

from models.video_windows import VideoWindows, feature_windows, row_windows, video_info

if TYPE_CHECKING:
    from models.v2meow.model import V2Meow

log = logging.getLogger(__name__)

PathLike = Union[str, Path]


def resolve_kinds(
    feature_dims: Sequence[int],
    visual_token_vocab: int,
    visual_token_patches: int,
    visual_kinds: Optional[Sequence[str]] = None,
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(feature kinds, token kinds) of stage 1's input: ``visual_kinds`` split after ``len(feature_dims)`` names, or
    the suite's kinds of the model's widths; one ``ValueError`` naming the widths when no suite kind fits."""
    from datamodules.features import FEATURE_DIMS, TOKEN_DIMS, TOKEN_VOCAB

    dims = [int(d) for d in feature_dims]
    tokens = 1 if visual_token_vocab else 0
    if visual_kinds is not None:
        names = tuple(str(k) for k in visual_kinds)
        if len(names) < len(dims) + tokens or (not tokens and len(names) != len(dims)):
            raise ValueError(
                f"V2Meow: visual_kinds {list(names)} do not match feature_dims {dims}"
                + (f" plus the token kind(s) of {visual_token_patches} patches" if tokens else "")
                + ": name one feature kind per width, then the token kind(s)"
            )
        return names[: len(dims)], names[len(dims) :]
    by_dim = {d: k for k, d in FEATURE_DIMS.items()}
    unknown = [d for d in dims if d not in by_dim]
    token_kind = [
        k for k, p in TOKEN_DIMS.items() if p == visual_token_patches and TOKEN_VOCAB[k] == visual_token_vocab
    ]
    if unknown or (tokens and not token_kind):
        raise ValueError(
            f"V2Meow: the suite computes no visual kind of width {unknown or visual_token_patches} (model: "
            f"feature_dims {dims}, visual_token_patches {visual_token_patches}, vocabulary {visual_token_vocab}; "
            f"suite kinds: {FEATURE_DIMS | TOKEN_DIMS}): set the model's visual_kinds to their names and give "
            "their per-second arrays with --features DIR (DIR/<kind>/<video stem>.npy)"
        )
    return tuple(by_dim[d] for d in dims), tuple(token_kind[:tokens])


def features_file(folder: Path, kind: str, stem: str) -> Optional[Path]:
    """``folder/<kind>/<stem>.npy`` or ``folder/<kind>.npy``, whichever exists (None if neither)."""
    for path in (folder / kind / f"{stem}.npy", folder / f"{kind}.npy"):
        if path.is_file():
            return path
    return None


def read_rows(path: Path, kind: str, width: int, duration: float, vocab: int = 0) -> Tensor:
    """The 1-fps array of ``kind`` in ``path`` checked against the model (``width``; token ids below ``vocab`` when
    ``vocab``) and the video (``duration`` s: ``floor(duration)`` rows, one more or less tolerated): float32
    ``[T, width]`` or long ids. One error naming the file for anything else."""
    from datamodules.features import seconds_of

    try:
        array = np.load(path)
    except (OSError, ValueError) as error:
        raise RuntimeError(f"V2Meow: cannot read {kind} features {path} (corrupt or not a .npy?): {error}") from error
    if array.ndim != 2 or array.shape[1] != width or len(array) == 0:
        raise ValueError(f"V2Meow: {path} ({kind}) has shape {array.shape}; the model takes [T, {width}] for {kind}")
    expected = seconds_of(duration)
    if abs(len(array) - expected) > 1:
        raise ValueError(
            f"V2Meow: {path} ({kind}) has {len(array)} rows, the video lasts {duration:.2f} s ({expected} rows at "
            "1 fps)"
        )
    if vocab:
        if not np.issubdtype(array.dtype, np.integer):
            raise ValueError(f"V2Meow: {path} ({kind}) holds {array.dtype} values; a token kind holds integer ids")
        if int(array.min()) < 0 or int(array.max()) >= vocab:
            raise ValueError(f"V2Meow: {path} ({kind}) holds token ids {int(array.min())} .. {int(array.max())} "
                             f"outside the model's vocabulary 0 .. {vocab - 1}")  # fmt: skip
        return torch.from_numpy(array.astype(np.int64))
    if not np.all(np.isfinite(array)):
        raise ValueError(f"V2Meow: {path} ({kind}) holds NaN or Inf values")
    return torch.from_numpy(np.asarray(array, dtype=np.float32))


def kind_windows(
    video: Path, duration: float, kind: str, width: int, clip_seconds: float, folder: Optional[Path], vocab: int = 0
) -> VideoWindows:
    """Windows of one visual kind of ``video`` (``duration`` s): from ``folder`` when it holds the kind, else
    extracted from ``video``."""
    from datamodules.features import KIND_DIMS

    path = features_file(folder, kind, video.stem) if folder is not None else None
    if path is not None:
        return row_windows(read_rows(path, kind, width, duration, vocab), duration, clip_seconds)
    if kind not in KIND_DIMS:
        where = (
            "no --features DIR was given"
            if folder is None
            else f"--features {folder} holds neither {folder / kind / (video.stem + '.npy')} nor {kind}.npy"
        )
        raise FileNotFoundError(f"V2Meow: the suite cannot compute the visual kind {kind!r} from {video} and {where}")
    if KIND_DIMS[kind] != width:
        raise ValueError(f"V2Meow: the suite's {kind} is {KIND_DIMS[kind]} wide, the model takes {width} for {kind}")
    log.info("V2Meow: extracting %s features of %s", kind, video)
    windows = feature_windows(video, kind, clip_seconds)
    if vocab:
        windows.inputs = windows.inputs.round().long()
    return windows


def visual_windows(model: V2Meow, video: PathLike, features: Optional[PathLike] = None) -> dict[str, VideoWindows]:
    """``{"visual_features": [W, T, D], "visual_tokens": [W, T, P]}`` (those the model takes) for the windows of
    ``stage_crop_seconds`` covering ``video``."""
    h = model.hparams
    video = Path(video)
    folder = None if features is None else Path(features)
    if folder is not None and not folder.is_dir():
        raise NotADirectoryError(f"V2Meow: --features {folder} is not a folder")
    feature_kinds, token_kinds = resolve_kinds(
        h.feature_dims, h.visual_token_vocab, h.visual_token_patches, h.get("visual_kinds")
    )
    clip = float(h.stage_crop_seconds)
    _, duration = video_info(video)
    out: dict[str, VideoWindows] = {}
    if feature_kinds:
        parts = [kind_windows(video, duration, k, int(d), clip, folder) for k, d in zip(feature_kinds, h.feature_dims)]
        out["visual_features"] = VideoWindows(torch.cat([p.inputs for p in parts], -1), parts[0].duration, clip)
    if token_kinds:
        from datamodules.features import TOKEN_DIMS

        widths = [TOKEN_DIMS.get(k, h.visual_token_patches) for k in token_kinds]
        if sum(widths) != h.visual_token_patches:
            raise ValueError(f"V2Meow: token kinds {list(token_kinds)} give {sum(widths)} ids per frame, the model "
                             f"takes visual_token_patches {h.visual_token_patches}")  # fmt: skip
        vocab = h.visual_token_vocab
        parts = [kind_windows(video, duration, k, w, clip, folder, vocab) for k, w in zip(token_kinds, widths)]
        out["visual_tokens"] = VideoWindows(torch.cat([p.inputs for p in parts], -1), parts[0].duration, clip)
    return out


@torch.no_grad()
def generate_soundtrack(
    model: V2Meow,
    video: PathLike,
    text: Optional[str] = None,
    features: Optional[PathLike] = None,
    seed: int = 0,
) -> tuple[np.ndarray, dict[str, object]]:
    """The chain's audio for the whole ``video`` (float32, cut at its end) and what was done (windows, prompt)."""
    video = Path(video)
    prompt = (text or "").strip()
    if prompt and model.hparams.control == "none":
        model.control_from_text([prompt])  # one error naming the prompt and the model's control, before any work
    windows = visual_windows(model, video, features)
    first = next(iter(windows.values()))
    count, duration = first.count, first.duration
    control = null = None
    if prompt:
        control, null = model.control_from_text([prompt] * count)
    elif model.hparams.control == "joint":
        control, null = model.control_from_text([""] * count)  # no prompt: the null embedding
    device = model.device
    generator = torch.Generator(device=device).manual_seed(int(seed))
    feats = windows.get("visual_features")
    tokens = windows.get("visual_tokens")
    out = model.generate_tokens(
        None if feats is None else feats.inputs.to(device),
        None if tokens is None else tokens.inputs.to(device),
        control,
        null,
        generator=generator,
    )
    rate = int(model.hparams.sample_rate)
    audio = out["audio"].float().cpu().reshape(-1).numpy()
    audio = audio[: int(math.ceil(duration * rate))]
    return audio, {"windows": count, "prompt": prompt, "fine": "fine" in out}


__all__ = [
    "features_file", "generate_soundtrack", "kind_windows", "read_rows", "resolve_kinds", "visual_windows",
]  # fmt: skip
