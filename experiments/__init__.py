"""Experiment configs (LightningCLI YAML under experiments/ and experiments/debug/) and the scripts of studies."""
