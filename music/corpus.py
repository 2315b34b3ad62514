"""Real music that ships offline: works of the music21 corpus as ``pretty_midi.PrettyMIDI``, cached on disk.

music21 parses a score in seconds, so each conversion is done once and kept as a MIDI file under
``$V2M_CACHE/corpus/`` (default ``./data/cache/corpus/``), written atomically (temporary name, then rename) so that
parallel test workers and DDP ranks can share it. Two music21 pitfalls are handled: repeat barlines and volta
brackets are removed before writing (music21's MIDI writer otherwise tries to expand them and may fail), and scores
are written at 480 ticks per quarter (music21's default 10080 makes long movements exceed pretty_midi's 1e7-tick
limit).

Names are music21 corpus paths, e.g. ``bach/bwv846`` (WTC I Prelude in C), ``mozart/k545``, ``joplin/maple_leaf_rag``,
``beethoven/opus18no1`` (string quartet), ``bach/bwv66.6`` (chorale).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

CONVERSION_VERSION = 1  # bump when the conversion changes, so that stale cache files are not reused

# Works known to convert cleanly (checked with music21 10.5); multi-movement works give their first movement.
PIANO_WORKS = (
    "bach/bwv846",
    "mozart/k545",
    "joplin/maple_leaf_rag",
    "schumann_clara/polonaise_op1n1",
    "cpebach/h186",
)
# Four-part string music; the General-MIDI programs music21 writes vary (0, 48 or 40/41/42), so set them yourself
# (:func:`music.edit.change_instrument`). Long: converting one takes 10-70 s once.
STRING_QUARTETS = ("haydn/opus74no1", "mozart/k80", "mozart/k458")
CHORALES = ("bach/bwv66.6", "bach/bwv269", "bach/bwv347", "bach/bwv153.1", "bach/bwv86.6")  # 4 voices, program 0


def cache_dir() -> Path:
    """Where converted corpus MIDI files live: ``$V2M_CACHE/corpus`` or ``./data/cache/corpus``."""
    root = os.environ.get("V2M_CACHE")
    return (Path(root) if root else Path("data") / "cache") / "corpus"


def cache_path(name: str) -> Path:
    """The cache file for corpus work ``name``."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", name.strip("/"))
    return cache_dir() / f"{safe}.v{CONVERSION_VERSION}.mid"


def _strip_repeats(score: Any) -> None:
    from music21 import bar, spanner

    for measure in score.recurse().getElementsByClass("Measure"):
        for side in ("leftBarline", "rightBarline"):
            if isinstance(getattr(measure, side), bar.Repeat):
                setattr(measure, side, None)
    for bracket in list(score.recurse().getElementsByClass(spanner.RepeatBracket)):
        for site in list(bracket.sites.get()):
            if site is not None and hasattr(site, "remove"):
                try:
                    site.remove(bracket)
                except Exception:  # noqa: BLE001 - not every site holds it directly
                    pass


def convert(name: str, path: Path) -> Path:
    """Parse corpus work ``name`` with music21 and write it as a standard MIDI file at ``path`` (atomically)."""
    import music21

    try:
        music21.corpus.getWork(name)  # fast check of the name before a slow parse
    except Exception as error:  # music21 raises CorpusException for unknown names
        raise FileNotFoundError(f"music21 corpus has no work {name!r}: {error}") from error
    score = music21.corpus.parse(name)
    if isinstance(score, music21.stream.Opus):
        score = score.scores[0]
    _strip_repeats(score)
    previous = music21.defaults.ticksPerQuarter
    music21.defaults.ticksPerQuarter = 480
    try:
        midi_file = music21.midi.translate.streamToMidiFile(score)
    finally:
        music21.defaults.ticksPerQuarter = previous
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    midi_file.open(str(tmp), "wb")
    try:
        midi_file.write()
    finally:
        midi_file.close()
    os.replace(tmp, path)
    return path


def load_corpus_midi(name: str) -> Any:
    """Corpus work ``name`` (e.g. ``"bach/bwv846"``) as a ``pretty_midi.PrettyMIDI``, converted once and cached."""
    import pretty_midi

    path = cache_path(name)
    if not path.is_file():
        convert(name, path)
    try:
        return pretty_midi.PrettyMIDI(str(path))
    except Exception as error:
        raise RuntimeError(f"cached corpus MIDI {path} is unreadable ({error}); delete it to convert again") from error


__all__ = ["CHORALES", "PIANO_WORKS", "STRING_QUARTETS", "cache_dir", "cache_path", "convert", "load_corpus_midi"]
