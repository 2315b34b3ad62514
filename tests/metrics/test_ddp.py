"""A 2-process CPU DDP run (gloo) gives the same metric values as one process."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from metrics import FAD, NDB, BeatFMeasure, FramePRF, KLDivergence, KNNAccuracy, TextAudioConsistency, TokenNLL
from tests.helpers.metrics import RandomProjectionEmbedder


def _data() -> dict:
    """Everything the metrics see, split later into two halves (one per process)."""
    rng = np.random.default_rng(0)
    t = np.arange(24000) / 16000
    return {
        "roll_preds": rng.random((6, 88, 40)).astype(np.float32),
        "roll_target": (rng.random((6, 88, 40)) < 0.1).astype(np.float32),
        "real_audio": [np.sin(2 * np.pi * f * t).astype(np.float32) for f in (200, 300, 450, 700)],
        "fake_audio": [np.sin(2 * np.pi * f * t).astype(np.float32) * 0.5 for f in (250, 333, 900, 1200)],
        "real_emb": rng.normal(size=(300, 16)),
        "fake_emb": rng.normal(0.3, 1.2, size=(260, 16)),
        "gen_probs": rng.dirichlet(np.ones(5), size=8),
        "ref_probs": rng.dirichlet(np.ones(5), size=8),
        "ndb_train": rng.normal(size=(200, 4)) + np.repeat(np.eye(4) * 4, 50, axis=0),
        "ndb_query": rng.normal(size=(80, 4)) + np.repeat(np.eye(4)[[0, 0, 1, 2]] * 4, 20, axis=0),
        "beats_est": [np.sort(rng.uniform(0, 8, 12)) for _ in range(4)],
        "beats_ref": [np.sort(rng.uniform(0, 8, 14)) for _ in range(4)],
        "knn_x": rng.normal(size=(40, 6)),
        "knn_y": rng.integers(0, 3, 40),
        "logits": rng.normal(size=(4, 9, 11)),
        "tokens": rng.integers(0, 11, (4, 9)),
        "text_emb": rng.normal(size=(6, 8)),
        "audio_emb": rng.normal(size=(6, 8)),
    }


def _half(value, rank: int, world: int):
    n = len(value)
    size = n // world
    return value[rank * size : (rank + 1) * size] if rank < world - 1 else value[rank * size :]


def _evaluate(rank: int, world: int) -> dict[str, float]:
    data = {k: _half(v, rank, world) if k != "ndb_train" else v for k, v in _data().items()}
    values: dict[str, float] = {}
    for average in ("micro", "frame"):
        prf = FramePRF(average=average)
        prf.update(torch.from_numpy(data["roll_preds"]), torch.from_numpy(data["roll_target"]))
        values.update({f"prf_{average}_{k}": float(v) for k, v in prf.compute().items()})
    embedder = RandomProjectionEmbedder()
    fad = FAD(embedder)
    fad.update(data["real_audio"], real=True)
    fad.update(data["fake_audio"], real=False)
    values["fad_audio"] = float(fad.compute())
    fad = FAD(embedder, seed=3)
    fad.update_embeddings(torch.from_numpy(data["real_emb"]), real=True)
    fad.update_embeddings(torch.from_numpy(data["fake_emb"]), real=False)
    values["fad_emb"] = float(fad.compute())
    values["fad_inf"] = fad.fad_infinity(min_n=50, steps=5)["fad_inf"]
    kl = KLDivergence(embedder)
    kl.update_probabilities(torch.from_numpy(data["gen_probs"]), torch.from_numpy(data["ref_probs"]))
    kl.update(data["fake_audio"], data["real_audio"])
    values["kl"] = float(kl.compute())
    ndb = NDB(k=4, seed=0).fit(data["ndb_train"])
    ndb.update(torch.from_numpy(data["ndb_query"]))
    values.update({f"ndb_{k}": float(v) for k, v in ndb.compute().items()})
    beat = BeatFMeasure()
    beat.update(data["beats_est"], data["beats_ref"])
    values["beat_f"] = float(beat.compute()["f_measure"])
    knn = KNNAccuracy()
    knn.update(torch.from_numpy(data["knn_x"]), torch.from_numpy(data["knn_y"]))
    values["knn"] = float(knn.compute())
    nll = TokenNLL(ignore_index=0)
    nll.update(torch.from_numpy(data["logits"]), torch.from_numpy(data["tokens"]))
    values["nll"] = float(nll.compute()["nll"])
    text = TextAudioConsistency()
    text.update_embeddings(torch.from_numpy(data["text_emb"]), torch.from_numpy(data["audio_emb"]))
    values["text_audio"] = float(text.compute())
    return values


def _worker(rank: int, world: int, store: str, out: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world)
    try:
        values = _evaluate(rank, world)
        Path(f"{out}.{rank}").write_text(json.dumps(values))
    finally:
        dist.destroy_process_group()


def test_two_process_gloo_run_equals_one_process(tmp_path):
    single = _evaluate(0, 1)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    mp.spawn(_worker, args=(2, str(tmp_path / "store"), str(tmp_path / "values")), nprocs=2, join=True)
    for rank in range(2):
        distributed = json.loads((tmp_path / f"values.{rank}").read_text())
        assert distributed.keys() == single.keys()
        for key, value in single.items():
            assert distributed[key] == pytest.approx(value, rel=1e-9, abs=1e-12), key
    # the halves really differ: a single process on half the data would not give these values
    assert _evaluate(0, 2)["fad_emb"] != pytest.approx(single["fad_emb"], rel=1e-3)
