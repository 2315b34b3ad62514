"""RhythmicNet (Su, Liu & Shlizerman, NeurIPS 2021): soundtracks for movement videos, through their rhythm.

* :mod:`models.rhythmic_net.model` -- :class:`RhythmicNet`, the LightningModule (``class_path:
  models.rhythmic_net.RhythmicNet``), one stage at a time: video2rhythm, rhythm2drum, drum2music (its stage table
  ``RHYTHMIC_NET_STAGES``), and the chain from a video (``generate_from_video``);
* :mod:`models.rhythmic_net.networks` -- Video2Rhythm (ST-GCN + self-similarity-biased transformer) and Rhythm2Drum
  (rhythm -> drum words transformer + velocity / offset U-Net);
* :mod:`models.rhythmic_net.drum2music` -- Drum2Music (drum bars -> piano or guitar bars, Transformer-XL
  encoder-decoder over REMI tokens);
* :mod:`models.rhythmic_net.chain` -- video -> beats and style -> rhythm -> drums -> + instrument;
* :mod:`models.rhythmic_net.words` -- drum words (9-class hit sets) and taps;
* :mod:`models.rhythmic_net.style` -- the style rules (directogram, kinematic offsets) and the 16th-note rhythm grid.
"""

from models.rhythmic_net.drum2music import Drum2Music
from models.rhythmic_net.model import RHYTHMIC_NET_STAGES, RhythmicNet
from models.rhythmic_net.networks import Rhythm2Drum, VelocityOffsetNet, Video2Rhythm

__all__ = ["RHYTHMIC_NET_STAGES", "Drum2Music", "Rhythm2Drum", "RhythmicNet", "VelocityOffsetNet", "Video2Rhythm"]
