"""YouTube-8M frame-level TFRecord shards (docs/DATASETS.md §6): read ids, labels and 1-fps rgb/audio features.

Each record is a ``tf.train.SequenceExample``: context ``id`` (bytes; ``video_id`` in 2017), ``labels`` (int64 list),
optional ``segment_*`` lists; feature lists ``rgb`` (one 1024-byte uint8 vector per second) and ``audio`` (128 bytes).
Quantised bytes are dequantised with YT8M's ``utils.Dequantize`` (max 2, min -2): ``x = q * 4/255 + 4/512 - 2``.

Written here rather than with TensorFlow (which cannot sit beside torch 2.13 / numpy 2) or the ``tfrecord`` package
(whose generated protobuf code ties it to one protobuf major): the TFRecord framing (uint64 length, masked CRC-32C of
the length, payload, masked CRC-32C of the payload) and the few protobuf messages involved are small. CRCs are
checked with the ``crc32c`` package (a light C extension) and a pure-Python table fallback. A writer for the same
format serves tests and synthetic data.
"""

from __future__ import annotations

import csv
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

import numpy as np

RGB_DIM = 1024
AUDIO_DIM = 128
VOCABULARY_HEADER = (
    "Index", "TrainVideoCount", "KnowledgeGraphId", "Name", "WikiUrl", "Vertical1", "Vertical2", "Vertical3",
    "WikiDescription",
)  # fmt: skip

# ------------------------------------------------------------------------------------------------------------- CRC-32C
_CRC_TABLE: Optional[list[int]] = None


def _crc32c_python(data: bytes) -> int:
    global _CRC_TABLE
    if _CRC_TABLE is None:
        table = []
        for n in range(256):
            c = n
            for _ in range(8):
                c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
            table.append(c)
        _CRC_TABLE = table
    crc = 0xFFFFFFFF
    table = _CRC_TABLE
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


try:  # the C implementation; the pure-Python one is ~100x slower but exact
    from crc32c import crc32c as _crc32c
except ImportError:  # pragma: no cover - depends on the environment
    _crc32c = _crc32c_python


def masked_crc32c(data: bytes) -> int:
    """TFRecord's masked CRC-32C (Castagnoli) of ``data``."""
    crc = _crc32c(data) & 0xFFFFFFFF
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


# ------------------------------------------------------------------------------------------------------ TFRecord frame
def read_records(path: Union[str, Path], check_crc: bool = True) -> Iterator[bytes]:
    """Yield the payload of every record of the TFRecord file ``path``; a truncated or corrupt file raises ValueError
    naming the file and the byte offset."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"TFRecord file {path} does not exist")
    with path.open("rb") as f:
        offset = 0
        while True:
            header = f.read(12)
            if not header:
                return
            if len(header) < 12:
                raise ValueError(f"{path}: truncated record header at byte {offset}")
            (length,) = struct.unpack("<Q", header[:8])
            (length_crc,) = struct.unpack("<I", header[8:])
            if check_crc and masked_crc32c(header[:8]) != length_crc:
                raise ValueError(f"{path}: corrupt record length at byte {offset} (CRC mismatch); not a TFRecord file?")
            data = f.read(length)
            footer = f.read(4)
            if len(data) < length or len(footer) < 4:
                raise ValueError(f"{path}: truncated record at byte {offset} (expected {length} payload bytes)")
            if check_crc and masked_crc32c(data) != struct.unpack("<I", footer)[0]:
                raise ValueError(f"{path}: corrupt record payload at byte {offset} (CRC mismatch)")
            yield data
            offset += 16 + length


def write_records(path: Union[str, Path], payloads: Sequence[bytes]) -> Path:
    """Write ``payloads`` as a TFRecord file (atomically: tmp + rename)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as f:
        for data in payloads:
            length = struct.pack("<Q", len(data))
            f.write(length + struct.pack("<I", masked_crc32c(length)) + data + struct.pack("<I", masked_crc32c(data)))
    tmp.replace(path)
    return path


# ------------------------------------------------------------------------------------------------- protobuf wire format
def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise ValueError("truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(buf: bytes) -> Iterator[tuple[int, int, Union[int, bytes]]]:
    """(field number, wire type, value) of a serialised protobuf message; length-delimited values as bytes."""
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos : pos + 8], pos + 8
        elif wire == 2:
            length, pos = _varint(buf, pos)
            value, pos = buf[pos : pos + length], pos + length
        elif wire == 5:
            value, pos = buf[pos : pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        if pos > len(buf):
            raise ValueError("truncated protobuf field")
        yield number, wire, value


def _signed64(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


Value = Union[list[bytes], np.ndarray]


def _feature(buf: bytes) -> Value:
    """A ``tf.train.Feature``: list of bytes, float32 array or int64 array."""
    for number, _, kind in _fields(buf):
        if number == 1:  # BytesList
            return [v for n, _, v in _fields(kind) if n == 1]
        if number == 2:  # FloatList (packed or not)
            parts = []
            for n, _wire, v in _fields(kind):
                if n == 1:
                    parts.append(np.frombuffer(v, dtype="<f4"))
            return np.concatenate(parts).astype(np.float32) if parts else np.zeros(0, np.float32)
        if number == 3:  # Int64List (packed or not)
            values = []
            for n, wire, v in _fields(kind):
                if n != 1:
                    continue
                if wire == 0:
                    values.append(_signed64(v))
                else:
                    pos = 0
                    while pos < len(v):
                        x, pos = _varint(v, pos)
                        values.append(_signed64(x))
            return np.asarray(values, dtype=np.int64)
    return []


def _map_entries(buf: bytes) -> Iterator[tuple[str, bytes]]:
    """Entries of a ``map<string, Message>`` field: (key, serialised value)."""
    key, value = "", b""
    for n, _, v in _fields(buf):
        if n == 1:
            key = v.decode("utf-8")
        elif n == 2:
            value = v
    yield key, value


def parse_sequence_example(data: bytes) -> tuple[dict[str, Value], dict[str, list[Value]]]:
    """(context features, feature lists) of a serialised ``tf.train.SequenceExample`` (or ``tf.train.Example``,
    whose ``features`` come back as the context)."""
    context: dict[str, Value] = {}
    lists: dict[str, list[Value]] = {}
    for number, _, value in _fields(data):
        if number == 1:  # Features context (Example.features too)
            for n, _, entry in _fields(value):
                if n == 1:
                    for key, feature in _map_entries(entry):
                        context[key] = _feature(feature)
        elif number == 2:  # FeatureLists
            for n, _, entry in _fields(value):
                if n == 1:
                    for key, feature_list in _map_entries(entry):
                        lists[key] = [_feature(f) for m, _, f in _fields(feature_list) if m == 1]
    return context, lists


def _len_field(number: int, payload: bytes) -> bytes:
    return _encode_varint((number << 3) | 2) + _encode_varint(len(payload)) + payload


def _encode_varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _encode_feature(value: Union[bytes, Sequence[bytes], Sequence[int], np.ndarray]) -> bytes:
    if isinstance(value, bytes):
        value = [value]
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        return _len_field(2, _len_field(1, value.astype("<f4").tobytes()))
    if len(value) and isinstance(value[0], (bytes, bytearray)):
        return _len_field(1, b"".join(_len_field(1, bytes(v)) for v in value))
    packed = b"".join(_encode_varint(int(v)) for v in value)
    return _len_field(3, _len_field(1, packed))


def encode_sequence_example(context: dict[str, object], feature_lists: dict[str, Sequence[object]]) -> bytes:
    """Serialise a ``tf.train.SequenceExample``: context values are bytes, lists of bytes, int lists or float arrays;
    each feature list is a sequence of such values (one per frame)."""
    ctx = b"".join(
        _len_field(1, _len_field(1, k.encode()) + _len_field(2, _encode_feature(v))) for k, v in context.items()
    )
    fls = b"".join(
        _len_field(
            1, _len_field(1, k.encode()) + _len_field(2, b"".join(_len_field(1, _encode_feature(f)) for f in frames))
        )
        for k, frames in feature_lists.items()
    )
    return _len_field(1, ctx) + _len_field(2, fls)


# ------------------------------------------------------------------------------------------------------------ YT8M API
def dequantize(q: np.ndarray, max_quantized_value: float = 2.0, min_quantized_value: float = -2.0) -> np.ndarray:
    """YT8M's ``utils.Dequantize``: uint8 -> float32 in [min, max]."""
    span = max_quantized_value - min_quantized_value
    scalar = span / 255.0
    bias = (span / 512.0) + min_quantized_value
    return (np.asarray(q, dtype=np.float32) * scalar + bias).astype(np.float32)


def quantize(x: np.ndarray, max_quantized_value: float = 2.0, min_quantized_value: float = -2.0) -> np.ndarray:
    """Inverse of :func:`dequantize` (nearest level), for writing fixtures."""
    span = max_quantized_value - min_quantized_value
    q = (np.asarray(x, dtype=np.float64) - (span / 512.0) - min_quantized_value) / (span / 255.0)
    return np.clip(np.rint(q), 0, 255).astype(np.uint8)


@dataclass
class YT8MVideo:
    """One frame-level YT8M record: ``rgb`` [T, 1024] and ``audio`` [T, 128] dequantised float32, 1 frame/s."""

    id: str
    labels: list[int]
    rgb: np.ndarray
    audio: np.ndarray
    segments: dict[str, np.ndarray] = field(default_factory=dict)
    source: str = ""

    @property
    def seconds(self) -> int:
        return int(self.rgb.shape[0])


def _frames(values: list[Value], dim: int, name: str, where: str) -> np.ndarray:
    rows = []
    for t, v in enumerate(values):
        if not isinstance(v, list) or len(v) != 1 or len(v[0]) != dim:
            size = len(v[0]) if isinstance(v, list) and v else "?"
            raise ValueError(f"{where}: feature list {name!r} frame {t} has {size} bytes, expected {dim}")
        rows.append(np.frombuffer(v[0], dtype=np.uint8))
    return dequantize(np.stack(rows)) if rows else np.zeros((0, dim), np.float32)


def read_frame_level(path: Union[str, Path], features: bool = True, check_crc: bool = True) -> Iterator[YT8MVideo]:
    """Yield every video of a frame-level YT8M shard. ``features=False`` skips decoding rgb/audio (empty arrays), which
    is what an id/label scan needs."""
    path = Path(path)
    for k, data in enumerate(read_records(path, check_crc=check_crc)):
        where = f"{path} record {k}"
        try:
            context, lists = parse_sequence_example(data)
        except ValueError as error:
            raise ValueError(f"{where}: not a SequenceExample ({error})") from None
        raw_id = context.get("id", context.get("video_id"))
        if not isinstance(raw_id, list) or not raw_id:
            raise ValueError(f"{where}: no context 'id' (or 'video_id'); not a YouTube-8M record")
        labels = context.get("labels", np.zeros(0, np.int64))
        if isinstance(labels, list):
            raise ValueError(f"{where}: context 'labels' must be an int64 list")
        segments = {k2: np.asarray(v) for k2, v in context.items() if k2.startswith("segment_")}
        if features:
            rgb = _frames(lists.get("rgb", []), RGB_DIM, "rgb", where)
            audio = _frames(lists.get("audio", []), AUDIO_DIM, "audio", where)
            if len(rgb) != len(audio) and len(audio):
                raise ValueError(f"{where}: {len(rgb)} rgb frames but {len(audio)} audio frames")
        else:
            rgb, audio = np.zeros((0, RGB_DIM), np.float32), np.zeros((0, AUDIO_DIM), np.float32)
        yield YT8MVideo(raw_id[0].decode("utf-8"), [int(x) for x in labels], rgb, audio, segments, str(path))


def write_frame_level(
    path: Union[str, Path], videos: Sequence[tuple[str, Sequence[int], np.ndarray, np.ndarray]]
) -> Path:
    """Write a frame-level shard from ``(id, labels, rgb uint8 [T,1024], audio uint8 [T,128])`` tuples."""
    payloads = []
    for vid, labels, rgb, audio in videos:
        rgb, audio = np.asarray(rgb, np.uint8), np.asarray(audio, np.uint8)
        if rgb.ndim != 2 or rgb.shape[1] != RGB_DIM or audio.shape != (rgb.shape[0], AUDIO_DIM):
            raise ValueError(f"write_frame_level: video {vid}: need rgb [T,1024] and audio [T,128] uint8")
        payloads.append(
            encode_sequence_example(
                {"id": vid.encode(), "labels": [int(x) for x in labels]},
                {"rgb": [row.tobytes() for row in rgb], "audio": [row.tobytes() for row in audio]},
            )
        )
    return write_records(path, payloads)


def read_vocabulary(path: Union[str, Path]) -> dict[int, str]:
    """``vocabulary.csv`` (header ``Index,TrainVideoCount,KnowledgeGraphId,Name,...``) -> {index: name}."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"YT8M vocabulary {path} does not exist")
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or "Index" not in reader.fieldnames or "Name" not in reader.fieldnames:
            raise ValueError(
                f"{path}: not a YT8M vocabulary.csv (header needs Index and Name, got {reader.fieldnames})"
            )
        try:
            return {int(row["Index"]): row["Name"] for row in reader}
        except (TypeError, ValueError) as error:
            raise ValueError(f"{path}: bad Index value ({error})") from None


def label_indices(vocabulary: dict[int, str], names: Sequence[str]) -> list[int]:
    """Indices of the vocabulary entries named ``names`` (case-insensitive); unknown names raise KeyError."""
    lookup = {name.lower(): index for index, name in vocabulary.items()}
    missing = [n for n in names if n.lower() not in lookup]
    if missing:
        raise KeyError(f"labels {missing} are not in the YT8M vocabulary")
    return [lookup[n.lower()] for n in names]


def shards(src: Union[str, Path]) -> list[Path]:
    """The frame-level shards under ``src`` (a file or a folder of ``*.tfrecord``), sorted."""
    src = Path(src)
    if src.is_file():
        return [src]
    if not src.is_dir():
        raise FileNotFoundError(f"YT8M source {src} does not exist")
    found = sorted(src.rglob("*.tfrecord"))
    if not found:
        raise FileNotFoundError(f"no *.tfrecord shards under {src}")
    return found


__all__ = [
    "AUDIO_DIM",
    "RGB_DIM",
    "YT8MVideo",
    "dequantize",
    "encode_sequence_example",
    "label_indices",
    "masked_crc32c",
    "parse_sequence_example",
    "quantize",
    "read_frame_level",
    "read_records",
    "read_vocabulary",
    "shards",
    "write_frame_level",
    "write_records",
]
