"""Resumable, atomic per-file preprocessing (datamodules.prepare.jobs): killed runs resume, failures are reported."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from datamodules.prepare.jobs import Job, collect, mirror, run_jobs


def _inputs(folder: Path, names: list[str]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in names:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(name)
        paths.append(path)
    return paths


def test_done_outputs_are_skipped_and_failures_reported(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    src = tmp_path / "src"
    paths = _inputs(src, ["a.txt", "sub/b.txt", "c.txt", "bad.txt"])
    calls: list[str] = []

    def work(job: Job, tmp: Path) -> None:
        calls.append(job.src.name)
        if job.src.name == "bad.txt":
            tmp.write_text("partial")
            raise ValueError(f"cannot parse {job.src}")
        tmp.write_text(job.src.read_text().upper())

    jobs = [Job(p, mirror(src, p, tmp_path / "out", ".up")) for p in collect(src, [".txt"], "text")]
    assert {j.out.relative_to(tmp_path / "out").as_posix() for j in jobs} == {"a.up", "sub/b.up", "c.up", "bad.up"}
    with pytest.raises(RuntimeError, match=r"1 of 4 inputs failed.*bad\.txt"):
        run_jobs(jobs, work, "upper", progress=False)
    report_text = capsys.readouterr().err
    assert "3 written, 0 already done" in report_text and "FAILED" in report_text and "cannot parse" in report_text
    assert (tmp_path / "out/sub/b.up").read_text() == "SUB/B.TXT"
    assert (tmp_path / "out/a.up").read_text() == "A.TXT"
    assert not (tmp_path / "out/bad.up").exists()  # no partial output is left as "done"
    assert not [p for p in (tmp_path / "out").rglob("*") if ".tmp-prepare" in p.name]
    calls.clear()
    report = run_jobs(jobs, work, "upper", progress=False, raise_on_error=False)
    assert calls == ["bad.txt"] and len(report.skipped) == 3 and len(report.failed) == 1
    calls.clear()
    run_jobs(jobs[:1], work, "upper", progress=False, overwrite=True)
    assert calls == [paths[0].name]


def test_folder_outputs_and_empty_inputs(tmp_path: Path) -> None:
    src = tmp_path / "videos"
    src.mkdir()
    with pytest.raises(FileNotFoundError, match="no video files.*videos"):
        collect(src, [".mp4"], "video")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        collect(tmp_path / "nope", [".mp4"], "video")
    (src / "x.mp4").write_bytes(b"0")

    def work(job: Job, tmp: Path) -> None:
        tmp.mkdir()
        for k in range(3):
            (tmp / f"f{k}.json").write_text("{}")

    job = Job(src / "x.mp4", tmp_path / "out" / "x", folder=True)
    run_jobs([job], work, "folders", progress=False)
    assert sorted(p.name for p in (tmp_path / "out" / "x").iterdir()) == ["f0.json", "f1.json", "f2.json"]
    with pytest.raises(ValueError, match="same output"):
        run_jobs([job, job], work, "folders", progress=False)


SLOW_WORKER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from datamodules.prepare.jobs import Job, run_jobs
    src, out = Path(sys.argv[1]), Path(sys.argv[2])
    def work(job, tmp):
        with open(tmp, "w") as f:
            f.write("half")
            f.flush()
            time.sleep(0.4)  # a kill lands here: a half-written temporary
            f.write(" done")
        with open(out / sys.argv[3], "a") as log:
            log.write(job.src.name + "\\n")
    jobs = [Job(p, out / (p.stem + ".res")) for p in sorted(src.glob("*.in"))]
    run_jobs(jobs, work, "slow", progress=False)
    """
)


def _results(out: Path) -> list[Path]:
    return sorted(p for p in out.glob("*.res") if not p.name.startswith("."))


def test_a_killed_run_resumes_without_redoing_or_keeping_partial_files(tmp_path: Path) -> None:
    src, out = tmp_path / "src", tmp_path / "out"
    _inputs(src, [f"{k}.in" for k in range(5)])
    out.mkdir()
    script = tmp_path / "worker.py"
    script.write_text(SLOW_WORKER)
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[3]))
    proc = subprocess.Popen([sys.executable, str(script), str(src), str(out), "first.log"], env=env)
    deadline = time.time() + 60
    while time.time() < deadline and len(_results(out)) < 2:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    finished = [p.name for p in _results(out)]
    assert 2 <= len(finished) < 5, finished
    assert all(p.read_text() == "half done" for p in _results(out))
    subprocess.run([sys.executable, str(script), str(src), str(out), "second.log"], env=env, check=True)
    assert [p.name for p in _results(out)] == [f"{k}.res" for k in range(5)]
    assert all(p.read_text() == "half done" for p in _results(out))
    second = (out / "second.log").read_text().split()
    assert sorted(second) == sorted({f"{k}.in" for k in range(5)} - {f"{Path(n).stem}.in" for n in finished})
    assert not list(out.glob(".*tmp-prepare*"))
