"""The instruments the synthetic performers play: General-MIDI program, playable range, family and fingering system.

The 13 URMP instruments (docs/DATASETS.md §1) plus the MUSIC categories that are not among them (accordion, acoustic
guitar, ukulele, electric bass; docs/DATASETS.md §2). GM programs come from the suite's vocabulary
(:mod:`datamodules.instruments`), so synthetic MIDI and the ``instrument`` class agree. Ranges are the usual
sounding ranges (MIDI numbers), trimmed a little at the top so that the synthetic parts stay idiomatic.
"""

from __future__ import annotations

from dataclasses import dataclass

from datamodules.instruments import instrument_class


@dataclass(frozen=True)
class Instrument:
    """One instrument: ``key`` (URMP abbreviation where one exists), ``name`` (in :mod:`datamodules.instruments`,
    which gives its GM ``program``), sounding range, ``family`` (bowed, woodwind, brass, plucked, accordion),
    ``tuning`` (open strings for bowed/plucked, the fundamental of the harmonic series for brass, the lowest fingered
    note for woodwinds) and the names the datasets use."""

    key: str
    name: str
    low: int
    high: int
    family: str
    tuning: tuple[int, ...]
    solos: str | None = None
    music: str | None = None
    seated: bool = False

    @property
    def program(self) -> int:
        """General-MIDI program (0-based), from :mod:`datamodules.instruments`."""
        return instrument_class(self.name).program


INSTRUMENTS: dict[str, Instrument] = {
    i.key: i
    for i in (
        Instrument("vn", "violin", 55, 93, "bowed", (55, 62, 69, 76), "Violin", "violin"),
        Instrument("va", "viola", 48, 84, "bowed", (48, 55, 62, 69), "Viola"),
        Instrument("vc", "cello", 36, 76, "bowed", (36, 43, 50, 57), "Cello", "cello", seated=True),
        Instrument("db", "double bass", 28, 62, "bowed", (28, 33, 38, 43), "DoubleBass"),
        Instrument("fl", "flute", 60, 93, "woodwind", (62,), "Flute", "flute"),
        Instrument("ob", "oboe", 58, 88, "woodwind", (62,), "Oboe"),
        Instrument("cl", "clarinet", 50, 89, "woodwind", (60,), "Clarinet", "clarinet"),
        Instrument("bn", "bassoon", 34, 72, "woodwind", (38,), "Bassoon", "bassoon", seated=True),
        Instrument("sax", "saxophone", 49, 80, "woodwind", (53,), "Saxophone", "saxophone"),
        Instrument("tpt", "trumpet", 54, 82, "brass", (46,), "Trumpet", "trumpet"),
        Instrument("hn", "horn", 41, 77, "brass", (29,), "Horn"),
        Instrument("tbn", "trombone", 40, 72, "brass", (34,), "Trombone"),
        Instrument("tba", "tuba", 28, 65, "brass", (24,), "Tuba", "tuba", seated=True),
        Instrument("acc", "accordion", 53, 89, "accordion", (53,), None, "accordion", seated=True),
        Instrument("gtr", "acoustic guitar", 40, 81, "plucked", (40, 45, 50, 55, 59, 64), None, "acoustic_guitar"),
        Instrument("uke", "ukulele", 60, 81, "plucked", (67, 60, 64, 69), None, "ukulele"),
        Instrument("ebs", "electric bass", 28, 62, "plucked", (28, 33, 38, 43), None, "electric_bass"),
    )
}
URMP_KEYS = ("vn", "va", "vc", "db", "fl", "ob", "cl", "bn", "sax", "tpt", "hn", "tbn", "tba")
SOLOS_CATEGORIES = {INSTRUMENTS[k].solos: k for k in URMP_KEYS}
MUSIC_CATEGORIES = {i.music: k for k, i in INSTRUMENTS.items() if i.music}
# MUSIC-11 (MUSIC_solo_videos.json) categories among those above; the rest exist only in MUSIC21.
MUSIC11 = ("flute", "acoustic_guitar", "accordion", "tuba", "saxophone", "cello", "violin", "clarinet", "trumpet")


def get(key: str) -> Instrument:
    """``INSTRUMENTS[key]`` with an error listing the known keys."""
    try:
        return INSTRUMENTS[key]
    except KeyError:
        raise KeyError(f"unknown instrument {key!r}; known: {sorted(INSTRUMENTS)}") from None


__all__ = ["INSTRUMENTS", "Instrument", "MUSIC11", "MUSIC_CATEGORIES", "SOLOS_CATEGORIES", "URMP_KEYS", "get"]
