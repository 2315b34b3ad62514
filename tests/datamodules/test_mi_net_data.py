"""URMP and Solos as MI Net reads them (MI Net §3-§4, docs/DATASETS.md §1/§3): upper47 keypoints, 16 kHz audio, a
binary content roll, instrument labels, the paper's splits, and one clear error for bad input."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import pytest
import torch

from datamodules.instruments import instrument_index
from datamodules.recordings import ClipOptions, Recording, RecordingClips
from datamodules.solos import SolosDataModule, mi_net_held_out
from datamodules.synthetic import write
from datamodules.urmp import PIECE_DIR, URMP_INSTRUMENTS, Track, URMPDataModule
from datamodules.urmp import mi_net_held_out as urmp_held_out
from tests.helpers import real_formats as rf

MI_NET = {"keypoint_layout": "upper47", "sample_rate": 16000, "binary_roll": True, "clip_seconds": 4.0}

# docs/DATASETS.md §1: the 44 URMP piece folders
URMP_FOLDERS = """
01_Jupiter_vn_vc 02_Sonata_vn_vn 03_Dance_fl_cl 04_Allegro_fl_fl 05_Entertainer_tpt_tpt
06_Entertainer_sax_sax 07_GString_tpt_tbn 08_Spring_fl_vn 09_Jesus_tpt_vn 10_March_tpt_sax
11_Maria_ob_vc 12_Spring_vn_vn_vc 13_Hark_vn_vn_va 14_Waltz_fl_fl_cl 15_Surprise_tpt_tpt_tbn
16_Surprise_tpt_tpt_sax 17_Nocturne_vn_fl_cl 18_Nocturne_vn_fl_tpt 19_Pavane_cl_vn_vc
20_Pavane_tpt_vn_vc 21_Rejouissance_cl_tbn_tba 22_Rejouissance_sax_tbn_tba
23_Rejouissance_cl_sax_tba 24_Pirates_vn_vn_va_vc 25_Pirates_vn_vn_va_sax 26_King_vn_vn_va_vc
27_King_vn_vn_va_sax 28_Fugue_fl_ob_cl_bn 29_Fugue_fl_fl_ob_cl 30_Fugue_fl_fl_ob_sax
31_Slavonic_tpt_tpt_hn_tbn 32_Fugue_vn_vn_va_vc 33_Elise_tpt_tpt_hn_tbn 34_Fugue_tpt_tpt_hn_tbn
35_Rondeau_vn_vn_va_db 36_Rondeau_vn_vn_va_vc 37_Rondeau_fl_vn_va_cl 38_Jerusalem_vn_vn_va_vc_db
39_Jerusalem_vn_vn_va_sax_db 40_Miserere_fl_fl_ob_cl_bn 41_Miserere_fl_fl_ob_sax_bn
42_Arioso_tpt_tpt_hn_tbn_tba 43_Chorale_tpt_tpt_hn_tbn_tba 44_K515_vn_vn_va_va_vc
""".split()
# docs/DATASETS.md §3: ids per Solos category
SOLOS_COUNTS = {"Bassoon": 56, "Cello": 134, "Clarinet": 49, "DoubleBass": 58, "Flute": 47, "Horn": 50, "Oboe": 53,
                "Saxophone": 45, "Trombone": 50, "Trumpet": 50, "Tuba": 41, "Viola": 55, "Violin": 66}  # fmt: skip


def tracks_of(folders: list[str]) -> list[Track]:
    tracks = []
    for name in folders:
        number, piece, parts = PIECE_DIR.match(name).groups()
        tracks += [Track(Path(name), int(number), piece, k, inst) for k, inst in enumerate(parts.split("_"), 1)]
    return tracks


@pytest.fixture(scope="module")
def urmp_root(tmp_path_factory):
    return write("urmp", tmp_path_factory.mktemp("urmp") / "root", minutes=0.1, seed=0)


def test_urmp_gives_mi_net_fields(urmp_root):
    dm = URMPDataModule(str(urmp_root), fields=("keypoints", "audio", "roll", "instrument"), split="mi_net",
                        batch_size=2, **MI_NET)  # fmt: skip
    dm.setup()
    batch = next(iter(dm.train_dataloader()))
    fps = dm.options.fps
    assert batch["keypoints"].shape == (2, int(round(4 * fps)), 47, 3)  # 5 body + 2 x 21 hand joints
    assert batch["audio"].shape == (2, 4 * 16000)
    assert batch["roll"].shape == (2, 88, int(round(4 * fps)))
    assert set(batch["roll"].unique().tolist()) == {0.0, 1.0}  # binary: the dynamics are dropped
    assert (batch["roll"].sum(1) <= 1).all()  # monophonic parts: at most one note per step
    assert batch["instrument"].dtype == torch.long
    for meta, label in zip(batch["meta"], batch["instrument"].tolist()):
        assert meta["sample_rate"] == 16000 and meta["keypoint_layout"] == "upper47"
        assert label == instrument_index(meta["instrument_name"])
    train = {r.key for r in dm.dataset("train").recordings}
    test = {r.key for r in dm.dataset("test").recordings}
    assert test == {r.key for r in dm.dataset("val").recordings} and not train & test
    assert train | test == {t.key for t in tracks_of([p.name for p in urmp_root.iterdir() if PIECE_DIR.match(p.name)])}


def test_velocity_roll_stays_the_default(urmp_root):
    dm = URMPDataModule(str(urmp_root), fields=("roll",), split="pieces", clip_seconds=4.0)
    dm.setup("fit")
    roll = dm.dataset("train")[0]["roll"]
    assert roll.max() < 1.0 and roll.max() > 0  # velocity / 127
    defaults = URMPDataModule()
    options = defaults.options
    assert (defaults.split, options.sample_rate, options.keypoint_layout) == ("foley", 22050, "body65")
    assert not defaults.options.binary_roll and SolosDataModule().split == "ids"


def test_urmp_mi_net_split_holds_out_one_track_per_instrument():
    tracks = tracks_of(URMP_FOLDERS)
    held = urmp_held_out(tracks)
    assert len(tracks) == 149 and len(held) == 13  # MI Net §4: 13 test tracks, the rest train
    assert Counter(t.instrument for t in tracks if t.key in held) == Counter(URMP_INSTRUMENTS)
    takes = {(t.piece, t.part, t.instrument) for t in tracks if t.key in held}
    assert not any((t.piece, t.part, t.instrument) in takes for t in tracks if t.key not in held)  # no shared take
    assert urmp_held_out(list(reversed(tracks))) == held  # deterministic, whatever the scan order


def test_solos_mi_net_split_is_nine_to_one_per_category():
    pairs = [(c, f"{c[:3]}{k:08d}") for c, n in SOLOS_COUNTS.items() for k in range(n)]
    held = mi_net_held_out(pairs)
    for category, n in SOLOS_COUNTS.items():
        test = sum(v in held for c, v in pairs if c == category)
        assert test == max(1, round(n / 10)), category
    assert 0.09 < len(held) / len(pairs) < 0.11
    assert mi_net_held_out([("Violin", "only")]) == set()  # a lone id trains


def test_solos_mi_net_split_and_upper47(tmp_path):
    root = rf.write_solos(tmp_path / "solos", seconds=5.0)
    dm = SolosDataModule(str(root), fields=("keypoints", "audio", "instrument"), split="mi_net", batch_size=1,
                         **{**MI_NET, "binary_roll": False})  # fmt: skip
    dm.setup()
    train = {r.meta["ytid"] for r in dm.dataset("train").recordings}
    test = {r.meta["ytid"] for r in dm.dataset("test").recordings}
    assert train == {"cElLo000001", *({"_W2VM3uinZA", "vIoLiN00001"} - test)} and len(test) == 1
    batch = next(iter(dm.test_dataloader()))
    assert batch["keypoints"].shape == (1, 100, 47, 3) and batch["audio"].shape == (1, 64000)
    assert batch["instrument"].item() == instrument_index("violin")
    with pytest.raises(ValueError, match="split must be 'ids' or 'mi_net'"):
        SolosDataModule(str(root), split="random")
    lone = SolosDataModule(str(root), fields=("keypoints",), categories=("Cello",), split="mi_net")
    with pytest.raises(ValueError, match=r"every category in .*solos_ids.json has one; use split='ids'"):
        lone.setup("fit")


def test_unknown_solos_category_is_one_clear_error(tmp_path):
    root = rf.write_solos(tmp_path / "solos", seconds=5.0)
    for name in ("solos_ids.json", "solos_timestamps.json"):
        data = json.loads((root / name).read_text())
        data["Kazoo"] = data.pop("Cello")
        (root / name).write_text(json.dumps(data))
    shutil.move(root / "audio" / "Cello", root / "audio" / "Kazoo")
    dm = SolosDataModule(str(root), fields=("keypoints", "instrument"), split="mi_net")
    with pytest.raises(ValueError, match=r"solos_ids.json has category 'Kazoo'.*'instrument' field"):
        dm.setup("fit")
    unlabelled = SolosDataModule(str(root), fields=("keypoints",), split="mi_net")
    unlabelled.setup("fit")  # without the instrument field the category needs no label
    assert len(unlabelled.dataset("train")) > 0


def test_instrument_field_without_labels_names_the_recording(tmp_path):
    audio = tmp_path / "take.wav"
    import soundfile as sf

    sf.write(audio, rf.tone(1.0, 16000), 16000)
    recordings = [Recording("unlabelled/take", 0.0, 1.0, audio=audio)]
    with pytest.raises(ValueError, match="recording unlabelled/take .* has no instrument label"):
        RecordingClips(recordings, ClipOptions(fields=("audio", "instrument")), 1.0, train=False, dataset="Mine")
    clips = RecordingClips(recordings, ClipOptions(fields=("audio",), sample_rate=16000), 1.0, False, "Mine")
    assert clips[0]["audio"].shape == (16000,)


def test_unknown_urmp_split_is_one_clear_error(urmp_root, tmp_path):
    dm = URMPDataModule(str(urmp_root), split=str(tmp_path / "mi-net"))
    with pytest.raises(ValueError, match="neither 'foley', 'pieces', 'mi_net' nor a folder"):
        dm.setup("fit")
