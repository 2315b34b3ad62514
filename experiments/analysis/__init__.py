"""Studies whose numbers are recorded in the papers' doc pages (docs/FOLEY_MUSIC.md): ``python -m
experiments.analysis.<name>`` runs one and prints its results; the slow test tier keeps regression checks on them."""
