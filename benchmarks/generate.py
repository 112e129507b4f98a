"""Speed and memory of the demo generator.

    python benchmarks/generate.py [--rx 1000000] [--weeks 12]

Picks the --scale that gives about --rx prescriptions (1.0 gives about 236k over 12 weeks), generates every
contract table for all 14 regions, and prints the wall time, prescriptions per second and the process's peak memory.
"""
import argparse, sys, time
from dtsj_analysis.demo import make_demo
from detect import peak_gb   # benchmarks/detect.py, beside this script

RX_AT_SCALE_1 = 236_000   # prescriptions of the 12-week demo at scale 1.0, all regions

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rx", type=int, default=1_000_000); ap.add_argument("--weeks", type=int, default=12)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    scale = a.rx / RX_AT_SCALE_1 * 12 / a.weeks
    t = time.perf_counter()
    tables, labels = make_demo(seed=a.seed, weeks=a.weeks, scale=scale)
    secs = time.perf_counter() - t
    n = len(tables["prescriptions"])
    print(f"generate: scale {scale:.2f}, {a.weeks} weeks, 14 regions")
    for name, df in tables.items(): print(f"  {name:<14} {len(df):>12,} rows")
    print(f"  {len(labels):,} labels")
    print(f"wall {secs:.1f} s, {n / secs:,.0f} prescriptions/s, peak memory {peak_gb():.2f} GB")

if __name__ == "__main__": sys.exit(main())
