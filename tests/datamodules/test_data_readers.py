"""Shared readers: layouts and conversions, keypoint files and clean-up, video, audio, MIDI, clip sampling."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pretty_midi
import pytest
import soundfile as sf
import torch

from datamodules import keypoints as kp
from datamodules.audio import audio_info, load_audio
from datamodules.clips import ClipDataset, collate, contiguous_clips, group_split
from datamodules.layouts import LAYOUTS, convert, get_layout
from datamodules.midi import load_midi, midi_window
from datamodules.video import FrameFolder, VideoFile, frame_indices
from tests.helpers.real_formats import (
    foley_body65,
    skeleton_body25,
    tone,
    write_midi,
    write_openpose_folder,
    write_video_file,
)

NTSC = 30000 / 1001


# ------------------------------------------------------------------------------------------------------ layouts
def test_body65_matches_foley_graph():
    body65 = LAYOUTS["body65"]
    assert body65.num_joints == 65 and len(body65.edges) == 24 + 20 + 20
    edges = set(body65.edges)
    # fingers of the left hand hang from LWrist (7) at 25.., the right hand from RWrist (4) at 45..
    assert {(7, 25), (7, 29), (7, 33), (7, 37), (7, 41), (25, 26), (4, 45), (4, 49), (63, 64)} <= edges
    assert body65.joints[25] == "LHand1" and body65.joints[45] == "RHand1" and body65.joints[7] == "LWrist"
    hands = LAYOUTS["hands42"]
    assert hands.num_joints == 42 and len(hands.edges) == 40 and (21, 22) in hands.edges and (0, 21) not in hands.edges
    assert np.allclose(hands.adjacency(), hands.adjacency().T)


def test_solos_and_rhythmic_layouts():
    solos = LAYOUTS["solos47"]
    assert solos.joints[:7] == ("Neck", "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist")
    assert solos.joints[7] == "RHand1" and solos.joints[27] == "LHand1"
    assert (3, 7) in solos.edges and (6, 27) in solos.edges
    rhythmic = LAYOUTS["rhythmic17"]
    assert rhythmic.joints[15:] == ("LBigToe", "RBigToe") and (14, 15) in rhythmic.edges
    with pytest.raises(KeyError, match="unknown keypoint layout"):
        get_layout("body18")


def test_convert_mediapipe_to_body25_derives_neck_and_midhip():
    rng = np.random.default_rng(0)
    x = rng.random((4, 33, 3)).astype(np.float32)
    y = convert(x, "mediapipe33", "body25")
    mp = LAYOUTS["mediapipe33"]
    ls, rs, lh, rh = (mp.index(n) for n in ("LShoulder", "RShoulder", "LHip", "RHip"))
    assert np.allclose(y[:, 1, :2], (x[:, ls, :2] + x[:, rs, :2]) / 2)
    assert np.allclose(y[:, 1, 2], np.minimum(x[:, ls, 2], x[:, rs, 2]))
    assert np.allclose(y[:, 8, :2], (x[:, lh, :2] + x[:, rh, :2]) / 2)
    assert np.allclose(y[:, 4], x[:, mp.index("RWrist")])  # same joint copied
    assert np.all(y[:, 20, 2] == 0)  # LSmallToe: no MediaPipe point, marked not observed


def test_convert_between_hand_layouts_and_back():
    rng = np.random.default_rng(1)
    x = rng.random((3, 47, 3)).astype(np.float32)
    y = convert(x, "solos47", "body65")
    assert np.allclose(y[:, 25], x[:, 27]) and np.allclose(y[:, 45], x[:, 7])  # LHand1 / RHand1
    assert np.allclose(y[:, 4], x[:, 3])  # RWrist
    assert np.all(y[:, 0] == 0)  # Nose: Solos has none
    op = convert(y, "body65", "openpose67")
    assert np.allclose(op[:, 25], y[:, 7])  # hand wrist LHand0 <- body LWrist
    assert np.allclose(convert(op, "openpose67", "body65"), y)
    upper = convert(x, "solos47", "upper47")
    assert upper.shape == (3, 47, 3) and np.allclose(upper[:, 5], x[:, 3]) and np.allclose(upper[:, 26], x[:, 6])
    assert np.allclose(upper[:, 6], x[:, 7]) and np.allclose(upper[:, 27], x[:, 27])  # RHand1 / LHand1
    assert (2, 5) in LAYOUTS["upper47"].edges and (5, 6) in LAYOUTS["upper47"].edges  # elbow -> wrist -> thumb
    coco = rng.random((2, 17, 3)).astype(np.float32)
    r17 = convert(coco, "coco17", "rhythmic17")
    assert np.allclose(r17[:, 15, :2], coco[:, 15, :2]) and np.all(r17[:, 15, 2] == 0)  # LBigToe from LAnkle
    with pytest.raises(ValueError, match="share no joint"):
        convert(np.zeros((2, 21, 3)), "hand21", "body25")
    with pytest.raises(ValueError, match="expected keypoints"):
        convert(np.zeros((2, 20, 3)), "hand21", "body25")


# ---------------------------------------------------------------------------------------------------- keypoints
def test_openpose_folder_reader(tmp_path):
    folder = write_openpose_folder(tmp_path / "op", 8, 25.0, name="clip", empty=(2,))
    (folder / "clip_000000000005_keypoints.json").unlink()  # OpenPose skipped a frame
    seq, numbers = kp.read_openpose_folder(folder)
    assert seq.shape == (8, 67, 3) and numbers.tolist() == list(range(8))
    body = skeleton_body25(8, 25.0)
    assert np.allclose(seq[0, :25], body[0]) and np.allclose(seq[7, 4, 0], body[7, 4, 0])
    assert np.all(seq[2] == 0) and np.all(seq[5] == 0)  # nobody / missing file -> all missing
    assert np.allclose(seq[1, 46, :2], body[1, 4, :2])  # right-hand wrist block starts at 46
    filled = kp.interpolate_missing(seq, "openpose67")
    assert np.allclose(filled[5, 4, 0], (body[4, 4, 0] + body[6, 4, 0]) / 2, atol=1e-4)


def test_openpose_bad_files(tmp_path):
    folder = write_openpose_folder(tmp_path / "op", 3, 25.0)
    bad = folder / "clip_000000000001_keypoints.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="clip_000000000001_keypoints.json"):
        kp.read_openpose_folder(folder)
    bad.write_text(json.dumps({"people": [{"pose_keypoints_2d": [1.0] * 54}]}))  # COCO-18 model
    with pytest.raises(ValueError, match="54 values, expected 75"):
        kp.read_openpose_folder(folder)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="empty"):
        kp.read_openpose_folder(tmp_path / "empty")


def test_interpolation_relative_to_parent_keeps_hand_on_wrist():
    t = 11
    seq = np.zeros((t, 25, 3), np.float32)
    seq[..., 2] = 1.0
    seq[:, 4, 0] = np.linspace(0, 100, t) ** 1.5 / 10  # wrist moves non-linearly
    seq[:, 3, 0] = seq[:, 4, 0] - 5  # elbow follows
    truth = seq.copy()
    seq[3:8, 4] = 0.0  # wrist lost for 5 frames
    seq[6, 4, :2] = np.nan
    out = kp.interpolate_missing(seq, "body25")
    # relative to the elbow (its parent), the offset (+5) is constant, so the wrist comes back exactly
    assert np.allclose(out[:, 4, 0], truth[:, 4, 0], atol=1e-4)
    assert np.all(out[:, 4, 2] == 1)  # confidence interpolated from the detections around the gap
    absolute = kp.interpolate_missing(seq)  # without a layout: linear in time
    assert np.allclose(absolute[5, 4, 0], truth[2, 4, 0] + (truth[8, 4, 0] - truth[2, 4, 0]) * 3 / 6, atol=1e-4)


def test_nan_clean_resample_and_normalize():
    x = np.zeros((60, 2, 3), np.float32)
    x[:, :, 0] = np.arange(60)[:, None] / 60.0  # x = time in seconds at 60 fps
    x[:, :, 2] = 1.0
    x[10, 1] = np.nan
    cleaned = kp.clean(x)
    assert np.all(cleaned[10, 1] == 0) and np.isfinite(cleaned).all()
    out = kp.resample(x, 60.0, 22.0, start=0.1, num_frames=11)
    assert np.allclose(out[:, 0, 0], 0.1 + np.arange(11) / 22.0, atol=1e-5)
    out = kp.resample(x, 60.0, 22.0)
    assert out.shape == (22, 2, 3) and np.allclose(out[:, 0, 0], np.arange(22) / 22.0, atol=1e-5)
    assert out[4, 1, 2] == 0.0 and out[3, 1, 2] == 1.0  # frame 4 (source 10.9) touches the NaN frame 10
    norm = kp.normalize(x, "bbox")
    valid = norm[..., 2] > 0
    assert norm[..., 0][valid].min() >= -0.5 - 1e-6 and norm[..., 0][valid].max() <= 0.5 + 1e-6
    with pytest.raises(ValueError, match="image_size"):
        kp.normalize(x, "image")


def test_foley_npy_reader(tmp_path):
    np.save(tmp_path / "body.npy", foley_body65(30))
    seq, layout = kp.read_foley_pose(tmp_path / "body.npy", 25, 10)
    assert layout == "body65" and seq.shape == (10, 65, 3)
    assert np.all(seq[5:] == 0)  # past the end: missing
    hands = np.zeros((5, 2, 42, 1), np.float32)
    hands[:, :, :, 0] = 7.0
    hands[2, :, 3, 0] = 0.0  # undetected point
    np.save(tmp_path / "hands.npy", hands)
    seq, layout = kp.read_foley_pose(tmp_path / "hands.npy")
    assert layout == "hands42" and seq[0, 0, 2] == 1.0 and seq[2, 3, 2] == 0.0
    np.save(tmp_path / "bad.npy", np.zeros((5, 3, 18, 1), np.float32))
    with pytest.raises(ValueError, match="bad.npy"):
        kp.read_foley_pose(tmp_path / "bad.npy")


def test_solos_raw_memmap(tmp_path):
    n = 12
    data = np.arange(n * 3 * 47, dtype=np.float32).reshape(n, 3, 47)
    mm = np.memmap(tmp_path / "skeleton.npy", dtype=np.float32, mode="w+", shape=(n, 3, 47))
    mm[:] = data
    mm.flush()
    del mm
    (tmp_path / "skeleton_dict.json").write_text(json.dumps({"_W2VM3uinZA": [0, 5], "abc": [5, 12], "_counter": n}))
    sk = kp.SolosSkeletons(tmp_path / "skeleton.npy", tmp_path / "skeleton_dict.json")
    assert sk.ids() == ["_W2VM3uinZA", "abc"]  # the id starting with '_' is kept
    seq = sk.read("abc", 1, 3)
    assert (
        seq.shape == (3, 47, 3) and np.allclose(seq[0, :, 0], data[6, 0]) and np.allclose(seq[0, 5, 1], data[6, 1, 5])
    )
    np.save(tmp_path / "with_header.npy", data)
    with pytest.raises(ValueError, match="header"):
        kp.SolosSkeletons(tmp_path / "with_header.npy", tmp_path / "skeleton_dict.json")
    (tmp_path / "nocount.json").write_text(json.dumps({"abc": [0, 5]}))
    with pytest.raises(ValueError, match="_counter"):
        kp.SolosSkeletons(tmp_path / "skeleton.npy", tmp_path / "nocount.json")


def test_aistpp_pickle_nan(tmp_path):
    arr = np.ones((9, 4, 17, 3), np.float32)
    arr[0, 2] = np.nan
    with open(tmp_path / "s.pkl", "wb") as handle:
        pickle.dump({"keypoints2d": arr, "det_scores": np.ones((9, 4)), "timestamps": np.arange(4)}, handle)
    seq, scores = kp.read_aistpp_keypoints2d(tmp_path / "s.pkl", view=0)
    assert seq.shape == (4, 17, 3) and np.all(seq[2] == 0) and np.isfinite(seq).all() and scores.shape == (4,)
    (tmp_path / "bad.pkl").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="bad.pkl"):
        kp.read_aistpp_keypoints2d(tmp_path / "bad.pkl")


# -------------------------------------------------------------------------------------------------------- video
def test_video_clip_exact_frames_both_backends(tmp_path):
    path = write_video_file(tmp_path / "v.mp4", 2.0)  # frame k has red = 4k
    expected = frame_indices(0.5, 10, 22.0, NTSC)
    assert expected.tolist() == [int(np.floor((0.5 + k / 22) * NTSC + 1e-6)) for k in range(10)]
    for backend in ("decord", "pyav"):
        video = VideoFile(path, backend=backend)
        assert abs(video.fps - NTSC) < 1e-6 and video.num_frames == 60 and video.size == (64, 48)
        clip = video.read_clip(0.5, 10, fps=22.0)
        assert clip.shape == (10, 48, 64, 3)
        assert np.abs(clip[:, 10, 10, 0].astype(int) - 4 * expected).max() <= 3, backend
    small = VideoFile(path).read_clip(0.0, 3, gray=True, crop=(8, 8, 40, 24), size=(16, 8))
    assert small.shape == (3, 8, 16)
    with pytest.raises(ValueError, match="v.mp4"):
        VideoFile(path).read_clip(1.9, 10)
    assert VideoFile(path).read_clip(1.9, 10, pad=True).shape[0] == 10


def test_variable_frame_rate_video_is_read_by_timestamps(tmp_path):
    from fractions import Fraction

    import av

    times = [0.0, 0.1, 0.15, 0.4, 0.5, 0.55, 0.9, 1.0]  # irregular presentation times
    with av.open(str(tmp_path / "vfr.mp4"), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        for k, t in enumerate(times):
            frame = av.VideoFrame.from_ndarray(np.full((32, 32, 3), 20 * (k + 1), np.uint8), format="rgb24")
            frame.pts, frame.time_base = int(t * 1000), Fraction(1, 1000)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    video = VideoFile(tmp_path / "vfr.mp4", backend="decord")
    assert np.allclose(video.frame_times(), times, atol=1e-3)
    clip = video.read_clip(0.0, 10, fps=10.0)  # the frame on screen at 0.0, 0.1, ..., 0.9 s
    assert (clip[:, 5, 5, 0] / 20).round().astype(int).tolist() == [1, 2, 3, 3, 4, 5, 6, 6, 6, 7]


def test_corrupt_and_truncated_video(tmp_path):
    path = write_video_file(tmp_path / "v.mp4", 1.0)
    (tmp_path / "trunc.mp4").write_bytes(path.read_bytes()[: len(path.read_bytes()) // 3])
    (tmp_path / "junk.mp4").write_bytes(b"\x00junk" * 200)
    for name in ("trunc.mp4", "junk.mp4"):
        with pytest.raises(RuntimeError, match=name):
            VideoFile(tmp_path / name).read_clip(0, 5)
    with pytest.raises(FileNotFoundError, match="nope.mp4"):
        VideoFile(tmp_path / "nope.mp4")


def test_frame_folder(tmp_path):
    import cv2

    for i in (1, 2, 3, 4):
        cv2.imwrite(str(tmp_path / f"{i:06d}.jpg"), np.full((6, 8, 3), 40 * i, np.uint8))
    folder = FrameFolder(tmp_path, fps=8.0)
    clip = folder.read_clip(0.0, 4, fps=16.0)
    assert clip.shape == (4, 6, 8, 3) and [int(round(v / 40)) for v in clip[:, 0, 0, 0]] == [1, 1, 2, 2]
    (tmp_path / "000003.jpg").unlink()
    with pytest.raises(ValueError, match="not consecutive"):
        FrameFolder(tmp_path, fps=8.0)


# -------------------------------------------------------------------------------------------------- audio, MIDI
def test_audio_24bit_resampled(tmp_path):
    sf.write(tmp_path / "a.wav", tone(1.0, 48000, 440.0), 48000, subtype="PCM_24")
    assert audio_info(tmp_path / "a.wav") == (48000, 1.0)
    clip = load_audio(tmp_path / "a.wav", 16000, start=0.25, duration=0.5)
    assert clip.shape == (8000,) and clip.dtype == np.float32
    spectrum = np.abs(np.fft.rfft(clip))
    assert abs(np.argmax(spectrum) * 16000 / len(clip) - 440) < 3
    tail = load_audio(tmp_path / "a.wav", 16000, start=0.9, duration=0.5)
    assert tail.shape == (8000,) and np.all(tail[2000:] == 0)
    with pytest.raises(ValueError, match="a.wav"):
        load_audio(tmp_path / "a.wav", 16000, start=2.0, duration=0.5)
    bad = np.zeros(100, np.float32)
    bad[5] = np.nan
    sf.write(tmp_path / "nan.wav", bad, 16000, subtype="FLOAT")
    with pytest.raises(ValueError, match="nan.wav"):
        load_audio(tmp_path / "nan.wav")
    (tmp_path / "broken.wav").write_bytes(b"RIFF....WAVEfmt garbage")
    with pytest.raises(RuntimeError, match="broken.wav"):
        load_audio(tmp_path / "broken.wav")


def test_midi_loading_errors_and_window(tmp_path):
    path = write_midi(tmp_path / "m.mid", [(60, 0.5, 1.5), (64, 2.0, 2.5), (67, 3.0, 3.2)])
    window = midi_window(load_midi(path), 1.0, 2.0)
    assert [(n.pitch, round(n.start, 3), round(n.end, 3)) for n in window.instruments[0].notes] == [(64, 1.0, 1.5)]
    held = midi_window(load_midi(path), 1.0, 2.0, keep_sustained=True)
    assert [(n.pitch, round(n.start, 3)) for n in held.instruments[0].notes] == [(60, 0.0), (64, 1.0)]
    empty = pretty_midi.PrettyMIDI()
    empty.instruments.append(pretty_midi.Instrument(0))
    empty.write(str(tmp_path / "empty.mid"))
    with pytest.raises(ValueError, match="empty.mid has no notes"):
        load_midi(tmp_path / "empty.mid")
    (tmp_path / "corrupt.mid").write_bytes(b"MThd\x00\x00\x00\x06garbage")
    with pytest.raises(ValueError, match="corrupt.mid"):
        load_midi(tmp_path / "corrupt.mid")
    with pytest.raises(FileNotFoundError, match="missing.mid"):
        load_midi(tmp_path / "missing.mid")


# -------------------------------------------------------------------------------------------------------- clips
def test_contiguous_and_random_clips():
    clips = contiguous_clips([(0.0, 10.0), (2.0, 3.0), (0.0, 6.5)], 3.0, grid=22.0)
    assert [(c.recording, round(c.start, 4)) for c in clips] == [
        (0, 0.0),
        (0, 3.0),
        (0, 6.0),
        (1, 2.0),
        (2, 0.0),
        (2, 3.0),
    ]
    spans = [(1.0, 4.0), (0.0, 30.0)]
    ds = ClipDataset(spans, load=lambda r, s, d: {"r": r, "s": s}, clip_seconds=2.0, train=True, grid=25.0)
    assert len(ds) == 1 + 15
    first = [ds[i] for i in range(len(ds))]
    torch.manual_seed(123)  # the global generator plays no part: clips depend on (seed, epoch, index) only
    again = [ds[i] for i in range(len(ds))]
    assert first == again
    ds.set_epoch(1)
    assert [ds[i] for i in range(len(ds))] != first, "a new epoch draws new clips"
    for item in first:
        a, b = spans[item["r"]]
        assert a <= item["s"] <= b - 2.0 + 1e-9 and abs(item["s"] * 25 - round(item["s"] * 25)) < 1e-6
    assert sum(item["r"] == 1 for item in first) == 15  # long recordings are sampled more
    val = ClipDataset(spans, load=lambda r, s, d: {"s": s}, clip_seconds=2.0, train=False)
    assert [val[i]["s"] for i in range(len(val))][:2] == [1.0, 0.0]


def test_collate_pads_tokens_and_group_split():
    batch = collate(
        [
            {"events": torch.tensor([1, 2, 3]), "x": torch.zeros(2), "meta": {"a": 1}},
            {"events": torch.tensor([4]), "x": torch.ones(2), "meta": {"a": 2}},
        ]
    )
    assert batch["events"].tolist() == [[1, 2, 3], [4, 242, 242]]
    assert batch["events_mask"].tolist() == [[True, True, True], [True, False, False]]
    assert batch["x"].shape == (2, 2) and batch["meta"] == [{"a": 1}, {"a": 2}]
    groups = [f"g{i}" for i in range(20)]
    parts = [group_split(groups, s) for s in ("train", "val", "test")]
    assert set().union(*parts) == set(groups) and sum(map(len, parts)) == 20 and len(parts[1]) == 2
    assert group_split(groups, "val") == parts[1]  # deterministic
