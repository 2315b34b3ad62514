"""Audeo (Su, Liu & Shlizerman, NeurIPS 2020): music for a silent top-view piano video in three stages.

* :mod:`models.audeo.model` -- :class:`Audeo`, the LightningModule (``class_path: models.audeo.Audeo``), one stage at
  a time: video2roll, roll2midi, perfnet, refine (its stage table ``AUDEO_STAGES``);
* :mod:`models.audeo.networks` -- Video2Roll Net, Roll2Midi's U-Net generator, PerfNet;
* :mod:`models.audeo.pipeline` -- a trained stage's outputs written for the next stage (``make audeo`` chains them);
* :mod:`models.audeo.table1` -- the paper's Table 1 and its layout beside measured numbers.
"""

from models.audeo.model import AUDEO_STAGES, Audeo
from models.audeo.networks import PerfNet, Video2RollNet, roll2midi_generator
from models.audeo.table1 import TABLE1, TABLE1_STATS, format_table1
from models.nn.spectral import griffin_lim, log_spectrogram

__all__ = [
    "AUDEO_STAGES",
    "TABLE1",
    "TABLE1_STATS",
    "Audeo",
    "PerfNet",
    "Video2RollNet",
    "format_table1",
    "griffin_lim",
    "log_spectrogram",
    "roll2midi_generator",
]
