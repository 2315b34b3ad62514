"""Resumable per-file preprocessing: atomic outputs, done outputs skipped, tqdm progress, a per-file error report.

Every job turns one input into one output path (a file or a folder). The work function writes a *temporary* path
beside the output (same folder, so the final ``os.replace``/rename is atomic); the output therefore either exists
complete or not at all, a run killed at any moment leaves only temporaries (removed by the next run), and a rerun
skips every output that exists. Failures do not stop the run: each is recorded with its input and cause, printed at
the end, and :func:`run_jobs` then raises one RuntimeError summarising them (so a script sees a non-zero exit).
"""

from __future__ import annotations

import shutil
import sys
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

TMP_MARK = ".tmp-prepare"


@dataclass(frozen=True)
class Job:
    """One input ``src`` and the output ``out`` it becomes (a file, or a folder when ``folder``)."""

    src: Path
    out: Path
    folder: bool = False

    @property
    def tmp(self) -> Path:
        """The temporary twin of ``out``: hidden, same folder, same suffix (libraries that append a suffix, like
        ``np.save``, keep the name)."""
        if self.folder:
            return self.out.with_name(f".{self.out.name}{TMP_MARK}")
        return self.out.with_name(f".{self.out.stem}{TMP_MARK}{self.out.suffix}")


@dataclass
class Report:
    """Outcome of a run: outputs written, skipped (already done) and failed (input, cause)."""

    task: str
    done: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        lines = [
            f"prepare {self.task}: {len(self.done)} written, {len(self.skipped)} already done (skipped), "
            f"{len(self.failed)} failed"
        ]
        for src, cause in self.failed:
            lines.append(f"  FAILED {src}: {cause}")
        return "\n".join(lines)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def run_jobs(
    jobs: Sequence[Job],
    work: Callable[[Job, Path], None],
    task: str,
    overwrite: bool = False,
    progress: bool = True,
    raise_on_error: bool = True,
    log: Optional[Callable[[str], None]] = None,
) -> Report:
    """Run ``work(job, tmp)`` for every job whose output is missing (all with ``overwrite``), then move ``tmp`` onto
    ``job.out``. ``work`` must write ``tmp`` (a file, or a folder for folder jobs) and raise on failure.

    Returns the report; with ``raise_on_error`` a run with failures raises RuntimeError after printing it."""
    from tqdm.auto import tqdm

    log = log or (lambda message: print(message, file=sys.stderr))
    report = Report(task)
    outs = [job.out for job in jobs]
    if len(set(outs)) != len(outs):
        dupes = sorted({str(o) for o in outs if outs.count(o) > 1})
        raise ValueError(f"prepare {task}: several inputs map to the same output ({', '.join(dupes[:5])}); rename them")
    todo = []
    for job in jobs:
        if job.tmp.exists():  # left by a killed run
            _remove(job.tmp)
        if job.out.exists() and not overwrite:
            report.skipped.append(job.out)
        else:
            todo.append(job)
    bar = tqdm(todo, desc=f"prepare {task}", unit="file", disable=not progress or not todo, file=sys.stderr)
    for job in bar:
        bar.set_postfix_str(job.src.name[-40:], refresh=False)
        try:
            job.out.parent.mkdir(parents=True, exist_ok=True)
            work(job, job.tmp)
            if not job.tmp.exists():
                raise RuntimeError(f"internal error: {task} wrote no output for {job.src}")
            if job.out.exists():  # overwrite
                _remove(job.out)
            job.tmp.replace(job.out)
            report.done.append(job.out)
        except KeyboardInterrupt:
            if job.tmp.exists():
                _remove(job.tmp)
            raise
        except Exception as error:  # noqa: BLE001 - recorded per file, reported at the end
            if job.tmp.exists():
                _remove(job.tmp)
            cause = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            if not isinstance(error, (ValueError, FileNotFoundError, RuntimeError, OSError)):
                cause = f"{type(error).__name__}: {cause} [{traceback.format_exc(limit=1).splitlines()[-1]}]"
            report.failed.append((job.src, cause))
    log(report.summary())
    if report.failed and raise_on_error:
        raise RuntimeError(
            f"prepare {task}: {len(report.failed)} of {len(jobs)} inputs failed (see the report above); "
            f"first: {report.failed[0][0]}: {report.failed[0][1]}"
        )
    return report


def collect(src: Path, suffixes: Sequence[str], what: str) -> list[Path]:
    """``src`` itself (a file) or every file under the folder ``src`` with one of ``suffixes`` (case-insensitive),
    sorted; hidden files and our temporaries are ignored. An empty result is an error naming the folder."""
    src = Path(src)
    if src.is_file():
        return [src]
    if not src.is_dir():
        raise FileNotFoundError(f"prepare: input {src} does not exist")
    wanted = tuple(s.lower() for s in suffixes)
    files = sorted(
        p
        for p in src.rglob("*")
        if p.is_file()
        and p.suffix.lower() in wanted
        and not any(part.startswith(".") for part in p.relative_to(src).parts)
    )
    if not files:
        raise FileNotFoundError(f"prepare: no {what} files ({', '.join(suffixes)}) under {src}")
    return files


def mirror(src_root: Path, path: Path, out_root: Path, suffix: str) -> Path:
    """Output path of ``path`` (found under ``src_root``, or ``src_root`` itself) in ``out_root``, keeping the
    relative folders and replacing the suffix."""
    rel = Path(path.name) if src_root.is_file() else path.relative_to(src_root)
    return out_root / rel.with_suffix(suffix)


__all__ = ["Job", "Report", "TMP_MARK", "collect", "mirror", "run_jobs"]
