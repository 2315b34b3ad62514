"""Papers trained in stages: one LightningModule whose ``stage`` argument selects which network trains.

A paper declares its stage table, one :class:`StageSpec` per stage, and how to build each network (``_build``):

    class Paper(StagedModule):
        STAGES = {
            "a": StageSpec("net_a", ckpt="a_ckpt", sizes=("width",)),
            "b": StageSpec("net_b", ckpt="b_ckpt", sizes=("head",), needs=("a",)),
        }

        def __init__(self, stage="a", width=8, head=3, a_ckpt=None, b_ckpt=None):
            super().__init__()
            self.save_hyperparameters()
            self.build_stages(stage)

        def _build(self, name): ...

Earlier stages come from their checkpoints by path (the constructor argument named by ``ckpt``) and stay frozen (no
gradients, eval mode even under ``.train()``). They keep the sizes they were trained with: the hyper-parameters named by
``sizes`` are read from that checkpoint and recorded in this model's, and their weights are saved inside this stage's
checkpoint, so the last checkpoint of a chain rebuilds every network (``load_state_dict`` builds those that the state
holds but this configuration lacks). At ``fit`` every given checkpoint must exist, and a stage's ``needs`` must be
loaded; other entry points (``test``, ``cli.py generate``) take the networks from the state they load.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytorch_lightning as pl
import torch
from torch import nn

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StageSpec:
    """One training stage.

    Args:
        trains: the network this stage optimises (an attribute of the module of that name).
        ckpt: the constructor argument holding the path of this stage's checkpoint, from which later stages load
            ``trains`` (frozen); given to this stage itself it is a warm start.
        sizes: the hyper-parameters that size ``trains`` (taken from ``ckpt``'s hyper-parameters when they differ).
        aux: networks built and trained in this stage only (e.g. a GAN's discriminator); never loaded by others.
        needs: earlier stages this stage cannot fit without (their ``ckpt`` must be given).
    """

    trains: str
    ckpt: str
    sizes: tuple[str, ...] = ()
    aux: tuple[str, ...] = ()
    needs: tuple[str, ...] = ()


def _plain(value: Any) -> Any:
    """Lists and tuples compare equal (YAML gives lists, defaults are tuples)."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _frozen(module: nn.Module) -> nn.Module:
    module.eval()
    for parameter in module.parameters():
        parameter.requires_grad_(False)
    return module


class StagedModule(pl.LightningModule):
    """Base of a paper trained in stages (see the module docstring).

    Class attributes a paper sets: ``STAGES`` (its stage table, in training order) and ``MATCHING`` (hyper-parameters
    an earlier stage's checkpoint must share with this model, e.g. the number of keys). The paper's ``__init__`` calls
    ``save_hyperparameters()`` and then ``build_stages(stage)``; it implements ``_build(name)``.
    """

    STAGES: ClassVar[Mapping[str, StageSpec]] = {}
    MATCHING: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name, spec in cls.STAGES.items():
            unknown = [need for need in spec.needs if need not in cls.STAGES]
            if unknown:
                raise TypeError(f"{cls.__name__}: stage {name!r} needs unknown stages {unknown}")

    # ------------------------------------------------------------------------------------------------ networks
    @property
    def paper(self) -> str:
        return type(self).__name__

    @classmethod
    def network_names(cls) -> tuple[str, ...]:
        """Every network of the paper, in the order of the stage table (each stage's, then its auxiliaries)."""
        return tuple(name for spec in cls.STAGES.values() for name in (spec.trains, *spec.aux))

    def _build(self, name: str) -> nn.Module:
        """A fresh network ``name`` of this configuration (``self.hparams``)."""
        raise NotImplementedError(f"{self.paper} must implement _build(name)")

    def build_stages(self, stage: str) -> None:
        """Build the networks of ``stage`` (its own, its auxiliaries, its needs and every network whose checkpoint is
        given) and load the earlier stages whose checkpoints exist. Call it after ``save_hyperparameters()``.

        The sizes of the loaded stages are adopted before anything is built, so a network of this stage that depends
        on them (e.g. on an earlier network's output width) is built to fit."""
        if stage not in self.STAGES:
            raise ValueError(f"{self.paper}: unknown stage {stage!r}; one of {tuple(self.STAGES)}")
        spec = self.STAGES[stage]
        missing = [s.ckpt for s in self.STAGES.values() if s.ckpt not in self.hparams]
        if missing:
            raise TypeError(f"{self.paper}: checkpoint arguments {missing} are not hyper-parameters of the model")
        self.stage = stage
        self.trains = spec.trains
        self.trained_here = {spec.trains, *spec.aux}
        self.checkpoints = {s.trains: self.hparams[s.ckpt] for s in self.STAGES.values()}
        wanted = self.trained_here | {self.STAGES[need].trains for need in spec.needs}
        wanted |= {name for name, path in self.checkpoints.items() if path}
        found = {name: Path(path) for name, path in self.checkpoints.items() if path and Path(path).is_file()}
        read = {name: self._read_checkpoint(name, path) for name, path in found.items()}
        for name, (_, hyper) in read.items():
            self._adopt_sizes(name, hyper, found[name])
        for name in self.network_names():
            setattr(self, name, self._build(name) if name in wanted else None)
        self._loaded: set[str] = set()
        for name, (weights, _) in read.items():
            self._load_weights(name, weights, found[name])

    def networks(self) -> Iterator[tuple[str, nn.Module]]:
        """The networks this model has (name, module)."""
        for name in self.network_names():
            net = getattr(self, name)
            if net is not None:
                yield name, net

    def _need(self, name: str) -> nn.Module:
        net = getattr(self, name)
        if net is None:
            ckpt = next((s.ckpt for s in self.STAGES.values() if s.trains == name), None)
            raise RuntimeError(
                f"{self.paper}: this model has no {name}; give that stage's checkpoint ({ckpt}) or train that stage"
            )
        return net

    def _ckpt_argument(self, name: str) -> str:
        return next(s.ckpt for s in self.STAGES.values() if s.trains == name)

    # ------------------------------------------------------------------------------------------------- loading
    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True, assign: bool = False) -> Any:
        """Also builds the networks that the state holds but this configuration lacks (e.g. ``cli.py generate``
        with a later stage's checkpoint that carries the earlier stages), so one checkpoint generates end to end;
        the networks the state brings that this stage does not train are frozen."""
        for name in self.network_names():
            if not any(key.startswith(f"{name}.") for key in state_dict):
                continue
            if getattr(self, name) is None:
                setattr(self, name, self._build(name).to(self.device))
            if name not in self.trained_here:
                _frozen(getattr(self, name))
                self._loaded.add(name)
        return super().load_state_dict(state_dict, strict=strict, assign=assign)

    def _load_stage_checkpoints(self, required: bool) -> None:
        """Load (and freeze) the earlier stages from their checkpoints; ``required`` makes a missing file an error."""
        for name, path in self.checkpoints.items():
            if path and name not in self._loaded:
                self._load_net(name, Path(path), required)  # the trained stage's own checkpoint = warm start

    def _load_net(self, name: str, path: Path, required: bool) -> None:
        """Load one stage's network from ``path`` (rebuilt first when the checkpoint's sizes differ from this one's)."""
        if not path.is_file():
            if required:
                raise FileNotFoundError(
                    f"{self.paper}: {name} checkpoint {path} ({self._ckpt_argument(name)}) does not exist "
                    "(train that stage first)"
                )
            return
        weights, hyper = self._read_checkpoint(name, path)
        if self._adopt_sizes(name, hyper, path) or getattr(self, name) is None:
            setattr(self, name, self._build(name).to(self.device))
        self._load_weights(name, weights, path)

    def _read_checkpoint(self, name: str, path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
        """The weights of network ``name`` in the checkpoint ``path`` and the checkpoint's hyper-parameters."""
        argument = self._ckpt_argument(name)
        try:
            checkpoint = torch.load(path, map_location="cpu", weights_only=False)
        except Exception as error:  # noqa: BLE001 - re-raised with the file named
            raise RuntimeError(f"{self.paper}: cannot read checkpoint {path} ({argument}): {error}") from error
        state = checkpoint.get("state_dict", checkpoint) if isinstance(checkpoint, dict) else None
        if not isinstance(state, dict):
            raise RuntimeError(f"{self.paper}: {path} ({argument}) holds no state_dict")
        prefix = f"{name}."
        weights = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
        if not weights:
            raise RuntimeError(
                f"{self.paper}: checkpoint {path} ({argument}) has no {name} weights "
                f"(keys start with {sorted(state)[:3]})"
            )
        return weights, dict(checkpoint.get("hyper_parameters") or {})

    def _load_weights(self, name: str, weights: dict[str, Any], path: Path) -> None:
        net = getattr(self, name)
        try:
            net.load_state_dict(weights)
        except RuntimeError as error:
            raise RuntimeError(
                f"{self.paper}: {name} weights in {path} do not fit this configuration: {error}"
            ) from error
        if name not in self.trained_here:
            _frozen(net)
        self._loaded.add(name)
        log.info("%s: loaded %s from %s", self.paper, name, path)

    def _adopt_sizes(self, name: str, hyper: Mapping[str, Any], path: Path) -> bool:
        """An earlier stage keeps the sizes it was trained with: take them from its checkpoint's hyper-parameters
        and record them in this model's, so this stage's checkpoint rebuilds the same networks. True if any changed."""
        for key in self.MATCHING:
            if key in hyper and _plain(hyper[key]) != _plain(self.hparams[key]):
                raise ValueError(
                    f"{self.paper}: {path} was trained with {key}={hyper[key]}, "
                    f"this model has {key}={self.hparams[key]}"
                )
        sizes = next(s.sizes for s in self.STAGES.values() if s.trains == name)
        changed = {key: hyper[key] for key in sizes if key in hyper and _plain(hyper[key]) != _plain(self.hparams[key])}
        if changed:
            self.hparams.update(changed)
            log.info("%s: %s takes the sizes of %s: %s", self.paper, name, path, changed)
        return bool(changed)

    # ----------------------------------------------------------------------------------------------- lightning
    def setup(self, stage: str) -> None:
        """``stage`` is Lightning's (fit / validate / test / predict): at fit every given checkpoint must exist."""
        self._load_stage_checkpoints(required=stage == "fit")
        for need in self.STAGES[self.stage].needs:
            spec = self.STAGES[need]
            if spec.trains not in self._loaded:
                raise FileNotFoundError(
                    f"{self.paper}: the {self.stage} stage needs {spec.ckpt} (a trained {need} checkpoint)"
                )

    def train(self, mode: bool = True) -> StagedModule:
        """Networks this stage does not train stay in eval mode (frozen BatchNorm statistics, no dropout)."""
        super().train(mode)
        for name, net in self.networks():
            if name not in self.trained_here:
                net.eval()
        return self


__all__ = ["StageSpec", "StagedModule"]
