"""Each Foley Music variant config is a full config (so ``cli.py fit --config experiments/foley_music_gru.yaml`` runs
alone) that differs from experiments/foley_music.yaml only in the keys its header declares: a change to the base
(a paper hyper-parameter) cannot silently leave a variant behind."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "experiments" / "foley_music.yaml"
VARIANTS = sorted((ROOT / "experiments").glob("foley_music_*.yaml"))
DECLARATION = "differs from experiments/foley_music.yaml only in:"


def _flat(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out |= _flat(value, f"{prefix}{key}.")
        else:
            out[f"{prefix}{key}"] = value
    return out


def _declared(path: Path) -> set[str]:
    """The keys listed in the header: the comment lines after DECLARATION that start with ``#   ``."""
    lines = path.read_text().splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("#") and DECLARATION in line), None)
    assert start is not None, f"{path.name}: its header must say which keys it changes ('# ... {DECLARATION}')"
    keys: set[str] = set()
    for line in lines[start + 1 :]:
        if not line.startswith("#   "):
            break
        keys |= {key.strip() for key in line[1:].split(",") if key.strip()}
    return keys


def test_there_are_variants() -> None:
    assert {p.stem for p in VARIANTS} >= {f"foley_music_{n}" for n in ("gru", "nohands", "rgb", "flow", "music")}


@pytest.mark.parametrize("path", VARIANTS, ids=lambda p: p.stem)
def test_variant_differs_from_the_base_only_in_declared_keys(path: Path) -> None:
    base, variant = _flat(yaml.safe_load(BASE.read_text())), _flat(yaml.safe_load(path.read_text()))
    missing = object()
    differing = {k for k in base.keys() | variant.keys() if base.get(k, missing) != variant.get(k, missing)}
    declared = _declared(path)
    assert differing - declared == set(), f"{path.name} differs from {BASE.name} in undeclared keys"
    assert declared - differing == set(), f"{path.name} declares keys that equal {BASE.name}'s (update its header)"


def test_declaration_parser_reads_wrapped_lines(tmp_path: Path) -> None:
    config = tmp_path / "v.yaml"
    config.write_text(f"# about\n# x {DECLARATION}\n#   a.b, c,\n#   d\n# not a key line\nseed_everything: 0\n")
    assert _declared(config) == {"a.b", "c", "d"}
