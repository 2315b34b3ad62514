"""Tiny fixtures in the exact on-disk formats of the real datasets (docs/DATASETS.md §10), written by the tests.

Every writer makes a few seconds of data with known content (a 440 Hz tone, notes at known times, a skeleton whose
wrist moves on a known path), so tests can check what comes out of the DataModules, not just shapes.
"""

from __future__ import annotations

import csv
import json
import pickle
from pathlib import Path

import numpy as np
import pretty_midi
import soundfile as sf

from datamodules.video import write_video

SR_URMP = 48000


def tone(seconds: float, sample_rate: int, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(round(seconds * sample_rate))) / sample_rate
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def write_midi(path: Path, notes: list[tuple[int, float, float]], program: int = 0) -> Path:
    midi = pretty_midi.PrettyMIDI()
    inst = pretty_midi.Instrument(program=program)
    inst.notes = [pretty_midi.Note(90, p, s, e) for p, s, e in notes]
    midi.instruments.append(inst)
    midi.write(str(path))
    return path


def skeleton_body25(frames: int, fps: float, width: float = 640, height: float = 480) -> np.ndarray:
    """[T, 25, 3] pixel BODY_25 skeleton standing in the frame; the right wrist (4) moves x = 300 + 100 t."""
    base = np.zeros((25, 3), np.float32)
    base[:, 0] = width / 2
    base[:, 1] = np.linspace(100, 440, 25)
    base[:, 2] = 0.9
    base[1] = (320, 150, 0.9)  # neck
    base[8] = (320, 300, 0.9)  # mid hip
    kp = np.repeat(base[None], frames, axis=0)
    t = np.arange(frames) / fps
    kp[:, 4, 0] = 300 + 100 * t
    kp[:, 4, 1] = 250
    return kp


def write_openpose_folder(
    folder: Path, frames: int, fps: float, name: str = "clip", empty: tuple[int, ...] = ()
) -> Path:
    """OpenPose 1.3 JSON per frame (BODY_25 + both hands, 75/63/63 floats), frames in ``empty`` with no people."""
    folder.mkdir(parents=True, exist_ok=True)
    body = skeleton_body25(frames, fps)
    for k in range(frames):
        people = []
        if k not in empty:
            hand_l = np.tile(body[k, 7], (21, 1)) + np.arange(21)[:, None] * np.array([1.0, 1.0, 0.0])
            hand_r = np.tile(body[k, 4], (21, 1)) + np.arange(21)[:, None] * np.array([1.0, -1.0, 0.0])
            people.append(
                {
                    "person_id": [-1],
                    "pose_keypoints_2d": body[k].reshape(-1).tolist(),
                    "face_keypoints_2d": [],
                    "hand_left_keypoints_2d": hand_l.reshape(-1).tolist(),
                    "hand_right_keypoints_2d": hand_r.reshape(-1).tolist(),
                    "pose_keypoints_3d": [],
                    "face_keypoints_3d": [],
                    "hand_left_keypoints_3d": [],
                    "hand_right_keypoints_3d": [],
                }
            )
        (folder / f"{name}_{k:012d}_keypoints.json").write_text(json.dumps({"version": 1.3, "people": people}))
    return folder


def foley_body65(frames: int, fps: float = 22.0) -> np.ndarray:
    """Foley Music pose ``[T, 3, 65, 1]`` float32 (x, y, c) built from :func:`skeleton_body25` (hands on wrists)."""
    body = skeleton_body25(frames, fps)
    hands_l = np.repeat(body[:, 7:8], 20, axis=1)
    hands_r = np.repeat(body[:, 4:5], 20, axis=1)
    kp = np.concatenate([body, hands_l, hands_r], axis=1)  # [T, 65, 3]
    return np.ascontiguousarray(kp.transpose(0, 2, 1)[..., None]).astype(np.float32)


def write_video_file(path: Path, seconds: float, fps: float = 30000 / 1001, size: tuple[int, int] = (64, 48)) -> Path:
    frames = int(round(seconds * fps))
    video = np.zeros((frames, size[1], size[0], 3), np.uint8)
    for k in range(frames):
        video[k, :, :, 0] = (k * 4) % 256  # frame number readable from the red channel
    return write_video(path, video, fps)


# --------------------------------------------------------------------------------------------------------- URMP
def write_urmp(root: Path, seconds: float = 2.0, video: bool = True) -> Path:
    """01_Jupiter_vn_vc and 15_Surprise_tpt_tpt_tbn (part 3's files say ``tpt``), Supplementary_Files, keypoints as
    Foley npy (pose/<inst>/PoseSep_*.npy and beside the files) and one OpenPose JSON folder."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "Supplementary_Files").mkdir(exist_ok=True)
    (root / "Supplementary_Files" / "readme.txt").write_text("not a piece")
    pieces = {"01_Jupiter_vn_vc": ["vn", "vc"], "15_Surprise_tpt_tpt_tbn": ["tpt", "tpt", "tbn"]}
    for folder_name, insts in pieces.items():
        folder = root / folder_name
        folder.mkdir(exist_ok=True)
        number, piece = folder_name.split("_")[:2]
        sf.write(folder / f"AuMix_{folder_name}.wav", tone(seconds, SR_URMP), SR_URMP, subtype="PCM_24")
        score = pretty_midi.PrettyMIDI()
        for k, inst in enumerate(insts, start=1):
            file_inst = "tpt" if (number == "15" and k == 3) else inst  # the real typo
            stem = f"{k}_{file_inst}_{number}_{piece}"
            sf.write(folder / f"AuSep_{stem}.wav", tone(seconds, SR_URMP, 220.0 * k), SR_URMP, subtype="PCM_24")
            with open(folder / f"Notes_{stem}.txt", "w") as handle:
                handle.write("0.500\t440.00\t0.250\n")  # A4
                handle.write(f"1.000\t{261.63 * k:.2f}\t0.400\n")
                handle.write("1.500\t0.00\t0.100\n")  # pitch 0: a rest
            with open(folder / f"F0s_{stem}.txt", "w") as handle:
                handle.write("0.023\t440.0\n0.033\t0\n")
            score.instruments.append(pretty_midi.Instrument(program=40))
            score.instruments[-1].notes.append(pretty_midi.Note(80, 69, 0.5, 0.75))
        score.write(str(folder / f"Sco_{folder_name}.mid"))
        if video:
            write_video_file(folder / f"Vid_{folder_name}.mp4", seconds)
    # keypoints: Foley form for Jupiter vn, npy beside the files for Surprise, OpenPose JSON for Jupiter vc
    frames22 = int(seconds * 22)
    (root / "pose" / "vn").mkdir(parents=True, exist_ok=True)
    np.save(root / "pose" / "vn" / "PoseSep_1_vn_01_Jupiter.npy", foley_body65(frames22))
    for k, inst in enumerate(pieces["15_Surprise_tpt_tpt_tbn"], start=1):
        np.save(root / "15_Surprise_tpt_tpt_tbn" / f"PoseSep_{k}_{inst}_15_Surprise.npy", foley_body65(frames22))
    write_openpose_folder(
        root / "01_Jupiter_vn_vc" / "PoseSep_2_vc_01_Jupiter", int(seconds * 30000 / 1001), 30000 / 1001, "Vid", (5,)
    )
    return root


def write_urmp_split(folder: Path, rows: dict[str, dict[str, list[tuple[int, int, str, float, float]]]]) -> Path:
    """Foley-format split CSVs: rows[inst][split] = [(track_index, vid, piece, start, duration), ...]."""
    for inst, splits in rows.items():
        (folder / inst).mkdir(parents=True, exist_ok=True)
        for split, items in splits.items():
            with open(folder / inst / f"{split}.csv", "w", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow(["track_index", "instrument", "vid", "piece", "start_time", "duration"])
                for k, vid, piece, start, duration in items:
                    writer.writerow([k, inst, vid, piece, start, duration])
    return folder


# -------------------------------------------------------------------------------------------------------- MUSIC
def write_music(root: Path, seconds: float = 3.0) -> Path:
    """MUSIC JSONs (2 categories x 2 ids), Sound-of-Pixels audio/frames, Foley pose/midi_sw, CSVs without header."""
    ids = {"violin": ["vA1b2C3d4E5", "_vF6g7H8i9J"], "cello": ["cK1l2M3n4O5", "cP6q7R8s9T0"]}
    root.mkdir(parents=True, exist_ok=True)
    (root / "MUSIC21_solo_videos.json").write_text(json.dumps({"version": 2.0, "videos": ids}))
    (root / "MUSIC_solo_videos.json").write_text(json.dumps({"version": 1.0, "videos": ids}))
    (root / "MUSIC_duet_videos.json").write_text(json.dumps({"version": 1.0, "videos": {"cello violin": []}}))
    rows = []
    for cat, vids in ids.items():
        for k, vid in enumerate(vids):
            (root / "audio" / cat).mkdir(parents=True, exist_ok=True)
            sf.write(root / "audio" / cat / f"{vid}.wav", tone(seconds, 44100, 330.0), 44100)
            frames = root / "frames" / cat / f"{vid}.mp4"
            frames.mkdir(parents=True, exist_ok=True)
            import cv2

            n = int(seconds * 8)
            for i in range(1, n + 1):
                cv2.imwrite(str(frames / f"{i:06d}.jpg"), np.full((24, 32, 3), i * 8, np.uint8))
            rows.append((f"audio/{cat}/{vid}.wav", f"frames/{cat}/{vid}.mp4", n))
            (root / "pose" / cat).mkdir(parents=True, exist_ok=True)
            np.save(root / "pose" / cat / f"{vid}.npy", foley_body65(int(seconds * 22)))
            (root / "midi_sw" / cat).mkdir(parents=True, exist_ok=True)
            suffix = ".midi" if k == 0 else ".mid"
            write_midi(root / "midi_sw" / cat / f"{vid}{suffix}", [(60 + k, 0.25, 0.75), (64, 1.25, 1.75)], 40)
    for name, part in (("train.csv", rows[::2] + rows[1:2]), ("val.csv", rows[3:4])):
        with open(root / name, "w", newline="") as handle:
            csv.writer(handle).writerows(part)
    return root


# -------------------------------------------------------------------------------------------------------- Solos
def write_solos(root: Path, seconds: float = 3.0) -> Path:
    """solos_ids.json / solos_timestamps.json, skeleton_dict.json (an id starting with '_' + _counter) and a RAW
    float32 memmap skeleton.npy (N, 3, 47) in pixels; audio <Category>/<id>.wav (mono 16 kHz)."""
    ids = {"Violin": ["_W2VM3uinZA", "vIoLiN00001"], "Cello": ["cElLo000001"]}
    root.mkdir(parents=True, exist_ok=True)
    (root / "solos_ids.json").write_text(json.dumps(ids))
    frames = int(seconds * 25)
    (root / "solos_timestamps.json").write_text(json.dumps({c: {i: [[0, frames]] for i in v} for c, v in ids.items()}))
    index, offset, chunks = {}, 0, []
    for k, vid in enumerate([i for v in ids.values() for i in v]):
        body = skeleton_body25(frames, 25.0)
        sk = np.zeros((frames, 47, 3), np.float32)
        sk[:, :7] = body[:, 1:8]
        sk[:, 7:27] = body[:, 4:5] + np.arange(1, 21)[None, :, None] * np.array([1.0, 1.0, 0.0], np.float32)
        sk[:, 27:47] = body[:, 7:8]
        sk[:, :, 0] += 10 * k
        chunks.append(sk.transpose(0, 2, 1))  # (T, 3, 47)
        index[vid] = [offset, offset + frames]
        offset += frames
        cat = next(c for c, v in ids.items() if vid in v)
        (root / "audio" / cat).mkdir(parents=True, exist_ok=True)
        sf.write(root / "audio" / cat / f"{vid}.wav", tone(seconds, 16000), 16000)
    index["_counter"] = offset
    (root / "skeleton_dict.json").write_text(json.dumps(index))
    mm = np.memmap(root / "skeleton.npy", dtype=np.float32, mode="w+", shape=(offset, 3, 47))
    mm[:] = np.concatenate(chunks)
    mm.flush()
    del mm
    return root


# ---------------------------------------------------------------------------------------------------- AtinPiano
def write_atinpiano(root: Path, seconds: float = 3.0) -> Path:
    """Foley's released form: midi/<ytid>.midi (or .mid), pose/<ytid>.npy [T, 2, 42, 1], train.csv / val.csv."""
    ids = ["pIaNo000001", "_iAnO000002", "PiAnO000003"]
    (root / "midi").mkdir(parents=True, exist_ok=True)
    (root / "pose").mkdir(parents=True, exist_ok=True)
    t = int(seconds * 22)
    for k, vid in enumerate(ids):
        write_midi(root / "midi" / f"{vid}{'.midi' if k != 1 else '.mid'}", [(60, 0.5, 1.0), (67, 1.5, 2.0)])
        hands = np.zeros((t, 2, 42, 1), np.float32)
        hands[:, 0, :21, 0] = 100 + np.arange(21)
        hands[:, 0, 21:, 0] = 300 + np.arange(21)
        hands[:, 1, :, 0] = 200 + np.arange(t)[:, None] * 0.5
        np.save(root / "pose" / f"{vid}.npy", hands)
    for name, part in (("train.csv", ids[:2]), ("val.csv", ids[2:])):
        with open(root / name, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["vid", "start_time", "duration"])
            for vid in part:
                writer.writerow([vid, 0.0, seconds])
    return root


# ------------------------------------------------------------------------------------------------------- AIST++
AIST_SEQS = {
    "train": ["gBR_sBM_cAll_d04_mBR1_ch01", "gPO_sBM_cAll_d10_mPO0_ch02"],
    "val": ["gBR_sBM_cAll_d04_mBR0_ch01"],
    "test": ["gBR_sBM_cAll_d05_mBR0_ch02"],
}


def write_aistpp(root: Path, seconds: float = 3.0, nan_frames: tuple[int, ...] = (3,)) -> Path:
    """keypoints2d/<seq>.pkl ((9, N, 17, 3) float32 at 60 fps, NaN rows for missing), cameras/mapping.txt, splits/
    crossmodal_*.txt, ignore_list.txt, music/m{GEN}{k}.wav."""
    for sub in ("keypoints2d", "cameras", "splits", "music"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    n = int(seconds * 60)
    seqs = [s for v in AIST_SEQS.values() for s in v] + ["gBR_sBM_cAll_d04_mBR2_ch03"]
    for seq in seqs:
        body = skeleton_body25(n, 60.0)
        coco = np.zeros((n, 17, 3), np.float32)
        coco[:, :, :2] = body[:, [0, 16, 15, 18, 17, 5, 2, 6, 3, 7, 4, 12, 9, 13, 10, 14, 11], :2]
        coco[:, :, 2] = 0.8
        coco[list(nan_frames)] = np.nan
        kp = np.repeat(coco[None], 9, axis=0)
        with open(root / "keypoints2d" / f"{seq}.pkl", "wb") as handle:
            pickle.dump(
                {"keypoints2d": kp, "det_scores": np.ones((9, n), np.float32), "timestamps": np.arange(n)}, handle
            )
        music = seq.split("_")[4]
        if not (root / "music" / f"{music}.wav").exists():
            sf.write(root / "music" / f"{music}.wav", tone(seconds + 1, 48000), 48000)
    (root / "cameras" / "mapping.txt").write_text("".join(f"{s} setting1\n" for s in seqs))
    for split, items in AIST_SEQS.items():
        (root / "splits" / f"crossmodal_{split}.txt").write_text("".join(f"{s}\n" for s in items))
    (root / "ignore_list.txt").write_text("gBR_sBM_cAll_d04_mBR2_ch03\n")
    (root / "splits" / "crossmodal_train.txt").write_text(
        "".join(f"{s}\n" for s in AIST_SEQS["train"] + ["gBR_sBM_cAll_d04_mBR2_ch03"])
    )
    return root
