"""One LightningModule per paper (Foley Music, MI Net, RhythmicNet, Audeo, V2Meow) and the generation protocol."""
