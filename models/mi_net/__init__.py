"""MI Net (Su, Liu & Shlizerman 2021): unsupervised music generation from a musician's body movements.

* :mod:`models.mi_net.model` -- :class:`MINet`, the LightningModule (``class_path: models.mi_net.MINet``), one stage
  at a time: vqvae, prior, content, and the baselines seq2seq and graph_transformer (its stage table
  ``MINET_STAGES``);
* :mod:`models.mi_net.networks` -- the multi-band residual VQ-VAE, the body encoder, the pose and content priors, the
  baselines.
"""

from models.mi_net.model import MINET_STAGES, MINet
from models.mi_net.networks import (
    BodyEncoder,
    ContentPrior,
    GraphTransformerBaseline,
    PosePrior,
    Seq2SeqBaseline,
    SpectrogramVQVAE,
)

__all__ = [
    "MINET_STAGES",
    "BodyEncoder",
    "ContentPrior",
    "GraphTransformerBaseline",
    "MINet",
    "PosePrior",
    "Seq2SeqBaseline",
    "SpectrogramVQVAE",
]
