"""One instrument vocabulary for every dataset, so ``instrument`` class ids mean the same thing across DataModules.

Order: the 13 URMP instruments (= the 13 Solos categories, docs/DATASETS.md §1/§3), then the MUSIC21 categories that are
not among them (§2), then piano (AtinPiano, Audeo). Each has its General-MIDI program (the Foley Music rendering
choices for the MUSIC categories, docs/DATASETS.md §2) and the names each dataset uses.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class InstrumentClass:
    name: str
    program: int
    aliases: tuple[str, ...]
    is_drum: bool = False


INSTRUMENT_CLASSES: tuple[InstrumentClass, ...] = (
    InstrumentClass("violin", 40, ("vn", "Violin")),
    InstrumentClass("viola", 41, ("va", "Viola")),
    InstrumentClass("cello", 42, ("vc", "Cello")),
    InstrumentClass("double_bass", 43, ("db", "DoubleBass", "double bass", "contrabass")),
    InstrumentClass("flute", 73, ("fl", "Flute")),
    InstrumentClass("oboe", 68, ("ob", "Oboe")),
    InstrumentClass("clarinet", 71, ("cl", "Clarinet")),
    InstrumentClass("bassoon", 70, ("bn", "Bassoon")),
    InstrumentClass("saxophone", 65, ("sax", "Saxophone")),
    InstrumentClass("trumpet", 56, ("tpt", "Trumpet")),
    InstrumentClass("horn", 60, ("hn", "Horn", "french horn")),
    InstrumentClass("trombone", 57, ("tbn", "Trombone")),
    InstrumentClass("tuba", 58, ("tba", "Tuba")),
    InstrumentClass("accordion", 21, ()),
    InstrumentClass("acoustic_guitar", 24, ("acoustic guitar", "guitar")),
    InstrumentClass("bagpipe", 109, ()),
    InstrumentClass("banjo", 105, ()),
    InstrumentClass("congas", 0, (), is_drum=True),
    InstrumentClass("drum", 0, ("drums",), is_drum=True),
    InstrumentClass("electric_bass", 33, ("electric bass",)),
    InstrumentClass("erhu", 110, ()),
    InstrumentClass("guzheng", 107, ()),
    InstrumentClass("pipa", 106, ()),
    InstrumentClass("ukulele", 25, ()),
    InstrumentClass("xylophone", 13, ()),
    InstrumentClass("piano", 0, ("Piano", "acoustic grand piano")),
)
NUM_INSTRUMENTS = len(INSTRUMENT_CLASSES)
_INDEX = {
    key.lower(): k
    for k, cls in enumerate(INSTRUMENT_CLASSES)
    for key in (cls.name, cls.name.replace("_", " "), *cls.aliases)
}


def instrument_index(name: str) -> int:
    """Class id of an instrument given any dataset's name for it (``vn``, ``Violin``, ``violin``, ``DoubleBass``...)."""
    try:
        return _INDEX[name.strip().lower()]
    except KeyError:
        raise KeyError(f"unknown instrument {name!r}; known: {[c.name for c in INSTRUMENT_CLASSES]}") from None


def instrument_class(name: str) -> InstrumentClass:
    return INSTRUMENT_CLASSES[instrument_index(name)]


__all__ = ["INSTRUMENT_CLASSES", "NUM_INSTRUMENTS", "InstrumentClass", "instrument_class", "instrument_index"]
