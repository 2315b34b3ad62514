"""Synthetic multi-track MIDI (docs/DATASETS.md §14): Lakh names, drums + piano or guitar comping on the drum hits
over chorale harmony, unusable files among them (determinism and the round trip: test_contract.py)."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pretty_midi
import pytest

from datamodules.multitrack_midi import read_song
from datamodules.synthetic.dance_music import chorale_harmony
from datamodules.synthetic.multitrack import GUITARS, PIANOS, song

NAME = re.compile(r"^lmd_full/([0-9a-f])/([0-9a-f]{32})\.mid$")


@pytest.fixture(scope="module")
def root(written) -> Path:
    return written("multitrack", 1.0)


def test_lakh_names_and_the_marker(root: Path) -> None:
    files = json.loads((root / "SYNTHETIC.json").read_text())["files"]
    on_disk = sorted(str(p.relative_to(root)) for p in root.rglob("*.mid"))
    assert on_disk == sorted(files) and len(on_disk) >= 7
    for name in on_disk:
        head, md5 = NAME.match(name).groups()
        assert md5[0] == head and hashlib.md5((root / name).read_bytes()).hexdigest() == md5
    usable = [f for f in files.values() if not f["unusable"]]
    assert {f["family"] for f in usable} == {"piano", "guitar"}
    assert 0 < len(files) - len(usable) <= len(files) // 5 + 1
    for name, info in files.items():
        if info["unusable"]:
            with pytest.raises(ValueError):
                read_song(root / name, info["family"])
        else:
            drums, part = read_song(root / name, info["family"])
            assert info["program"] in (PIANOS if info["family"] == "piano" else GUITARS)


@pytest.mark.parametrize("family", ["piano", "guitar"])
def test_comping_falls_on_kick_and_snare_hits_with_the_chorale_harmony(family: str) -> None:
    midi, program = song("HO", 8, 120.0, family, "bach/bwv66.6", np.random.default_rng(2))
    drums = next(i for i in midi.instruments if i.is_drum)
    comp = next(i for i in midi.instruments if not i.is_drum and i.program == program)
    beats = {round(n.start, 3) for n in drums.notes if n.pitch in (36, 38)}
    onsets = sorted({round(n.start, 3) for n in comp.notes})
    chord_onsets = sorted({round(min(n.start for n in comp.notes if abs(n.start - t) < 0.05), 3) for t in onsets})
    assert len(chord_onsets) >= 16
    # every chord starts on a kick or snare hit (a strum within 40 ms of it)
    assert all(min(abs(t - b) for b in beats) < 0.04 for t in chord_onsets)
    # and every kick / snare hit gets a chord
    assert all(min(abs(t - b) for t in chord_onsets) < 0.04 for b in beats)
    # chords of 2+ notes whose pitch classes are the (transposed) chorale's
    voices, _ = chorale_harmony("bach/bwv66.6")
    source = {int(p) % 12 for v in voices for p in v[:, 2]}
    used = {n.pitch % 12 for n in comp.notes}
    assert len(used) >= 5 and any({(p + t) % 12 for p in source} >= used for t in range(12))
    sizes = [sum(abs(n.start - t) < 0.05 for n in comp.notes) for t in chord_onsets]
    assert np.mean(np.array(sizes) >= 2) > 0.9
    if family == "guitar":
        first = sorted(comp.notes, key=lambda n: n.start)[:3]
        assert first[1].start - first[0].start == pytest.approx(0.012, abs=1e-3)  # strummed
    assert midi.time_signature_changes[0].numerator == 4
    assert isinstance(midi, pretty_midi.PrettyMIDI)
