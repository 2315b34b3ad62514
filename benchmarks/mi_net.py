"""MI Net performance checks, at the paper's sizes by default (one run; compare the ratios, not the seconds).

1. Code sampling: the paper-size prior (K 1024, 2 layers, d 128, 8 heads, bi-GRU body encoder) draws ``--codes``
   codes (default 251, one 4-s clip) for a batch of ``--batch`` clips, with the decoder's key/value cache and without
   it (every step re-runs the whole prefix, :meth:`MINet.sample_codes` ``cached=False``). Both draw from the same
   seeded generator, so the tokens must be identical; the speed-up is uncached / cached time (target >= 3x).
2. VQ-VAE training step (forward, backward, Adam) at the paper's sizes (1024 bins, 512 channels, 4 MBR + 2 residual
   blocks, codebook 1024 x 64) on a batch of 4-s log-spectrograms, with MBR (bands 16, 8, 4, 2) and without
   (Table 4's ablation: one band per block); seconds per step and MBR / no-MBR (target <= 1.5).
3. Data wait: the share of a debug training step (``experiments/debug/mi_net_{vqvae,prior}.yaml`` through
   ``cli.py fit``) spent waiting for the batch (target <= 20 %); ``benchmarks.training``'s step timer.

    python benchmarks/mi_net.py [--batch 16] [--codes 251] [--vqvae-batch 4] [--steps 2] [--threads N]
        [--skip-data | --data-only] [--json out.json]                                        # make bench-minet
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.foley_decoding import _timed  # noqa: E402


@torch.no_grad()
def sampling(batch: int, codes: int, device: torch.device) -> dict[str, Any]:
    """KV-cached vs uncached ancestral sampling of ``codes`` codes for ``batch`` clips (paper-size prior)."""
    from models.mi_net import MINet

    torch.manual_seed(0)
    model = MINet(stage="prior").to(device).eval()  # the paper's sizes
    frames = int(round(model.hparams.clip_seconds * model.hparams.fps))
    keypoints = torch.rand(batch, frames, model.layout.num_joints, 3, device=device)
    keypoints[..., 2] = 1.0

    def draw(cached: bool) -> torch.Tensor:
        generator = torch.Generator(device=device).manual_seed(0)
        return model.sample_codes(keypoints, steps=codes, cached=cached, generator=generator)

    fast, t_fast, c_fast = _timed(lambda: draw(True), device, repeats=2)
    slow, t_slow, c_slow = _timed(lambda: draw(False), device)
    same = float((fast == slow).double().mean())
    if fast.shape != (batch, codes):
        raise RuntimeError(f"sampling drew {tuple(fast.shape)} codes, expected {(batch, codes)}")
    return {
        "batch": batch,
        "codes": codes,
        "cached_s": t_fast,
        "uncached_s": t_slow,
        "speedup": t_slow / t_fast,
        "speedup_cpu": c_slow / c_fast,
        "same_tokens": same == 1.0,
        "same_token_share": same,
    }


def vqvae_step(batch: int, steps: int, device: torch.device) -> dict[str, Any]:
    """Seconds per paper-size VQ-VAE training step, with and without MBR (best of ``steps`` after one warm-up)."""
    import torch.nn.functional as F

    from models.mi_net.networks import SpectrogramVQVAE

    torch.manual_seed(0)
    spec = torch.rand(batch, 1024, 251, device=device)  # 4 s at hop 256: 251 frames of 1024 bins
    result: dict[str, Any] = {"batch": batch}
    for name, bands in (("mbr", None), ("no_mbr", (1, 1, 1, 1))):
        net = SpectrogramVQVAE() if bands is None else SpectrogramVQVAE(encoder_bands=bands, decoder_bands=bands)
        net = net.to(device).train()
        optimizer = torch.optim.Adam(net.parameters(), lr=3e-4)

        def step(net: torch.nn.Module = net, optimizer: torch.optim.Optimizer = optimizer) -> None:
            recon, q = net(spec)
            loss = F.mse_loss(recon, spec) + q.commitment_loss
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

        step()  # warm-up
        _, wall, cpu = _timed(step, device, repeats=steps)
        result[f"{name}_s"], result[f"{name}_cpu_s"] = wall, cpu
        result[f"{name}_params"] = sum(p.numel() for p in net.parameters())
    result["mbr_vs_no_mbr"] = result["mbr_s"] / result["no_mbr_s"]
    result["mbr_vs_no_mbr_cpu"] = result["mbr_cpu_s"] / result["no_mbr_cpu_s"]
    return result


def data_wait(steps: int = 20, warmup: int = 3) -> dict[str, Any]:
    """Data-wait share of debug training steps of the VQ-VAE and the prior (an untrained debug VQ-VAE checkpoint)."""
    from benchmarks.training import bench_config
    from models.mi_net import MINet
    from tests.helpers.presets import accepted_by, debug_init_args

    experiments = ROOT / "experiments"
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        vqvae = MINet(stage="vqvae", **accepted_by(MINet, debug_init_args("mi_net_vqvae")))
        ckpt = Path(tmp) / "vqvae.ckpt"
        torch.save({"state_dict": vqvae.state_dict(), "hyper_parameters": dict(vqvae.hparams)}, ckpt)
        for name, extra in (("mi_net_vqvae", ()), ("mi_net_prior", (f"--model.init_args.vqvae_ckpt={ckpt}",))):
            config, debug = experiments / f"{name}.yaml", experiments / "debug" / f"{name}.yaml"
            out[name] = bench_config(config, debug, steps, warmup, extra)
    return out


def report(results: dict[str, Any]) -> str:
    lines = [f"MI Net bench ({results['environment']})"]
    if "sampling" in results:
        s, v = results["sampling"], results["vqvae_step"]
        lines += [
            f"  sampling {s['codes']} codes x batch {s['batch']} (paper-size prior): KV cache {s['cached_s']:.2f} s, "
            f"uncached {s['uncached_s']:.2f} s -> {s['speedup']:.1f}x (CPU time {s['speedup_cpu']:.1f}x); "
            f"same tokens: {s['same_tokens']} (target >= 3x)",
            f"  VQ-VAE step, paper size, batch {v['batch']}: MBR {v['mbr_s']:.2f} s, no MBR {v['no_mbr_s']:.2f} s -> "
            f"{v['mbr_vs_no_mbr']:.2f} (CPU time {v['mbr_vs_no_mbr_cpu']:.2f}; target <= 1.5); parameters "
            f"{v['mbr_params'] / 1e6:.1f} M vs {v['no_mbr_params'] / 1e6:.1f} M",
        ]
    for name, d in results.get("data_wait", {}).items():
        lines.append(
            f"  data wait, {name} debug step: {100 * d['data_wait_share']:.1f} % of the step "
            f"({d['samples_per_s']:.1f} samples/s, batch {d['batch_size']:.0f}; target <= 20 %)"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=16, help="clips sampled at once")
    parser.add_argument("--codes", type=int, default=251, help="codes per clip (251 = one 4-s clip)")
    parser.add_argument("--vqvae-batch", type=int, default=4,
                        help="spectrograms per VQ-VAE step (4: a paper-size step takes seconds on a CPU)")  # fmt: skip
    parser.add_argument("--steps", type=int, default=2, help="timed VQ-VAE steps per variant (best is reported)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--skip-data", action="store_true", help="skip the data-wait section")
    parser.add_argument("--data-only", action="store_true", help="only the data-wait section")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else "none"
    results: dict[str, Any] = {
        "environment": f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, GPU {gpu}"
    }
    if args.skip_data and args.data_only:
        parser.error("--skip-data and --data-only exclude each other")
    if not args.data_only:
        results["sampling"] = sampling(args.batch, args.codes, device)
        results["vqvae_step"] = vqvae_step(args.vqvae_batch, args.steps, device)
    if not args.skip_data:
        sys.argv = sys.argv[:1]  # the debug fits read their arguments from bench_config, not this command line
        results["data_wait"] = data_wait()
    print(report(results), flush=True)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, indent=1))
    return results


if __name__ == "__main__":
    main()
