"""``torch.compile`` for any model of the suite, switched on from the command line or a config, never in model code.

    python cli.py fit --config experiments/foley_music.yaml --trainer.callbacks+=callbacks.compile.TorchCompile
    python cli.py fit ... --trainer.callbacks+=callbacks.compile.TorchCompile --trainer.callbacks.mode=max-autotune

Why a callback that compiles the LightningModule's *submodules* (and not ``torch.compile(model)``): Lightning only
routes ``forward`` through a compiled LightningModule, while the suite's models do their work in
``training_step`` / ``validation_step`` (Python control flow, logging, metric updates, beam search) and call their
networks (``encoder``, ``decoder``, ``video2roll`` ...) from there. Compiling each network in place covers every
model without touching it, and leaves the step logic eager, where graph breaks would only cost time.

How: each selected module's ``forward`` is replaced by ``torch.compile(module.forward)`` on the instance (not
``nn.Module.compile()``, which in this torch build does not trace ``_call_impl``, and not a ``torch.compile(module)``
wrapper, which would rename every key of the checkpoint's ``state_dict`` to ``_orig_mod.*``). Parameters, hooks,
checkpoints and DDP are therefore untouched; at ``teardown`` the eager ``forward`` is restored, so a checkpoint of a
compiled run loads in an uncompiled one and vice versa. Compiled once per process at the start of fit / validate /
test / predict (before the sanity check), so every DDP rank compiles its own copy.
"""

from __future__ import annotations

from typing import Any, Literal, Optional

import torch
from pytorch_lightning import Callback, LightningModule, Trainer
from pytorch_lightning.utilities.rank_zero import rank_zero_info
from torch import nn


def default_targets(pl_module: LightningModule) -> dict[str, nn.Module]:
    """The LightningModule's direct children that hold parameters (its networks); metrics and losses excluded."""
    from torchmetrics import Metric

    return {
        name: child
        for name, child in pl_module.named_children()
        if not isinstance(child, Metric) and any(True for _ in child.parameters())
    }


class TorchCompile(Callback):
    """Compile the networks of the LightningModule with ``torch.compile`` for the duration of a run.

    Args:
        modules: dotted names of the submodules to compile (e.g. ``["encoder", "decoder"]``); default: every direct
            child with parameters that is not a torchmetrics Metric.
        backend: ``torch.compile`` backend (``inductor`` generates Triton kernels on GPU, C++/OpenMP on CPU).
        mode: ``default``, ``reduce-overhead`` (CUDA graphs) or ``max-autotune``.
        dynamic: ``None`` (static first, dynamic after a shape change), ``True`` or ``False``.
        fullgraph: fail on graph breaks instead of splitting the graph.
    """

    def __init__(
        self,
        modules: Optional[list[str]] = None,
        backend: str = "inductor",
        mode: Optional[Literal["default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs"]] = None,
        dynamic: Optional[bool] = None,
        fullgraph: bool = False,
    ) -> None:
        self.modules = None if modules is None else list(modules)
        self.options: dict[str, Any] = {"backend": backend, "mode": mode, "dynamic": dynamic, "fullgraph": fullgraph}
        self.compiled: dict[str, nn.Module] = {}

    def targets(self, pl_module: LightningModule) -> dict[str, nn.Module]:
        if self.modules is None:
            return default_targets(pl_module)
        found = {}
        for name in self.modules:
            try:
                found[name] = pl_module.get_submodule(name)
            except AttributeError as error:
                children = ", ".join(name for name, _ in pl_module.named_children())
                raise ValueError(
                    f"TorchCompile: {type(pl_module).__name__} has no submodule {name!r} (children: {children})"
                ) from error
        return found

    def _compile(self, pl_module: LightningModule) -> None:
        if self.compiled:
            return
        self.compiled = self.targets(pl_module)
        if not self.compiled:
            raise ValueError(f"TorchCompile: {type(pl_module).__name__} has no submodule with parameters to compile")
        for module in self.compiled.values():
            module.forward = torch.compile(module.forward, **self.options)
        rank_zero_info(f"TorchCompile: compiling {', '.join(self.compiled)} ({self.options})")

    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._compile(pl_module)

    def on_validation_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._compile(pl_module)

    def on_test_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._compile(pl_module)

    def on_predict_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._compile(pl_module)

    def teardown(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        """Restore the eager ``forward`` (the class method) of every compiled module."""
        for module in self.compiled.values():
            module.__dict__.pop("forward", None)
        self.compiled = {}
