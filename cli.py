"""Command line of the suite: ``python cli.py {fit,validate,test,predict,generate,synth,prepare} ...``.

Training subcommands are LightningCLI's own. ``generate`` is a method of :class:`SuiteTrainer`, registered the
LightningCLI way (a Trainer method named in :meth:`SuiteCLI.subcommands`), so it takes the same ``--config`` as
``fit``. ``synth`` and ``prepare`` are data tools that need no model or trainer: their options come from the
signatures of the functions below (jsonargparse), so ``--help``, config files and type checking behave exactly as for
the training subcommands, and they run before Lightning is imported (the first half of this file imports neither
Lightning nor any model), so they start in a fraction of a second; ``--help`` lists them with the others.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal, NoReturn, Optional

from jsonargparse import ActionConfigFile, ArgumentParser

from datamodules.synthetic import WRITERS

# The datasets ``synth`` can write: the synthetic writer registry's names (datamodules/synthetic/__init__.py).
SYNTH_DATASETS = Literal[tuple(WRITERS)]


def synth(dataset: SYNTH_DATASETS, out: Path, minutes: float = 2.0, seed: int = 0) -> None:
    """Write a synthetic dataset (real corpus music, rule-driven motion/video) in DATASET's exact on-disk format.

    Args:
        dataset: which real dataset's format to write.
        out: the dataset root to create.
        minutes: approximate total duration of music to generate.
        seed: random seed; the same seed writes the same dataset.
    """
    from datamodules.synthetic import write

    root = write(dataset, Path(out), minutes=minutes, seed=seed)
    print(f"synth: wrote a synthetic {dataset} dataset to {root}")


def prepare(
    task: Literal["keypoints", "transcribe", "features", "yt8m", "embeddings"],
    src: Path,
    out: Path,
    backend: Literal["auto", "openpose", "mediapipe"] = "auto",
    openpose_models: Optional[Path] = None,
    transcriber: Literal["basic_pitch", "transkun"] = "basic_pitch",
    program: int = 0,
    kinds: Optional[list[str]] = None,
    labels: Optional[list[str]] = None,
    vocabulary: Optional[Path] = None,
    joint_ckpt: Optional[Path] = None,
    joint_class: Optional[str] = None,
    overwrite: bool = False,
) -> None:
    """Preprocess raw data offline: video -> keypoints, audio -> pseudo ground-truth MIDI, video -> frame features.

    Outputs are written atomically and existing ones skipped (a killed run resumes); a per-file report ends the run.

    Args:
        task: keypoints (OpenPose JSON from videos/images), transcribe (MIDI from audio), features (an MV100K-layout
            root from music videos: 1-fps features, audio, videos.csv), yt8m (ids, labels and features from
            YouTube-8M frame-level TFRecord shards into an MV100K-layout root), embeddings (joint text-audio
            embeddings of every 10-s segment of an MV100K-layout root's audio).
        src: input file or folder (searched recursively).
        out: output folder.
        backend: keypoints: OpenPose's Python API, MediaPipe (own venv, created on first use), or auto.
        openpose_models: keypoints: OpenPose's models folder (default $OPENPOSE_MODELS).
        transcriber: transcribe: basic_pitch (any instrument) or transkun (piano).
        program: transcribe: General-MIDI program written into the MIDI files.
        kinds: features: feature kinds to compute (default: effnet_lite0 and flow; also effnet_tokens).
        labels: yt8m: keep only videos with one of these labels (vocabulary names like "Music video", or indices).
        vocabulary: yt8m: YT8M vocabulary.csv (default: beside the shards).
        joint_ckpt: embeddings: checkpoint of the joint text-audio model that embeds every 10-s segment of an
            MV100K-layout root's audio (SRC) into OUT/embeddings/<model>/<id>.npy.
        joint_class: embeddings: the joint model's class (package.module.Class with from_checkpoint(path)).
        overwrite: recompute outputs that already exist.
    """
    from datamodules.prepare import run

    options: dict[str, Any] = {"overwrite": overwrite}
    if task == "keypoints":
        options |= {"backend": backend, "openpose_models": None if openpose_models is None else str(openpose_models)}
    elif task == "transcribe":
        options |= {"transcriber": transcriber, "program": program}
    elif task == "features":
        options |= {"kinds": tuple(kinds or ("effnet_lite0", "flow"))}
    elif task == "yt8m":
        options |= {"labels": labels, "vocabulary": vocabulary}
    elif task == "embeddings":
        options |= {"joint_ckpt": joint_ckpt, "joint_class": joint_class}
    run(task, Path(src), Path(out), **options)


DATA_TOOLS: dict[str, Callable[..., None]] = {"synth": synth, "prepare": prepare}


class ConciseErrors:
    """Parser mixin: errors reduced to the message that names the key (no 60-line usage dump), and no abbreviated
    options (argparse would otherwise take the typo ``--trainer.max_epoch`` for ``max_epochs``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str, ex: Exception | None = None) -> NoReturn:
        if not self.exit_on_error:
            return super().error(message, ex)
        parser = getattr(ex, "subcommand_parser", None) or self
        prog = parser.prog.replace(" [options]", "")
        sys.stderr.write(f"error: {message}\ntip: for the accepted options run: {prog} --help\n")
        self.exit(2)


class ToolArgumentParser(ConciseErrors, ArgumentParser):
    """jsonargparse's parser for the data tools, which need neither Lightning nor any model."""


def tool_parser(name: str) -> ToolArgumentParser:
    """The parser of data tool NAME: ``--config`` plus one option per parameter of its function (jsonargparse reads
    types, defaults and help from the signature and docstring)."""
    function = DATA_TOOLS[name]
    description = (function.__doc__ or "").strip().splitlines()[0]
    parser = ToolArgumentParser(prog=f"{os.path.basename(sys.argv[0])} {name}", description=description)
    parser.add_argument(
        "-c", "--config", action=ActionConfigFile, help="Path to a configuration file in json or yaml format."
    )
    parser.add_function_arguments(function)
    return parser


def requested_tool(args: Any) -> str | None:
    """The data tool that ``args`` (a command line without the program name) asks for, if its first word names one."""
    if isinstance(args, Sequence) and not isinstance(args, str) and args and args[0] in DATA_TOOLS:
        return str(args[0])
    return None


def run_tool(args: Sequence[str]) -> None:
    """Parse and run a data tool's command line (``synth ...`` or ``prepare ...``) without importing Lightning."""
    name, *options = args
    config = tool_parser(name).parse_args(options)
    DATA_TOOLS[name](**{k: v for k, v in config.as_dict().items() if k != "config"})


def with_one_line_errors(function: Callable[..., Any], *args: Any) -> int:
    """Call ``function(*args)`` with bad-input errors (missing, existing or corrupt files, wrong values) shown as one
    line, not a traceback; 0 on success, 1 on such an error. Set ``V2M_DEBUG=1`` to see the full traceback."""
    try:
        function(*args)
    except (FileNotFoundError, FileExistsError, NotADirectoryError, ValueError, RuntimeError) as error:
        if os.environ.get("V2M_DEBUG"):
            raise
        sys.stderr.write(f"error: {type(error).__name__}: {error}\n(set V2M_DEBUG=1 for the traceback)\n")
        return 1
    return 0


# The data tools end here, before anything below imports Lightning (about 10 s of CPU): `python cli.py synth ...`
# and `python cli.py prepare ...` (and their --help) start in a fraction of a second.
if __name__ == "__main__" and requested_tool(sys.argv[1:]):
    sys.exit(with_one_line_errors(run_tool, sys.argv[1:]))

from lightning_fabric.plugins import CheckpointIO  # noqa: E402 - the Lightning part, below the data tools' exit
from pytorch_lightning import LightningModule, Trainer  # noqa: E402
from pytorch_lightning.callbacks import ModelCheckpoint  # noqa: E402
from pytorch_lightning.cli import LightningArgumentParser, LightningCLI  # noqa: E402
from pytorch_lightning.loggers import TensorBoardLogger  # noqa: E402

from callbacks.atomic_checkpoint import AtomicCheckpointIO  # noqa: E402


class SuiteTrainer(Trainer):
    """Lightning's Trainer plus the suite's ``generate`` subcommand."""

    def generate(
        self,
        model: LightningModule,
        video: Path,
        out: Path,
        ckpt: Optional[Path] = None,
        keypoints: Optional[Path] = None,
        datamodule: Any = None,
        program: Optional[int] = None,
        transpose: int = 0,
        midi: Optional[Path] = None,
        instrument: Optional[str] = None,
        text: Optional[str] = None,
        features: Optional[Path] = None,
    ) -> dict[str, Path]:
        """Turn a silent video into a soundtrack: writes OUT's .mid (symbolic models), .wav and the MP4 with sound.
        The soundtrack covers the whole video and lasts exactly as long (:func:`models.generation.write_soundtrack`).

        Args:
            video: the input video (its own audio, if any, is replaced).
            out: the output MP4; ``.mid`` and ``.wav`` files are written beside it with the same stem.
            ckpt: a checkpoint of the config's model (``fit`` writes them under ``runs/``).
            keypoints: a folder of pre-extracted keypoints (OpenPose JSON) for keypoint-driven models.
            program: General-MIDI program of the generated track (symbolic models that take it).
            transpose: semitones to transpose the generated MIDI by (symbolic models that take it; MIDI editing).
            midi: the video's MIDI, for models conditioned on content (MI Net's content stage).
            instrument: the instrument added to the music, for models that take it (RhythmicNet: none, piano, guitar).
            text: a text prompt, for models with text control (V2Meow with control: joint); "" = no prompt.
            features: a folder of pre-extracted per-second visual features (``<kind>/<video stem>.npy``), for models
                that read kinds the suite cannot compute from the video (V2Meow).
        """
        import inspect

        from models.generation import GeneratesFromVideo, write_soundtrack

        video, out = Path(video), Path(out)
        if not video.is_file():
            raise FileNotFoundError(f"generate: video {video} does not exist")
        if not isinstance(model, GeneratesFromVideo):
            raise TypeError(f"generate: {type(model).__name__} does not implement generate_from_video(video, ...)")
        if ckpt is not None:
            checkpoint = _load_checkpoint(Path(ckpt))
            model.on_load_checkpoint(checkpoint)  # as Lightning's --ckpt_path does: networks may take its sizes
            try:
                model.load_state_dict(checkpoint["state_dict"])
            except RuntimeError as error:
                raise RuntimeError(f"generate: checkpoint {ckpt} does not fit the config's model: {error}") from error
        model.eval()
        edits: dict[str, Any] = {} if program is None else {"program": int(program)}
        if transpose:
            edits["transpose"] = int(transpose)
        if midi is not None:
            edits["midi"] = str(midi)
        if instrument is not None:
            edits["instrument"] = str(instrument)
        if text is not None:
            edits["text"] = str(text)
        if features is not None:
            edits["features"] = str(features)
        accepted = inspect.signature(model.generate_from_video).parameters
        keywords = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in accepted.values())
        refused = [] if keywords else [name for name in edits if name not in accepted]
        if refused:
            raise ValueError(
                f"generate: {type(model).__name__} takes no {', '.join('--' + name for name in refused)} "
                f"(its generate_from_video accepts {', '.join(n for n in accepted if n != 'video')})"
            )
        example = model.generate_from_video(
            str(video), keypoints=None if keypoints is None else str(keypoints), **edits
        )
        paths = write_soundtrack(example, video, out)
        for kind, path in paths.items():
            print(f"generate: wrote {kind} {path}")
        return paths


def _load_checkpoint(path: Path) -> dict[str, Any]:
    import torch

    if not path.is_file():
        raise FileNotFoundError(f"generate: checkpoint {path} does not exist")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:  # noqa: BLE001 - re-raised with the file named
        raise RuntimeError(f"generate: cannot read checkpoint {path}: {error}") from error
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise RuntimeError(f"generate: {path} is not a Lightning checkpoint (no 'state_dict')")
    return checkpoint


class SuiteArgumentParser(ConciseErrors, LightningArgumentParser):
    """LightningCLI's parser with :class:`ConciseErrors`; it keeps the subcommands action it creates (jsonargparse's
    public ``add_subcommands`` returns it) so that :meth:`SuiteCLI.setup_parser` can list the data tools beside the
    training subcommands."""

    subcommands_action: Any = None

    def add_subcommands(self, *args: Any, **kwargs: Any) -> Any:
        self.subcommands_action = super().add_subcommands(*args, **kwargs)
        return self.subcommands_action


class SuiteCLI(LightningCLI):
    """LightningCLI with ``generate`` (needs a model); the data tools ``synth`` / ``prepare`` (need none) are listed in
    its ``--help`` but run by :func:`run_tool`, which :func:`main` calls before Lightning is involved.

    Only public LightningCLI hooks are overridden (``subcommands``, ``setup_parser``, ``parse_arguments``,
    ``add_arguments_to_parser``, ``instantiate_trainer``); tests/cli/test_lightning_hooks.py checks that they keep
    the signatures and roles relied on here.

    ``only``: build the parser of this one subcommand, not of all five (each holds every Trainer, model and data
    option: about 0.15 s of CPU apiece); :func:`main` passes the subcommand that the command line starts with.
    """

    def __init__(self, *args: Any, only: str | None = None, **kwargs: Any) -> None:
        if only is not None:
            # LightningCLI builds and registers a subcommand parser for each name that ``self.subcommands()`` returns
            # (an instance lookup, so this shadows the static registry for this CLI only; checked by
            # tests/cli/test_lightning_hooks.py::test_only_builds_the_parser_of_one_subcommand).
            commands = {only: type(self).subcommands()[only]}
            self.subcommands = lambda: commands  # type: ignore[method-assign]
        super().__init__(*args, **kwargs)

    @staticmethod
    def subcommands() -> dict[str, set[str]]:
        commands = dict(LightningCLI.subcommands())
        commands["generate"] = {"model", "datamodule"}
        return commands

    def setup_parser(
        self, add_subcommands: bool, main_kwargs: dict[str, Any], subparser_kwargs: dict[str, Any]
    ) -> None:
        super().setup_parser(add_subcommands, main_kwargs, subparser_kwargs)
        action = getattr(self.parser, "subcommands_action", None)
        if add_subcommands and action is not None:
            for name in DATA_TOOLS:
                parser = tool_parser(name)
                action.add_subcommand(name, parser, help=parser.description)

    def parse_arguments(self, parser: LightningArgumentParser, args: Any) -> None:
        super().parse_arguments(parser, args)
        tool = self.config.get("subcommand")
        if tool in DATA_TOOLS:  # only reachable with options before the tool's name: main() runs `synth ...` itself
            parser.error(f"give {tool}'s options after its name: {parser.prog} {tool} [--config FILE] [options]")

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        """``checkpoint.*``: the run's ModelCheckpoint, with ``last.ckpt`` on by default so ``--ckpt_path last``
        resumes; its folder is ``<logger save_dir>/<logger name>/checkpoints`` (e.g. ``runs/audeo/checkpoints``) unless
        set: the same for every run of a config, so a resumed run (a new logger version) finds it."""
        parser.add_lightning_class_args(ModelCheckpoint, "checkpoint")
        parser.set_defaults({"checkpoint.save_last": True})

    def instantiate_trainer(self, **kwargs: Any) -> Trainer:
        trainer = super().instantiate_trainer(**kwargs)
        logger_root = getattr(trainer.logger, "root_dir", None)
        folder = Path(logger_root) if logger_root else Path(trainer.default_root_dir)
        for callback in trainer.callbacks:
            if isinstance(callback, ModelCheckpoint) and callback.dirpath is None:
                callback.dirpath = str(folder / "checkpoints")
        trainer_config = self.config_init.get(str(self.subcommand), self.config_init).get("trainer", {})
        if not any(isinstance(p, CheckpointIO) for p in _as_list(trainer_config.get("plugins"))):
            trainer.strategy.checkpoint_io = AtomicCheckpointIO()
        return trainer


def main(args: Any = None) -> SuiteCLI | None:
    """Entry point; ``args`` (default: ``sys.argv[1:]``) lets tests drive the CLI in-process. The data tools run
    without LightningCLI (:func:`run_tool`) and return None."""
    command = sys.argv[1:] if args is None else args
    if requested_tool(command):
        run_tool(command)
        return None
    first = command[0] if isinstance(command, Sequence) and not isinstance(command, str) and command else None
    return SuiteCLI(
        only=first if first in SuiteCLI.subcommands() else None,
        trainer_class=SuiteTrainer,
        parser_class=SuiteArgumentParser,
        subclass_mode_model=True,
        subclass_mode_data=True,
        save_config_kwargs={"overwrite": True},
        trainer_defaults={
            "logger": {
                "class_path": f"{TensorBoardLogger.__module__}.{TensorBoardLogger.__name__}",
                "init_args": {"save_dir": "runs", "name": "suite"},
            },
            "callbacks": _default_callbacks(),
        },
        args=args,
        auto_configure_optimizers=False,
    )


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _default_callbacks() -> list[Any]:
    """Callbacks every run gets (docs/TRAINING.md): media, exact resume, checkpoint on SIGTERM; TensorBoard learning
    rate, gradient norms, throughput and hparams with final metrics."""
    from callbacks.media import MediaLogger
    from callbacks.preemption import CheckpointOnSigterm
    from callbacks.rng_state import RNGStateCheckpoint
    from callbacks.training_monitor import LearningRateLogger, TrainingMonitor

    return [MediaLogger(), RNGStateCheckpoint(), CheckpointOnSigterm(), LearningRateLogger(), TrainingMonitor()]


def run_main() -> int:
    """``main()`` with bad-input errors shown as one line (:func:`with_one_line_errors`)."""
    return with_one_line_errors(main)


if __name__ == "__main__":
    sys.exit(run_main())
