"""Speed and memory of the rule and behaviour detectors.

    python benchmarks/detect.py [--scale 1.0 2.0 ...] [--weeks 13]

For each scale: generates (once, cached under data/bench/) an all-region dataset of --weeks weeks, loads it from
Parquet, runs every rule and behaviour detector on its last week, and prints load time, detect time per detector,
prescriptions of history per second and the process's peak memory. Each scale runs in a fresh process, so the
peak memory is that scale's own.
"""
import argparse, resource, subprocess, sys, time, warnings
from pathlib import Path
import pandas as pd
from dtsj_analysis.demo import write_demo
from dtsj_analysis.load import load_dataset
from dtsj_analysis.engine import Period, resolve, run_detector, detector_ids

def peak_gb(): return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20

def one_scale(scale: float, weeks: int):
    src = Path("data/bench") / f"scale-{scale:g}-weeks-{weeks}"
    if not (src / "labels.csv").exists():
        t = time.perf_counter(); write_demo(src, seed=0, weeks=weeks, scale=scale)
        print(f"  generated {src} in {time.perf_counter() - t:.1f} s")
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore"); ds = load_dataset(src)
    load_s = time.perf_counter() - t
    end = ds.dispensings.dispensed_at.max().normalize() + pd.Timedelta(days=1)
    end -= pd.Timedelta(days=end.day_of_week)                         # the last whole week
    period = Period.of(end - pd.Timedelta(days=7), end)
    rows, total = [], 0.0
    for d in resolve(detector_ids("rule") + detector_ids("behaviour")):
        t = time.perf_counter(); f = run_detector(ds, d, period); s = time.perf_counter() - t
        rows.append((d.id, len(f), round(s, 2))); total += s
    n_rx, n_d = len(ds.prescriptions), len(ds.dispensings)
    print(pd.DataFrame(rows, columns=["detector", "findings", "seconds"]).to_string(index=False))
    print(f"scale {scale:g}: {n_rx:,} prescriptions, {n_d:,} dispensings of history; load {load_s:.1f} s, "
          f"detect {total:.1f} s ({n_rx / total:,.0f} prescriptions/s), peak memory {peak_gb():.2f} GB")

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, nargs="+", default=[1.0, 4.0]); ap.add_argument("--weeks", type=int, default=13)
    ap.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.one: return one_scale(a.scale[0], a.weeks)
    for s in a.scale:
        print(f"== scale {s:g}, {a.weeks} weeks, 14 regions", flush=True)
        subprocess.run([sys.executable, __file__, "--one", "--scale", str(s), "--weeks", str(a.weeks)], check=True)

if __name__ == "__main__": sys.exit(main())
