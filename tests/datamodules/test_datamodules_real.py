"""URMP, MUSIC, Solos, AtinPiano and AIST++ DataModules on tiny fixtures in the real on-disk formats, plus bad input."""

from __future__ import annotations

import numpy as np
import pretty_midi
import pytest
import soundfile as sf
import torch

from datamodules.aistpp import AISTPPDataModule
from datamodules.atinpiano import AtinPianoDataModule
from datamodules.instruments import instrument_index
from datamodules.music import MUSICDataModule
from datamodules.solos import SolosDataModule
from datamodules.urmp import URMPDataModule, notes_to_midi
from music.events import EOS, SOS, VELOCITY_OFFSET, decode, describe, time_advance
from tests.helpers import real_formats as rf

ALL = ("keypoints", "audio", "events", "roll", "frames", "instrument")


def first(loader):
    return next(iter(loader))


# ------------------------------------------------------------------------------------------------------------ URMP
@pytest.fixture(scope="module")
def urmp_root(tmp_path_factory):
    return rf.write_urmp(tmp_path_factory.mktemp("urmp") / "Dataset")


def test_urmp_notes_to_midi(urmp_root):
    midi = notes_to_midi(urmp_root / "01_Jupiter_vn_vc" / "Notes_2_vc_01_Jupiter.txt", program=42)
    notes = midi.instruments[0].notes
    assert midi.instruments[0].program == 42
    assert [(n.pitch, round(n.start, 3), round(n.end, 3)) for n in notes] == [(69, 0.5, 0.75), (72, 1.0, 1.4)]


def test_urmp_pieces_split_reads_every_field(urmp_root):
    dm = URMPDataModule(str(urmp_root), fields=ALL, split="pieces", clip_seconds=1.0, sample_rate=16000,
                        frame_size=(32, 24), batch_size=4)  # fmt: skip
    dm.setup()
    train, val = dm.dataset("train"), dm.dataset("val")
    keys = {r.key for r in train.recordings} | {r.key for r in val.recordings}
    assert keys == {"01_Jupiter/1_vn", "01_Jupiter/2_vc", "15_Surprise/1_tpt", "15_Surprise/2_tpt", "15_Surprise/3_tbn"}
    assert {r.meta["piece"] for r in train.recordings}.isdisjoint({r.meta["piece"] for r in val.recordings})
    batch = first(dm.val_dataloader())
    n = len(batch["meta"])
    assert batch["keypoints"].shape == (n, 22, 65, 3) and batch["audio"].shape == (n, 16000)
    assert batch["events"].shape == (n, 512) and batch["events_mask"].dtype == torch.bool
    assert batch["roll"].shape == (n, 88, 22) and batch["frames"].shape == (n, 22, 3, 24, 32)
    assert torch.isfinite(batch["keypoints"]).all()
    # the trombone of piece 15 is found through the 'tpt' file names and labelled from the folder name
    tbn = next(r for r in dm.dataset("train").recordings + dm.dataset("val").recordings if r.key.endswith("3_tbn"))
    assert tbn.audio.name == "AuSep_3_tpt_15_Surprise.wav" and tbn.instrument == instrument_index("trombone")


def test_urmp_csv_split_clip_content(urmp_root, tmp_path):
    split = rf.write_urmp_split(tmp_path / "splits", {
        "vn": {"train": [(1, 1, "Jupiter", 0.0, 2.0)], "val": [(1, 1, "Jupiter", 0.0, 2.0)]},
        "vc": {"train": [(2, 1, "Jupiter", 0.0, 2.0)], "val": [(2, 1, "Jupiter", 0.0, 2.0)]},
    })  # fmt: skip
    dm = URMPDataModule(str(urmp_root), fields=("keypoints", "audio", "events", "roll", "instrument"),
                        split=str(split), clip_seconds=1.0, sample_rate=16000, normalization="none")  # fmt: skip
    dm.setup("validate")
    ds = dm.dataset("val")
    assert len(ds) == 4  # two tracks x two contiguous 1-s clips
    by_key = {(ds[i]["meta"]["key"], ds[i]["meta"]["start"]): i for i in range(len(ds))}
    sample = ds[by_key[("01_Jupiter/1_vn", 0.0)]]  # violin 0..1 s: A4 at 0.5 s for 0.25 s
    assert sample["meta"]["key"] == "01_Jupiter/1_vn" and sample["instrument"].item() == instrument_index("vn")
    ids = sample["events"][sample["events_mask"]].tolist()
    assert ids[0] == SOS and ids[-1] == EOS
    notes = decode(ids).instruments[0].notes
    assert [n.pitch for n in notes] == [69] and abs(notes[0].start - 0.5) < 0.01
    roll = sample["roll"]
    assert roll[69 - 21, 11:16].min() > 0 and roll[69 - 21, :11].max() == 0
    # the Foley npy pose is 22 fps pixels; the right wrist moves x = 300 + 100 t
    assert torch.allclose(sample["keypoints"][:, 4, 0], 300 + 100 * torch.arange(22) / 22.0, atol=1e-3)
    audio = sample["audio"].numpy()
    assert abs(np.argmax(np.abs(np.fft.rfft(audio))) - 220) <= 2  # part 1 plays 220 Hz
    cello = ds[by_key[("01_Jupiter/2_vc", 0.0)]]  # the OpenPose JSON track at 29.97 fps, one empty frame interpolated
    assert cello["meta"]["key"] == "01_Jupiter/2_vc" and cello["keypoints"].shape == (22, 65, 3)
    assert torch.allclose(cello["keypoints"][:, 4, 0], 300 + 100 * torch.arange(22) / 22.0, atol=0.5)


def test_notes_outlasting_the_clip_are_clipped_or_dropped(urmp_root, tmp_path):
    """The violin's A4 sounds 0.5-0.75 s; a 0.6-s clip from 0 holds it clipped at 0.6 s by default and leaves it out
    with ``drop_outlasting`` (Foley Music's released clip reader)."""
    split = rf.write_urmp_split(tmp_path / "splits", {"vn": {"train": [(1, 1, "Jupiter", 0.0, 2.0)],
                                                             "val": [(1, 1, "Jupiter", 0.0, 2.0)]}})  # fmt: skip
    notes = {}
    for drop in (False, True):
        dm = URMPDataModule(str(urmp_root), fields=("events",), split=str(split), clip_seconds=0.6,
                            drop_outlasting=drop)  # fmt: skip
        dm.setup("validate")
        sample = next(s for s in dm.dataset("val") if s["meta"]["start"] == 0.0)
        ids = sample["events"][sample["events_mask"]].numpy()
        clock = np.cumsum(time_advance()[ids])  # the decoder's time after each id
        notes[drop] = [(describe([i])[0], round(float(t), 2)) for i, t in zip(ids, clock) if i < VELOCITY_OFFSET]
    assert notes[False] == [("note_on_69", 0.49), ("note_off_69", 0.6)]  # clipped at the clip's end (7.7-ms shifts)
    assert notes[True] == []


def test_urmp_foley_split_names_missing_track(urmp_root):
    dm = URMPDataModule(str(urmp_root), split="foley", clip_seconds=1.0)
    with pytest.raises(FileNotFoundError, match=r"listed in .*URMP/vn/train.csv is not in"):
        dm.setup("fit")


def test_urmp_missing_keypoints_and_root(urmp_root, tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        URMPDataModule(str(tmp_path / "nowhere")).setup("fit")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no piece folders"):
        URMPDataModule(str(tmp_path / "empty"), split="pieces").setup("fit")
    dm = URMPDataModule(str(urmp_root), split="pieces", keypoints_root=str(tmp_path / "cache"), clip_seconds=1.0)
    with pytest.raises(FileNotFoundError, match="no keypoints for track .*PoseSep_"):
        dm.setup("fit")


def test_urmp_corrupt_video_and_notes(tmp_path):
    root = rf.write_urmp(tmp_path / "Dataset", video=True)
    vid = root / "01_Jupiter_vn_vc" / "Vid_01_Jupiter_vn_vc.mp4"
    vid.write_bytes(vid.read_bytes()[:200])
    dm = URMPDataModule(str(root), fields=("frames",), split="pieces", clip_seconds=1.0, frame_size=(16, 16))
    dm.setup()
    ds = dm.dataset("train") if any("Jupiter" in r.key for r in dm.dataset("train").recordings) else dm.dataset("val")
    index = next(i for i in range(len(ds)) if "Jupiter" in ds.recordings[ds.clip(i).recording].key)
    with pytest.raises(RuntimeError, match="Vid_01_Jupiter_vn_vc.mp4"):
        ds[index]
    (root / "01_Jupiter_vn_vc" / "Notes_1_vn_01_Jupiter.txt").write_text("0.5\t0\t0.2\n")  # only a rest
    with pytest.raises(ValueError, match="Notes_1_vn_01_Jupiter.txt has no notes"):
        notes_to_midi(root / "01_Jupiter_vn_vc" / "Notes_1_vn_01_Jupiter.txt")


# ----------------------------------------------------------------------------------------------------------- MUSIC
@pytest.fixture(scope="module")
def music_root(tmp_path_factory):
    return rf.write_music(tmp_path_factory.mktemp("music") / "data")


@pytest.mark.parametrize("split", ["sop", "ids"])
def test_music_splits_and_fields(music_root, split):
    dm = MUSICDataModule(str(music_root), fields=ALL, split=split, clip_seconds=1.0, sample_rate=11025,
                         frame_size=(16, 12), batch_size=3)  # fmt: skip
    dm.setup()
    train_ids = {r.meta["ytid"] for r in dm.dataset("train").recordings}
    val_ids = {r.meta["ytid"] for r in dm.dataset("val").recordings}
    if split == "ids":
        assert train_ids.isdisjoint(val_ids)
    else:
        assert val_ids == {"cP6q7R8s9T0"} and "_vF6g7H8i9J" in train_ids  # ids may start with '_'
    batch = first(dm.val_dataloader())
    assert batch["frames"].shape[1:] == (22, 3, 12, 16) and batch["audio"].shape[1] == 11025
    # SoP frame i (1-based) covers [(i - 1) / 8, i / 8) s and has grey level 8 i
    grey = (batch["frames"][0, :, 0, 0, 0] * 255).round()
    expected = 8 * (np.floor(np.arange(22) / 22.0 * 8) + 1)
    assert np.abs(grey.numpy() - expected).max() <= 3
    assert batch["instrument"][0].item() == instrument_index("cello")


def test_music_midi_suffixes_and_foley_style_split(music_root, tmp_path):
    folder = tmp_path / "splits" / "violin"
    folder.mkdir(parents=True)
    for name in ("train", "val"):
        (folder / f"{name}.csv").write_text("vid,start_time,duration\nvA1b2C3d4E5,0.0,2.0\n_vF6g7H8i9J,1.0,2.0\n")
    dm = MUSICDataModule(
        str(music_root), fields=("events", "keypoints"), split=str(tmp_path / "splits"), clip_seconds=1.0
    )
    dm.setup("validate")
    recs = dm.dataset("val").recordings
    assert [r.midi.path.suffix for r in recs] == [".midi", ".mid"] and recs[1].start == 1.0
    with pytest.raises(FileNotFoundError, match="audio of video accordion/.* not found"):
        MUSICDataModule(str(music_root), split="foley").setup("fit")


# ----------------------------------------------------------------------------------------------------------- Solos
def test_solos_memmap_segments_and_layouts(tmp_path):
    root = rf.write_solos(tmp_path / "solos")
    dm = SolosDataModule(str(root), clip_seconds=1.0, batch_size=2)
    dm.setup()
    keys = [r.meta["ytid"] for s in ("train", "val", "test") for r in dm.dataset(s).recordings]
    assert sorted(keys) == sorted(["_W2VM3uinZA", "vIoLiN00001", "cElLo000001"])
    batch = first(dm.val_dataloader())
    assert batch["keypoints"].shape[1:] == (25, 47, 3) and batch["audio"].shape[1] == 16000
    dm65 = SolosDataModule(str(root), keypoint_layout="body65", normalization="none", clip_seconds=1.0)
    dm65.setup("validate")
    sample = dm65.dataset("val")[0]
    k = ["_W2VM3uinZA", "vIoLiN00001", "cElLo000001"].index(sample["meta"]["ytid"])
    # Solos RWrist (3) -> body65 RWrist (4); right-hand point 1 hangs 1 px right/down of it
    assert torch.allclose(sample["keypoints"][:, 4, 0], 300 + 100 * torch.arange(25) / 25.0 + 10 * k, atol=1e-3)
    assert torch.allclose(sample["keypoints"][:, 45, 0] - sample["keypoints"][:, 4, 0], torch.ones(25))
    assert sample["keypoints"][:, 0, 2].max() == 0  # no nose in Solos


def test_solos_bad_skeleton(tmp_path):
    root = rf.write_solos(tmp_path / "solos")
    data = np.fromfile(root / "skeleton.npy", dtype=np.float32)
    np.save(root / "skeleton.npy", data)  # now WITH a .npy header: not the released format
    with pytest.raises(ValueError, match="skeleton.npy has .* bytes"):
        SolosDataModule(str(root), clip_seconds=1.0).setup("fit")


# ------------------------------------------------------------------------------------------------------- AtinPiano
def test_atinpiano_foley_form(tmp_path):
    root = rf.write_atinpiano(tmp_path / "AtinPiano")
    dm = AtinPianoDataModule(str(root), fields=("keypoints", "events", "roll", "instrument"), clip_seconds=1.0)
    dm.setup()
    assert [r.key for r in dm.dataset("train").recordings] == ["pIaNo000001", "_iAnO000002"]
    assert dm.dataset("train").recordings[1].midi.path.suffix == ".mid"
    sample = dm.dataset("test")[1]  # val doubles as test; clip 1..2 s holds G4 at 1.5 s
    assert sample["keypoints"].shape == (22, 42, 3) and sample["keypoints"][..., 2].min() == 1.0
    notes = decode(sample["events"][sample["events_mask"]]).instruments[0].notes
    assert [n.pitch for n in notes] == [67] and abs(notes[0].start - 0.5) < 0.01
    assert sample["instrument"].item() == instrument_index("piano")


def test_atinpiano_empty_midi_and_missing_folder(tmp_path):
    root = rf.write_atinpiano(tmp_path / "AtinPiano")
    empty = pretty_midi.PrettyMIDI()
    empty.instruments.append(pretty_midi.Instrument(0))
    empty.write(str(root / "midi" / "PiAnO000003.midi"))
    dm = AtinPianoDataModule(str(root), clip_seconds=1.0)
    dm.setup("validate")
    with pytest.raises(ValueError, match="PiAnO000003.midi has no notes"):
        dm.dataset("val")[0]
    (root / "pose" / "pIaNo000001.npy").unlink()
    with pytest.raises(FileNotFoundError, match="pIaNo000001.npy"):
        AtinPianoDataModule(str(root), clip_seconds=1.0).setup("fit")


# ---------------------------------------------------------------------------------------------------------- AIST++
def test_aistpp_keypoints_nan_music_beats(tmp_path):
    root = rf.write_aistpp(tmp_path / "aist", seconds=4.0)
    clicks = np.zeros(5 * 22050, np.float32)
    for t in np.arange(0, 5, 0.5):  # 120 bpm click track
        clicks[int(t * 22050) : int(t * 22050) + 200] = 0.8
    for path in (root / "music").glob("*.wav"):
        sf.write(path, clicks, 22050)
    dm = AISTPPDataModule(str(root), keypoint_layout="rhythmic17", fps=30.0, clip_seconds=2.0)
    dm.setup()
    assert [r.key for r in dm.dataset("train").recordings] == rf.AIST_SEQS["train"]  # ignore_list honoured
    sample = dm.dataset("val")[0]
    assert sample["keypoints"].shape == (60, 17, 3) and torch.isfinite(sample["keypoints"]).all()
    assert sample["keypoints"][:, 1, 2].min() > 0  # neck derived from the shoulders, the NaN frame interpolated
    assert sample["keypoints"][:, 15, 2].max() == 0  # toes: not in COCO
    beats = torch.nonzero(sample["beats"]).flatten().tolist()
    assert len(beats) >= 3 and all(abs(b - 15 * round(b / 15)) <= 1 for b in beats)  # every 0.5 s = 15 frames
    assert sample["meta"]["genre"] == "BR" and sample["meta"]["music"] == "mBR0"
    with pytest.raises(ValueError, match="no 'events'"):
        AISTPPDataModule(str(root), fields=("keypoints", "events"))
    (root / "music" / "mBR0.wav").unlink()
    with pytest.raises(FileNotFoundError, match="music mBR0"):
        AISTPPDataModule(str(root)).setup("validate")


# ------------------------------------------------------------------------------------------------------- synthetic
def test_root_none_uses_the_synthetic_dataset(tmp_path, monkeypatch):
    from datamodules.synthetic import code_fingerprint

    monkeypatch.setenv("V2M_CACHE", str(tmp_path / "cache"))
    dm = AtinPianoDataModule(None, fields=("keypoints", "events", "roll"), synthetic_minutes=0.1, clip_seconds=2.0)
    dm.prepare_data()
    dm.setup()
    folder = f"atinpiano-m0.1-s0-{code_fingerprint()}"  # the generating code's hash: no stale data after a change
    assert dm.is_synthetic and (tmp_path / "cache" / folder / "SYNTHETIC.json").is_file()
    batch = first(dm.train_dataloader())
    assert batch["keypoints"].shape[1:] == (44, 42, 3) and all(m["synthetic"] for m in batch["meta"])
    assert batch["events_mask"].sum() > 2 * len(batch["meta"])  # real notes, not just SOS/EOS
    again = AtinPianoDataModule(None, synthetic_minutes=0.1)
    assert again.resolve_root() == tmp_path / "cache" / folder  # cached, not rewritten


@pytest.mark.slow
@pytest.mark.parametrize(
    "cls, fields",
    [
        (URMPDataModule, ("keypoints", "audio", "events", "roll", "frames", "instrument")),
        (MUSICDataModule, ("keypoints", "audio", "events", "roll", "frames", "instrument")),
        (SolosDataModule, ("keypoints", "audio", "events", "instrument")),
        (AISTPPDataModule, ("keypoints", "audio", "beats", "frames")),
    ],
)
def test_synthetic_datasets_load_through_every_split(cls, fields, tmp_path, monkeypatch):
    monkeypatch.setenv("V2M_CACHE", str(tmp_path / "cache"))
    dm = cls(None, fields=fields, synthetic_minutes=0.2, clip_seconds=2.0, frame_size=(32, 32), batch_size=2)
    dm.prepare_data()
    dm.setup()
    for loader in (dm.train_dataloader(), dm.val_dataloader(), dm.test_dataloader()):
        batch = first(loader)
        assert set(fields) <= set(batch) and torch.isfinite(batch["keypoints"]).all()
        assert all(m["synthetic"] for m in batch["meta"])
