"""YouTube-8M frame-level TFRecord reader (docs/DATASETS.md §6), checked against the independent ``tfrecord``
package."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from datamodules import yt8m


def _videos(seed: int = 0) -> list[tuple[str, list[int], np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    out = []
    for vid, labels, t in (("Ab01", [3, 17], 5), ("_x9Z", [], 1), ("Qq77", [2000, 3861], 300)):
        out.append(
            (
                vid,
                labels,
                rng.integers(0, 256, (t, 1024), dtype=np.uint8),
                rng.integers(0, 256, (t, 128), dtype=np.uint8),
            )
        )
    return out


def test_reads_shards_written_by_the_tfrecord_package(tmp_path: Path) -> None:
    tfrecord = pytest.importorskip("tfrecord")
    path = tmp_path / "train00.tfrecord"
    writer = tfrecord.TFRecordWriter(str(path))
    for vid, labels, rgb, audio in _videos():
        writer.write(
            {"id": (vid.encode(), "byte"), "labels": (labels, "int")},
            {"rgb": ([r.tobytes() for r in rgb], "byte"), "audio": ([a.tobytes() for a in audio], "byte")},
        )
    writer.close()
    got = list(yt8m.read_frame_level(path))
    assert [v.id for v in got] == ["Ab01", "_x9Z", "Qq77"]
    assert [v.labels for v in got] == [[3, 17], [], [2000, 3861]]
    for video, (_, _, rgb, audio) in zip(got, _videos()):
        assert video.rgb.shape == rgb.shape and video.audio.shape == audio.shape
        # YT8M's Dequantize: q * 4/255 + 4/512 - 2
        np.testing.assert_allclose(video.rgb, rgb * (4 / 255) + 4 / 512 - 2, atol=1e-5)
        np.testing.assert_array_equal(yt8m.quantize(video.audio), audio)
    ids_only = list(yt8m.read_frame_level(path, features=False))
    assert [v.id for v in ids_only] == ["Ab01", "_x9Z", "Qq77"] and ids_only[0].rgb.shape == (0, 1024)


def test_our_writer_is_read_by_the_tfrecord_package(tmp_path: Path) -> None:
    tfrecord = pytest.importorskip("tfrecord")
    path = yt8m.write_frame_level(tmp_path / "validate00.tfrecord", _videos(1))
    records = list(
        tfrecord.reader.tfrecord_loader(
            str(path), None, {"id": "byte", "labels": "int"}, sequence_description={"rgb": "byte", "audio": "byte"}
        )
    )
    assert len(records) == 3
    context, frames = records[2]
    assert bytes(context["id"]) == b"Qq77" and list(context["labels"]) == [2000, 3861]
    rgb = np.stack([np.frombuffer(bytes(f), np.uint8) for f in frames["rgb"]])
    np.testing.assert_array_equal(rgb, _videos(1)[2][2])


def test_negative_int64_and_float_features_round_trip() -> None:
    data = yt8m.encode_sequence_example(
        {"id": b"x", "labels": [-1, 5, 2**40], "scores": np.array([0.5, -2.25], np.float32)}, {}
    )
    context, lists = yt8m.parse_sequence_example(data)
    assert context["labels"].tolist() == [-1, 5, 2**40]
    np.testing.assert_array_equal(context["scores"], [0.5, -2.25])
    assert lists == {}


def test_corrupt_and_truncated_files_name_the_file(tmp_path: Path) -> None:
    path = yt8m.write_frame_level(tmp_path / "train01.tfrecord", _videos()[:2])
    raw = bytearray(path.read_bytes())
    truncated = tmp_path / "train02.tfrecord"
    truncated.write_bytes(bytes(raw[:-10]))
    with pytest.raises(ValueError, match="train02.tfrecord.*truncated"):
        list(yt8m.read_frame_level(truncated))
    raw[40] ^= 0xFF
    corrupt = tmp_path / "train03.tfrecord"
    corrupt.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="train03.tfrecord.*CRC"):
        list(yt8m.read_frame_level(corrupt))
    (tmp_path / "train04.tfrecord").write_bytes(b"not a tfrecord at all")
    with pytest.raises(ValueError, match="train04.tfrecord"):
        list(yt8m.read_frame_level(tmp_path / "train04.tfrecord"))


def test_crc_fallback_matches_the_c_implementation() -> None:
    data = bytes(range(256)) * 3
    assert yt8m._crc32c_python(b"123456789") == 0xE3069283  # the CRC-32C check value
    assert yt8m._crc32c_python(data) == yt8m._crc32c(data)


def test_vocabulary_and_label_lookup(tmp_path: Path) -> None:
    path = tmp_path / "vocabulary.csv"
    path.write_text(
        ",".join(yt8m.VOCABULARY_HEADER) + "\n"
        '0,788288,/m/03bt1gh,Game,https://x,Games,,,"A game, with commas"\n'
        "21,146473,/m/0410tth,Music video,https://y,Arts & Entertainment,,,Short film\n"
    )
    vocab = yt8m.read_vocabulary(path)
    assert vocab == {0: "Game", 21: "Music video"}
    assert yt8m.label_indices(vocab, ["music VIDEO"]) == [21]
    with pytest.raises(KeyError, match="Opera"):
        yt8m.label_indices(vocab, ["Opera"])


def test_cli_prepare_yt8m_filters_music_videos_into_an_mv100k_root(tmp_path: Path) -> None:
    import csv

    from tests.helpers.cli_runner import run_cli

    shards = tmp_path / "yt8m"
    shards.mkdir()
    videos = _videos(2)
    yt8m.write_frame_level(shards / "train0000.tfrecord", [videos[0], ("Mv01", [21], *videos[2][2:])])
    yt8m.write_frame_level(shards / "validate0000.tfrecord", [("Mv02", [5, 21], videos[1][2], videos[1][3])])
    (shards / "vocabulary.csv").write_text(
        ",".join(yt8m.VOCABULARY_HEADER) + "\n3,1,/m/a,Guitar,u,A,,,d\n21,1,/m/b,Music video,u,A,,,d\n"
    )
    out = tmp_path / "mv"
    args = ("prepare", "--task", "yt8m", "--src", str(shards), "--out", str(out), "--labels+", "Music video")
    result = run_cli(*args, tmp=tmp_path)
    assert "2 written" in result.stderr
    rows = list(csv.DictReader((out / "videos.csv").open()))
    assert [(r["id"], r["split"], r["duration_s"], r["labels"]) for r in rows] == [
        ("Mv01", "train", "300", "21"),
        ("Mv02", "val", "1", "5 21"),
    ]
    rgb = np.load(out / "features" / "yt8m_rgb" / "Mv01.npy")
    np.testing.assert_allclose(rgb, yt8m.dequantize(videos[2][2]))
    assert np.load(out / "features" / "yt8m_audio" / "Mv02.npy").shape == (1, 128)
    assert not (out / "features" / "yt8m_rgb" / "Ab01.npy").exists()  # labels 3, 17: not a music video
    assert (out / "vocabulary.csv").is_file()
    from datamodules.prepare import run

    again = run("yt8m", shards, out, labels=["Music video"], progress=False)
    assert len(again.skipped) == 2 and not again.done
    with pytest.raises(FileNotFoundError, match="none does not exist"):
        run("yt8m", tmp_path / "none", out)
    with pytest.raises(KeyError, match="Opera"):
        run("yt8m", shards / "train0000.tfrecord", tmp_path / "o2", labels=["Opera"])
