"""Speed and memory of the rule and behaviour detectors, against the same rules in plain DuckDB SQL.

    python benchmarks/detect.py [--scale 1 4 ...] [--national 100] [--weeks 13]

--scale S: the demo generator's all-region dataset at S times the demo size (S=4 is about 1M prescriptions of history),
generated once and cached under data/bench/. --national N: the scale-1 dataset tiled N times, each copy with its own
facilities, prescribers, patients, pharmacies and districts (N=100 is about 26M prescriptions and 24M dispensings, a
week of about 2M prescriptions with 13 weeks of history, the national size). Each dataset runs in a fresh process,
so the peak memory printed is that dataset's own.

For each: load the Parquet folder (read, parse, validate), run every rule and behaviour detector on its last whole
week, print load and detect time, prescriptions of history per second and peak memory; then run
benchmarks/plain_rules.sql (the same rules written as plain DuckDB SQL, on the same tables in DuckDB) and check that
both flag the same entities (with the same regions, where the plain SQL returns one). For a tiled dataset, also check
that every detector flags exactly N times what it flags on one copy. Targets: national week < 5 min with < 12 GB peak; at 1M prescriptions no slower than plain SQL.
"""
import argparse, re, resource, subprocess, sys, time, warnings
from pathlib import Path
import duckdb
import pandas as pd
from dtsj_analysis.demo import write_demo
from dtsj_analysis.load import load_dataset
from dtsj_analysis.engine import Period, resolve, run_detector, detector_ids

HERE = Path(__file__).parent
IDS = {"facilities": ["facility_id", "district"], "prescribers": ["prescriber_id", "facility_id"], "patients": ["patient_id"],
       "pharmacies": ["pharmacy_id", "district"], "contracts": ["contract_id", "pharmacy_id"],
       "prescriptions": ["prescription_id", "prescriber_id", "facility_id", "patient_id"],
       "dispensings": ["dispensing_id", "prescription_id", "pharmacy_id"], "reserve_stock": ["facility_id"],
       "payments": ["payment_id", "pharmacy_id"], "appeals": ["appeal_id", "district"], "drugs": []}

def peak_gb(): return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20

def generated(scale: float, weeks: int) -> Path:
    src = Path("data/bench") / f"scale-{scale:g}-weeks-{weeks}"
    if not (src / "labels.csv").exists():
        t = time.perf_counter(); write_demo(src, seed=0, weeks=weeks, scale=scale)
        print(f"  generated {src} in {time.perf_counter() - t:.1f} s", flush=True)
    return src

def tiled(copies: int, weeks: int) -> Path:
    "The scale-1 dataset repeated `copies` times with suffixed identifiers and district names (DuckDB, Parquet to Parquet)."
    src, dest = generated(1, weeks), Path("data/bench") / f"national-{copies}-weeks-{weeks}"
    if (dest / "done").exists(): return dest
    t = time.perf_counter(); dest.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    for table, ids in IDS.items():
        cols = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM '{src / table}.parquet'").fetchall()]
        sel = ", ".join(f"{c} || '-' || lpad(k::VARCHAR, 3, '0') AS {c}" if c in ids else c for c in cols)
        q = f"SELECT {sel} FROM '{src / table}.parquet', range({copies}) r(k)" if ids else f"SELECT * FROM '{src / table}.parquet'"
        con.execute(f"COPY ({q}) TO '{dest / table}.parquet' (FORMAT parquet)")
    (dest / "done").touch()
    print(f"  tiled {src} x{copies} into {dest} in {time.perf_counter() - t:.1f} s", flush=True)
    return dest

def last_week(ds) -> Period:
    end = ds.dispensings.dispensed_at.max().normalize() + pd.Timedelta(days=1)
    end -= pd.Timedelta(days=end.day_of_week)
    return Period.of(end - pd.Timedelta(days=7), end)

def ours(src: Path):
    "Load and detect with dtsj_analysis: the findings, the seconds per step and per detector."
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore"); ds = load_dataset(src)
    load_s, period, rows, parts = time.perf_counter() - t, last_week(ds), [], []
    for d in resolve(detector_ids("rule") + detector_ids("behaviour")):
        t = time.perf_counter(); f = run_detector(ds, d, period); rows.append((d.id, len(f), time.perf_counter() - t)); parts.append(f)
    return ds, period, pd.concat(parts), load_s, pd.DataFrame(rows, columns=["detector", "findings", "seconds"])

def plain_sql(src: Path, period: Period, loaded: bool):
    """Run benchmarks/plain_rules.sql on the same tables, loaded into DuckDB first (not timed) or read from the Parquet
    files by the queries; the flagged (detector, entity_id) and the seconds."""
    con = duckdb.connect()
    for p in sorted(src.glob("*.parquet")):
        con.execute(f"CREATE {'TABLE' if loaded else 'VIEW'} {p.stem} AS SELECT * FROM '{p}'")
    text = re.sub(r"--[^\n]*", "", (HERE / "plain_rules.sql").read_text())
    out, t = [], time.perf_counter()
    for stmt in [s.strip() for s in text.split(";") if s.strip()]:
        params = {k: v for k, v in {"start": period.start, "end": period.end}.items() if f"${k}" in stmt}
        r = con.execute(stmt, params)
        if stmt.upper().startswith(("SELECT", "WITH")): out.append(r.df())
    return pd.concat(out), time.perf_counter() - t

def keys(f: pd.DataFrame, det: str, regional: bool) -> set:
    "What detector `det` flagged in `f`: entity ids, or (entity id, region) pairs where the plain SQL places by region."
    f = f[f.detector == det]
    return set(zip(f.entity_id, f.region)) if regional else set(f.entity_id)

def one(src: Path, copies: int = 0):
    ds, period, found, load_s, times = ours(src)
    detect_s, n_rx, n_d = times.seconds.sum(), len(ds.prescriptions), len(ds.dispensings)
    del ds
    print(times.round(2).to_string(index=False))
    print(f"{src}: {n_rx:,} prescriptions, {n_d:,} dispensings of history, week {period}: load {load_s:.1f} s, "
          f"detect {detect_s:.1f} s ({n_rx / detect_s:,.0f} prescriptions/s), load + detect {load_s + detect_s:.1f} s, "
          f"peak memory {peak_gb():.2f} GB", flush=True)
    flagged, files_s = plain_sql(src, period, loaded=False)
    _, tables_s = plain_sql(src, period, loaded=True)
    regional = set(flagged.detector[flagged.region.notna()]) if "region" in flagged else set()
    same = {d: keys(found, d, d in regional) == keys(flagged, d, d in regional) for d in times.detector}
    print(f"plain DuckDB SQL of the same rules: {files_s:.1f} s on the Parquet files, {tables_s:.1f} s on tables already loaded "
          f"into DuckDB; dtsj_analysis detect {detect_s:.1f} s on its loaded frames ({files_s / detect_s:.1f}x and "
          f"{tables_s / detect_s:.1f}x its speed)")
    print(f"same entities flagged by every detector: {all(same.values())}"
          + ("" if all(same.values()) else f" (differ: {', '.join(d for d, ok in same.items() if not ok)})"))
    if copies:
        base = ours(generated(1, int(src.name.split("-")[-1])))[4].set_index("detector").findings
        exact = (times.set_index("detector").findings == copies * base).all()
        print(f"every detector flags exactly {copies} x what it flags on one copy: {exact}")
        if not exact: return 1
    return 0 if all(same.values()) else 1

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, nargs="*", default=[1.0, 4.0]); ap.add_argument("--national", type=int, default=0)
    ap.add_argument("--weeks", type=int, default=13); ap.add_argument("--one", help=argparse.SUPPRESS)
    ap.add_argument("--copies", type=int, default=0, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.one: return one(Path(a.one), a.copies)
    runs = [(f"scale {s:g}, {a.weeks} weeks, 14 regions", generated(s, a.weeks), 0) for s in a.scale]
    if a.national: runs.append((f"national: scale 1 tiled x{a.national}", tiled(a.national, a.weeks), a.national))
    rc = 0
    for title, src, copies in runs:
        print(f"== {title}", flush=True)
        rc |= subprocess.run([sys.executable, __file__, "--one", str(src), "--copies", str(copies)]).returncode
    return rc

if __name__ == "__main__": sys.exit(main())
