"""How the detectors run on DuckDB and on Apache Spark: Ibis expressions, or portable SQL transpiled by SQLGlot, measured.

    python benchmarks/engines.py --data DIR [--weeks 2025-04-14,2025-04-21] [--runs 5] [--spark-runs 3] [--no-spark] [--survey]

DIR is a folder of the contract's tables as Parquet (`dtsj demo-data`'s output, or `benchmarks/detect.py`'s
data/bench/scale-4-weeks-13, about 1M prescriptions). Two hard detectors, reserve_stock_rx (an as-of lookup) and
doctor_shopping (an interval self-join), run as:

- baseline: the library's detector on its store (`load_dataset(DIR)`, `Dataset.sql`), also the reference; on Spark
  (`SparkDataset`) it runs unchanged, to show where it breaks;
- portable: the query without DuckDB-only syntax, in the duckdb dialect with `$name` parameters; DuckDB runs it as it
  is (parameters bound), Spark runs it transpiled by SQLGlot with the parameters rendered as typed literals.
  reserve_stock_rx's as-of lookup is a range join then row_number (window) or arg_max; doctor_shopping keeps the
  dispensed prescriptions by a join and DISTINCT (as today) or by a semi join;
- portable, literals: the same with literals instead of bound parameters, through SQLGlot duckdb -> duckdb (what one
  code path for both engines would run on DuckDB);
- ibis: Ibis expressions compiled to each backend (reserve_stock_rx also with Ibis's asof_join); left out when Ibis is
  not installed.

Every variant is checked row for row against the reference on (entity_id, region, district, score, amount_at_risk)
for every week of --weeks, on DuckDB (the store `load_dataset` made, sorted by date) and on Spark local[2]
(`SparkDataset`) over the store's contract tables exported as Parquet (DIR-store-parquet). On the last week they are
timed in rounds (each round runs every variant once): the median of --runs rounds on DuckDB, of --spark-runs on
Spark. Prints the lint of every detector's queries (`not_portable`), the table variant x engine x seconds and
equality, and the seconds Ibis takes to build and compile an expression and SQLGlot to transpile a query. --survey also runs
every rule and behaviour detector's own function, unchanged, on SparkDataset against the library.
"""
import argparse, logging, re, statistics, sys, time, warnings
from datetime import date, datetime
from pathlib import Path
import numpy as np
import pandas as pd
import sqlglot
from sqlglot import exp
from dtsj_analysis.engine import Period
from dtsj_analysis.load import load_dataset
from dtsj_analysis.rules import REIMBURSED, ATC_PRICE, RX_VALUE, reserve_stock_rx
from dtsj_analysis.behaviour import SHOPPING_PAIRS, doctor_shopping

KEY = ["entity_id", "region", "district", "score", "amount_at_risk"]

# ---------------------------------------------------------------------------------------------------------------------
# Portable SQL: duckdb dialect, no ASOF JOIN / QUALIFY / ordered aggregates; `$name` parameters

RESERVE_HITS = {
    # the as-of lookup as a range join on (facility, atc, as_of in [day - max_age, day]), the latest snapshot kept
    "window": """
        hits AS (SELECT * FROM (
                   SELECT r.*, st.as_of, st.quantity_on_hand,
                          row_number() OVER (PARTITION BY r.prescription_id ORDER BY st.as_of DESC) AS nth
                   FROM r JOIN st ON st.facility_id = r.facility_id AND st.atc_code = r.atc_code
                                 AND st.as_of <= r.day AND date_diff('day', st.as_of, r.day) <= $max_age_days) h
                 WHERE nth = 1)""",
    "argmax": """
        latest AS (SELECT r.prescription_id, max(st.as_of) AS as_of, arg_max(st.quantity_on_hand, st.as_of) AS quantity_on_hand
                   FROM r JOIN st ON st.facility_id = r.facility_id AND st.atc_code = r.atc_code
                                 AND st.as_of <= r.day AND date_diff('day', st.as_of, r.day) <= $max_age_days
                   GROUP BY r.prescription_id),
        hits AS (SELECT r.*, l.as_of, l.quantity_on_hand FROM r JOIN latest l USING (prescription_id))"""}

def reserve_portable(period, max_age_days=7, lookup="window"):
    "reserve_stock_rx in portable SQL, the as-of lookup done by `lookup` (window or argmax)."
    return f"""
        WITH r AS (SELECT prescription_id, facility_id, atc_code, quantity, date_trunc('day', issued_at) AS day
                   FROM prescriptions WHERE {REIMBURSED} AND issued_at >= $start AND issued_at < $end),
             st AS (SELECT facility_id, atc_code, as_of, quantity_on_hand FROM reserve_stock
                    WHERE as_of >= $since AND as_of < $end),
        {RESERVE_HITS[lookup]}
        SELECT r.prescription_id AS entity_id, fa.region, fa.district, least(1.0, 0.5 * r.quantity_on_hand / r.quantity) AS score,
               {RX_VALUE} AS amount_at_risk, r.day AS issued_at, r.quantity, r.atc_code, r.as_of, r.quantity_on_hand
        FROM hits r LEFT JOIN facilities fa ON fa.facility_id = r.facility_id LEFT JOIN {ATC_PRICE} ap ON ap.atc_code = r.atc_code
        WHERE r.quantity_on_hand >= r.quantity
        ORDER BY r.prescription_id""", dict(start=period.start, end=period.end, max_age_days=max_age_days,
                                            since=period.start - pd.Timedelta(days=max_age_days))

HELD_BY_SEMI_JOIN = """
    held AS (SELECT w.*, date_trunc('day', w.issued_at) AS day,
                    date_trunc('day', w.issued_at) + w.days_supply * INTERVAL 1 DAY AS until
             FROM in_window w SEMI JOIN candidates USING (patient_id, atc_code)
                  SEMI JOIN (SELECT prescription_id FROM dispensings WHERE dispensed_at < $end) d USING (prescription_id)),"""

def shopping_portable(period, lookback_days=90, semi=False):
    """doctor_shopping in portable SQL: the library's query (one row per patient and region) with the codes listed by
    arrays, not string_agg(DISTINCT .. ORDER BY ..); with `semi`, the dispensed prescriptions kept by a semi join
    instead of a join and DISTINCT."""
    # string_agg(DISTINCT .. ORDER BY ..) becomes Spark's LISTAGG(DISTINCT ..) WITHIN GROUP, which Spark 4.0 cannot run beside
    # another DISTINCT aggregate (ClassCastException, fixed by apache/spark#51117 after 4.0)
    pairs = re.sub(r"\n    held AS \(.*?AND d.dispensed_at < \$end\),", HELD_BY_SEMI_JOIN, SHOPPING_PAIRS, flags=re.S) if semi else SHOPPING_PAIRS
    assert pairs != SHOPPING_PAIRS or not semi, "SHOPPING_PAIRS changed: update HELD_BY_SEMI_JOIN"
    return f"""
        WITH {pairs},
        involved AS (SELECT patient_id, atc_code, a_rx AS prescription_id, a_doc AS prescriber_id FROM pairs
                     UNION SELECT patient_id, atc_code, b_rx, b_doc FROM pairs),
        placed AS (SELECT i.*, w.issued_at, fa.region, fa.district,
                          row_number() OVER (PARTITION BY i.patient_id, fa.region ORDER BY w.issued_at DESC, i.prescription_id DESC) AS recency
                   FROM involved i JOIN in_window w ON w.prescription_id = i.prescription_id
                        LEFT JOIN facilities fa ON fa.facility_id = w.facility_id),
        claimed AS (SELECT prescription_id, sum(amount_claimed) AS claimed FROM dispensings
                    WHERE prescription_id IN (SELECT prescription_id FROM involved) GROUP BY prescription_id),
        patient AS (SELECT patient_id, count(DISTINCT prescription_id) AS n_rx, count(DISTINCT prescriber_id) AS n_prescribers,
                           array_to_string(list_sort(list_distinct(list(atc_code))), ', ') AS atc_code
                    FROM placed GROUP BY patient_id),
        here AS (SELECT p.patient_id, p.region, max(CASE WHEN p.recency = 1 THEN p.district END) AS district, count(*) AS n_here,
                        coalesce(sum(c.claimed), 0) AS amount_at_risk
                 FROM placed p LEFT JOIN claimed c ON c.prescription_id = p.prescription_id GROUP BY p.patient_id, p.region)
        SELECT h.patient_id AS entity_id, h.region, h.district, t.n_rx, t.n_prescribers,
               least(1.0, 0.5 + 0.25 * (t.n_prescribers - 1)) AS score, h.amount_at_risk, t.atc_code, h.n_here,
               CASE WHEN h.n_here < t.n_rx THEN '; улардан ' || CAST(h.n_here AS VARCHAR) || ' таси шу ҳудудда ёзилган' ELSE '' END AS here_uz,
               CASE WHEN h.n_here < t.n_rx THEN '; из них ' || CAST(h.n_here AS VARCHAR) || ' выписаны в этом регионе' ELSE '' END AS here_ru,
               CASE WHEN h.n_here < t.n_rx THEN '; ' || CAST(h.n_here AS VARCHAR) || ' of them issued in this region' ELSE '' END AS here_en
        FROM here h JOIN patient t ON t.patient_id = h.patient_id
        ORDER BY h.patient_id, h.region""", dict(start=period.start, end=period.end,
                                                  since=period.start - pd.Timedelta(days=lookback_days))

# ---------------------------------------------------------------------------------------------------------------------
# Parameters: bound by DuckDB; rendered by SQLGlot as typed literals for any other dialect

def not_portable(query: str) -> list[str]:
    "DuckDB-only constructs in `query` that SQLGlot cannot carry to Spark (it passes ASOF through as an alias, silently)."
    tree, found = sqlglot.parse_one(query, read="duckdb"), []
    if any(str(j.args.get("method") or "").upper() == "ASOF" for j in tree.find_all(exp.Join)): found.append("ASOF JOIN")
    if any(isinstance(o.parent, (exp.AggFunc, exp.Anonymous)) or isinstance(o.this, exp.AggFunc) for o in tree.find_all(exp.Order)
           if not isinstance(o.parent, (exp.Select, exp.Window, exp.WithinGroup, exp.Union))): found.append("ordered aggregate")
    if tree.find(exp.Qualify): found.append("QUALIFY")
    if tree.find(exp.GroupConcat): found.append("string_agg (LISTAGG on Spark)")
    return found

class Recording:
    "A dataset that runs `.sql` on `ds` and records every query it is given."
    def __init__(self, ds): self.ds, self.queries = ds, []
    def sql(self, query, **params): self.queries.append(query); return self.ds.sql(query, **params)
    def __getattr__(self, name): return getattr(self.ds, name)

def lint(ds, period) -> dict:
    "The DuckDB-only constructs in the queries of every rule and behaviour detector, run on `ds` for `period`."
    from dtsj_analysis.engine import resolve, detector_ids
    out = {}
    for d in resolve(detector_ids("rule") + detector_ids("behaviour")):
        rec = Recording(ds); d.fn(rec, period, **d.params)
        out[d.id] = sorted({f for q in rec.queries for f in not_portable(q)})
    return out

def literal(v) -> exp.Expression:
    "A SQL literal of Python value `v`, typed as DuckDB would bind it (a float is a DOUBLE, not a DECIMAL)."
    if v is None: return exp.Null()
    if isinstance(v, (bool, np.bool_)): return exp.Boolean(this=bool(v))
    if isinstance(v, (pd.Timestamp, datetime)):   # DuckDB's TIMESTAMP has no zone: Spark's TIMESTAMP_NTZ
        return exp.cast(exp.Literal.string(pd.Timestamp(v).isoformat(sep=" ")), exp.DataType.build("TIMESTAMP", dialect="duckdb"))
    if isinstance(v, date): return exp.cast(exp.Literal.string(v.isoformat()), "DATE")
    if isinstance(v, (int, np.integer)): return exp.Literal.number(int(v))
    if isinstance(v, (float, np.floating)):
        if not np.isfinite(v): raise ValueError(f"cannot write {v!r} as a SQL literal")
        return exp.cast(exp.Literal.number(repr(float(v))), "DOUBLE")
    if isinstance(v, str): return exp.Literal.string(v)
    raise TypeError(f"no SQL literal for {type(v).__name__} {v!r}")

def transpile(query: str | exp.Expression, params: dict, dialect: str = "spark") -> str:
    "DuckDB `query` (text or parsed) in `dialect`, its `$name` parameters replaced by literals of `params`."
    tree = query if isinstance(query, exp.Expression) else sqlglot.parse_one(query, read="duckdb")
    missing = {p.name for p in tree.find_all(exp.Placeholder)} - set(params)
    if missing: raise KeyError(f"no value for parameter(s) {', '.join(sorted(missing))}")
    tree = tree.transform(lambda n: literal(params[n.name]) if isinstance(n, exp.Placeholder) and n.name else n)
    return tree.sql(dialect=dialect, unsupported_level=sqlglot.ErrorLevel.RAISE)

# ---------------------------------------------------------------------------------------------------------------------
# Ibis expressions: `t(name)` gives a table of the backend

def reserve_ibis(t, period, max_age_days=7, asof=False):
    "reserve_stock_rx as an Ibis expression: a range join and row_number, or Ibis's asof_join."
    import ibis
    rx, stock, fac, drugs = t("prescriptions"), t("reserve_stock"), t("facilities"), t("drugs")
    r = rx.filter(rx.reimbursed.fill_null(False), rx.issued_at >= period.start, rx.issued_at < period.end)
    r = r.select("prescription_id", "facility_id", "atc_code", "quantity", day=r.issued_at.truncate("D"))
    st = stock.filter(stock.as_of.notnull()).select("facility_id", "atc_code", "as_of", "quantity_on_hand")
    if asof:
        h = r.asof_join(st, on=r.day >= st.as_of, predicates=["facility_id", "atc_code"])
        h = h.select("prescription_id", "facility_id", "atc_code", "quantity", "day", "as_of", "quantity_on_hand")
        h = h.filter(h.day.date().delta(h.as_of.cast("date"), unit="day") <= max_age_days)
    else:
        st = st.filter(st.as_of >= period.start - pd.Timedelta(days=max_age_days), st.as_of < period.end)
        h = r.join(st, [r.facility_id == st.facility_id, r.atc_code == st.atc_code, st.as_of <= r.day,
                        st.as_of >= r.day - ibis.interval(days=max_age_days)])
        h = h.mutate(nth=ibis.row_number().over(group_by=h.prescription_id, order_by=ibis.desc(h.as_of)))
        h = h.filter(h.nth == 0)
    h = h.filter(h.quantity_on_hand >= h.quantity)
    price = drugs.group_by("atc_code").agg(atc_price=drugs.reference_price.median())
    place = fac.select("facility_id", "region", "district")
    j = h.left_join(place, h.facility_id == place.facility_id).left_join(price, h.atc_code == price.atc_code)
    return j.select(entity_id=h.prescription_id, region=place.region, district=place.district,
                    score=ibis.least(1.0, 0.5 * h.quantity_on_hand / h.quantity), amount_at_risk=h.quantity * price.atc_price,
                    issued_at=h.day, quantity=h.quantity, atc_code=h.atc_code, as_of=h.as_of,
                    quantity_on_hand=h.quantity_on_hand).order_by("entity_id")

def shopping_groups(x):
    "(patient_id, atc_code) groups of `x` with two prescribers or more, one prescription in the period."
    g = x.group_by(["patient_id", "atc_code"]).agg(lo=x.prescriber_id.min(), hi=x.prescriber_id.max(), any_in=x.in_period.any())
    return g.filter(g.lo != g.hi, g.any_in).select("patient_id", "atc_code")

def shopping_ibis(t, period, lookback_days=90):
    "doctor_shopping as an Ibis expression."
    import ibis
    from ibis import _
    start, end, since = period.start, period.end, period.start - pd.Timedelta(days=lookback_days)
    rx, dsp, fac = t("prescriptions"), t("dispensings"), t("facilities")
    w = rx.filter(rx.reimbursed.fill_null(False), rx.issued_at >= since, rx.issued_at < end)
    w = w.select("prescription_id", "patient_id", "atc_code", "prescriber_id", "facility_id", "issued_at", "days_supply",
                 in_period=w.issued_at >= start)
    cand = w.semi_join(shopping_groups(w), ["patient_id", "atc_code"])
    d = dsp.filter(dsp.dispensed_at < end).select("prescription_id")
    held = cand.semi_join(d, "prescription_id").mutate(day=_.issued_at.truncate("D"))
    held = held.mutate(until=held.day + held.days_supply.as_interval("D"))
    many = held.semi_join(shopping_groups(held), ["patient_id", "atc_code"])
    a, b = many.view(), many.view()
    pairs = a.join(b, [a.patient_id == b.patient_id, a.atc_code == b.atc_code, a.prescription_id < b.prescription_id,
                       a.prescriber_id != b.prescriber_id, a.day < b.until, b.day < a.until, a.in_period | b.in_period])
    pairs = pairs.select(patient_id=a.patient_id, atc_code=a.atc_code, a_rx=a.prescription_id, a_doc=a.prescriber_id,
                         b_rx=b.prescription_id, b_doc=b.prescriber_id)
    involved = pairs.select("patient_id", "atc_code", prescription_id=pairs.a_rx, prescriber_id=pairs.a_doc).union(
        pairs.select("patient_id", "atc_code", prescription_id=pairs.b_rx, prescriber_id=pairs.b_doc), distinct=True)
    paid = dsp.filter(dsp.prescription_id.isin(involved.prescription_id))
    claimed = paid.group_by("prescription_id").agg(claimed=paid.amount_claimed.sum())
    pw = involved.join(w, involved.prescription_id == w.prescription_id)
    pw = pw.left_join(fac, pw.facility_id == fac.facility_id).select(
        "patient_id", "atc_code", "prescription_id", "prescriber_id", "issued_at", fac.region, fac.district)
    placed = pw.mutate(recency=ibis.row_number().over(group_by=[pw.patient_id, pw.region],
                                                      order_by=[ibis.desc(pw.issued_at), ibis.desc(pw.prescription_id)]))
    patient = placed.group_by("patient_id").agg(n_rx=placed.prescription_id.nunique(), n_prescribers=placed.prescriber_id.nunique(),
                                                atc_code=ibis.literal(", ").join(placed.atc_code.collect(distinct=True).sort()))
    pc = placed.left_join(claimed, placed.prescription_id == claimed.prescription_id).select(placed, claimed.claimed)
    here = pc.group_by(["patient_id", "region"]).agg(district=pc.district.max(where=pc.recency == 0), n_here=pc.count(),
                                                     amount_at_risk=pc.claimed.sum().fill_null(0))
    j = here.join(patient, here.patient_id == patient.patient_id)
    return j.select(entity_id=here.patient_id, region=here.region, district=here.district, n_rx=patient.n_rx,
                    n_prescribers=patient.n_prescribers, score=ibis.least(1.0, 0.5 + 0.25 * (patient.n_prescribers - 1)),
                    amount_at_risk=here.amount_at_risk, atc_code=patient.atc_code, n_here=here.n_here).order_by(["entity_id", "region"])

# ---------------------------------------------------------------------------------------------------------------------
# The engines: a DuckDB store, and a Spark dataset with the same `.sql(query, **params)` as `Dataset.sql`

def export(ds, dest: Path) -> Path:
    "The contract's tables of store `ds` as `dest/<table>.parquet` (made once), without the store's own columns: what Spark reads."
    if dest.exists(): return dest
    part = dest.with_name(dest.name + ".part"); part.mkdir(parents=True, exist_ok=True)
    for name in ds.tables:
        cols = [(r[0], r[1]) for r in ds.con.execute(f'DESCRIBE "{name}"').fetchall() if not r[0].startswith("_")]
        # Spark 4 cannot read nanosecond timestamps (PARQUET_TYPE_ILLEGAL): the contract's are microseconds
        sel = ", ".join(f'"{c}"::TIMESTAMP AS "{c}"' if t == "TIMESTAMP_NS" else f'"{c}"' for c, t in cols)
        ds.con.execute(f"COPY (SELECT {sel} FROM \"{name}\") TO '{part / name}.parquet' (FORMAT parquet)")
    part.rename(dest)
    return dest

def duck_sql(con, query, params):
    "Run `query` on DuckDB connection `con` with the `$name` parameters it uses; a frame."
    return con.execute(query, {k: v for k, v in params.items() if f"${k}" in query} or None).df()

def spark_session(cores: int = 2):
    "A local Spark session for the detectors: no UI, UTC, timestamps without zone (as the contract's), small shuffles."
    from pyspark.sql import SparkSession
    spark = (SparkSession.builder.master(f"local[{cores}]").appName("dtsj-engines")
             .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
             .config("spark.sql.session.timeZone", "UTC").config("spark.sql.timestampType", "TIMESTAMP_NTZ")
             .config("spark.sql.shuffle.partitions", str(4 * cores)).config("spark.driver.memory", "4g")
             .config("spark.sql.execution.arrow.pyspark.enabled", "true").getOrCreate())
    spark.sparkContext.setLogLevel("OFF")
    logging.getLogger("SQLQueryContextLogger").disabled = True   # pyspark's own logger prints each failed query's plan
    return spark

class SparkDataset:
    "The contract's tables as Spark temporary views of Parquet files; `.sql` as `Dataset.sql`, the DuckDB SQL transpiled."
    def __init__(self, spark, folder):
        self.spark, self.cache = spark, {}
        for p in sorted(Path(folder).glob("*.parquet")): spark.read.parquet(str(p)).createOrReplaceTempView(p.stem)
    def cached(self, key, make):
        "The value of `make()` computed once per dataset (as `Dataset.cached`)."
        if key not in self.cache: self.cache[key] = make()
        return self.cache[key]
    def sql(self, query: str, **params) -> pd.DataFrame | None:
        "The result of DuckDB `query`, transpiled to Spark SQL with `params` as literals; CREATE TEMP TABLE makes a cached view."
        tree = sqlglot.parse_one(query, read="duckdb")
        if isinstance(tree, exp.Create) and tree.kind == "TABLE":   # facts_table: a temp table -> a cached temp view
            df = self.spark.sql(transpile(tree.expression, params))
            df.cache().createOrReplaceTempView(tree.this.name)
            return None
        return self.spark.sql(transpile(tree, params)).toPandas()

# ---------------------------------------------------------------------------------------------------------------------
# Measuring

def rows(df: pd.DataFrame, cols) -> pd.DataFrame:
    "Columns `cols` of a detector's result, in entity order, with plain dtypes."
    d = df[cols].copy()
    for c in cols: d[c] = d[c].astype("float64" if c in ("score", "amount_at_risk") else "str")
    return d.sort_values(cols, kind="stable").reset_index(drop=True)

def compare(got: pd.DataFrame, ref: pd.DataFrame) -> str:
    "'exact', 'within 1e-9' (floats summed in another order) or what differs, on the columns of `KEY` that `ref` has."
    cols = [c for c in KEY if c in ref]
    a, b = rows(got, cols), rows(ref, cols)
    if len(a) != len(b): return f"DIFFERENT: {len(a)} rows, expected {len(b)}"
    text, num = [c for c in cols if c not in ("score", "amount_at_risk")], [c for c in cols if c in ("score", "amount_at_risk")]
    if not a[text].equals(b[text]): return "DIFFERENT entities or places"
    x, y = a[num].to_numpy(), b[num].to_numpy()
    if np.array_equal(x, y, equal_nan=True): return "exact"
    return "within 1e-9" if np.allclose(x, y, rtol=1e-9, atol=0, equal_nan=True) else "DIFFERENT scores or amounts"

def timed(fn, runs: int):
    "The last result of `fn()` and the seconds of each of `runs` calls."
    secs, out = [], None
    for _ in range(runs):
        t = time.perf_counter(); out = fn(); secs.append(time.perf_counter() - t)
    return out, secs

DETECTORS = {"reserve_stock_rx": (reserve_stock_rx, {"window": lambda p: reserve_portable(p, lookup="window"),
                                                     "argmax": lambda p: reserve_portable(p, lookup="argmax")},
                                  {"ibis": reserve_ibis, "ibis asof_join": lambda t, p: reserve_ibis(t, p, asof=True)}),
             "doctor_shopping": (doctor_shopping, {"": shopping_portable, "semi join": lambda p: shopping_portable(p, semi=True)},
                                 {"ibis": shopping_ibis})}

def duck_variants(con, ib, ds, det, period):
    "The DuckDB variants of detector `det` for `period`: name -> a function returning its frame."
    fn, portable, ibis_fns = DETECTORS[det]
    out = {"baseline: the library on the store": lambda: fn(ds, period)}
    for name, make in portable.items():
        pq, pp = make(period)
        out[f"portable {name}".strip()] = lambda pq=pq, pp=pp: duck_sql(con, pq, pp)
        out[f"portable {name}".strip() + ", literals"] = lambda pq=pq, pp=pp: con.execute(transpile(pq, pp, "duckdb")).df()
    for name, f in ibis_fns.items() if ib is not None else ():
        out[name] = lambda f=f: ib.execute(f(ib.table, period))
    return out

def spark_variants(sds, ib, det, period):
    "The Spark variants of detector `det` for `period` (the baseline included, to show why it cannot run)."
    fn, portable, ibis_fns = DETECTORS[det]
    out = {"baseline: the library on the store": lambda: fn(sds, period)}
    for name, make in portable.items():
        out[f"portable {name}".strip()] = lambda make=make: (lambda q, p: sds.sql(q, **p))(*make(period))
    for name, f in ibis_fns.items() if ib is not None else ():
        out[name] = lambda f=f: ib.execute(f(ib.table, period))
    return out

RANK = ("exact", "within", "DIFFERENT", "fails")

def measure(engine, variants, refs, weeks, runs, results):
    """Check every variant against `refs` on every week (one run each, which also warms up); then time them on the last
    week in `runs` rounds, each running every variant once, so that the load of the shared machine falls on all alike."""
    for det, make in variants.items():
        equal, timing = {}, {}
        for w in weeks:
            for name, run in make(det, w).items():
                try: out = run(); eq = compare(out, refs[det, w.start])
                except Exception as e: eq = f"fails: {type(e).__name__}: {str(e).strip().splitlines()[0][:100]}"
                print(f"  {det} {w.start.date()} {engine} {name}: {eq}", flush=True)
                if not eq.startswith(("exact", "within")): eq = f"{eq} ({w.start.date()})"
                old = equal.get(name, "exact")
                equal[name] = max(old, eq, key=lambda e: [e.startswith(k) for k in RANK].index(True))
                if w == weeks[-1] and eq.startswith(("exact", "within")): timing[name] = run
        secs = {name: [] for name in timing}
        for _ in range(runs):
            for name, run in timing.items():
                t = time.perf_counter(); run(); secs[name].append(time.perf_counter() - t)
        for name, eq in equal.items():
            sec = statistics.median(secs[name]) if secs.get(name) else np.nan
            if name in secs: print(f"  {det} {engine} {name}: {sec:.3f} s ({', '.join(f'{x:.2f}' for x in secs[name])})", flush=True)
            results.append(dict(detector=det, variant=name, engine=engine, seconds=sec, runs=len(secs.get(name, [])), equal=eq))

def survey(sds, ds, period) -> pd.DataFrame:
    "Every rule and behaviour detector's own function run unchanged on `sds` (Spark) against `ds` (the library on frames)."
    from dtsj_analysis.engine import resolve, detector_ids
    out = []
    for d in resolve(detector_ids("rule") + detector_ids("behaviour")):
        ref = d.fn(ds, period, **d.params)
        try:
            got, secs = timed(lambda: d.fn(sds, period, **d.params), 1)
            out.append(dict(detector=d.id, rows=len(ref), spark_s=round(secs[0], 1), result=compare(got, ref)))
        except Exception as e:
            out.append(dict(detector=d.id, rows=len(ref), spark_s=np.nan, result=f"fails: {type(e).__name__}: {str(e).strip().splitlines()[0][:90]}"))
        print(f"  survey {d.id}: {out[-1]['result']}", flush=True)
    return pd.DataFrame(out)

def compile_times(ib, period, runs):
    "Median seconds to build and compile each Ibis expression to SQL, and to transpile each portable query to Spark SQL."
    out = {}
    for det, (_, portable, fns) in DETECTORS.items():
        for name, make in portable.items():
            out[f"SQLGlot {det} portable {name}".strip()] = statistics.median(timed(lambda: transpile(*make(period)), runs)[1])
        for name, f in fns.items() if ib is not None else ():
            out[f"Ibis {det} {name}"] = statistics.median(timed(lambda: ib.compile(f(ib.table, period)), runs)[1])
    return out

def report(results: list, week, data) -> pd.DataFrame:
    "One row per detector and variant: seconds and equality on each engine, DuckDB seconds against the baseline's."
    t = pd.DataFrame(results)
    base = t[(t.engine == "duckdb") & t.variant.str.startswith("baseline")].set_index("detector").seconds   # on the store
    rows = []
    for (det, variant), g in t.groupby(["detector", "variant"], sort=False):
        r = {"detector": det, "variant": variant}
        for engine, e in g.groupby("engine", sort=False):
            e = e.iloc[0]
            r[f"{engine} s"] = round(e.seconds, 3)
            if engine == "duckdb": r["x baseline"] = round(e.seconds / base[det], 2)
            r[f"{engine} equal"] = e.equal if e.equal.startswith(("exact", "within")) else e.equal[:60]
        rows.append(r)
    return pd.DataFrame(rows)

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, type=Path, help="folder of the contract's tables as Parquet")
    ap.add_argument("--weeks", default="2025-04-14,2025-04-21", help="Mondays of the checked weeks; the last is timed")
    ap.add_argument("--runs", type=int, default=5); ap.add_argument("--spark-runs", type=int, default=3)
    ap.add_argument("--no-spark", action="store_true")
    ap.add_argument("--survey", action="store_true", help="also run every rule and behaviour detector unchanged on Spark")
    a = ap.parse_args(argv)
    weeks = [Period.of(d, pd.Timestamp(d) + pd.Timedelta(days=7)) for d in a.weeks.split(",")]
    try: import ibis
    except ImportError: ibis = None; print("Ibis is not installed: its variants are left out (pip install 'ibis-framework[duckdb,pyspark]')")
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore"); ds = load_dataset(a.data)
    print(f"store {ds.path}: {time.perf_counter() - t:.1f} s; {ds}", flush=True)
    parquet = export(ds, a.data.with_name(a.data.name + "-store-parquet"))
    refs = {(det, w.start): DETECTORS[det][0](ds, w) for det in DETECTORS for w in weeks}
    for (det, s), r in refs.items(): print(f"  reference {det} {s.date()}: {len(r)} rows (the library on the store)")
    results = []
    con = ds.con
    ib = ibis.duckdb.from_connection(con) if ibis else None
    measure("duckdb", {d: (lambda d, w: duck_variants(con, ib, ds, d, w)) for d in DETECTORS}, refs, weeks, a.runs, results)
    compiled = compile_times(ib, weeks[-1], a.runs)
    print("\nDuckDB-only constructs in each rule and behaviour detector's queries (not_portable):\n  "
          + "\n  ".join(f"{k}: {', '.join(v) or '-'}" for k, v in lint(ds, weeks[-1]).items()), flush=True)
    if not a.no_spark:
        t = time.perf_counter(); spark = spark_session(2)
        try:
            sds = SparkDataset(spark, parquet)
            print(f"spark session and views: {time.perf_counter() - t:.1f} s", flush=True)
            sib = ibis.pyspark.connect(spark) if ibis else None
            measure("spark", {d: (lambda d, w: spark_variants(sds, sib, d, w)) for d in DETECTORS}, refs, weeks,
                    a.spark_runs, results)
            if a.survey:
                found = survey(sds, ds, weeks[-1])
                print(f"\nevery rule and behaviour detector's function, unchanged, on SparkDataset, week {weeks[-1]}:")
                with pd.option_context("display.width", 250, "display.max_colwidth", 110): print(found.to_string(index=False))
        finally: spark.stop()
    table = report(results, weeks[-1], a.data)
    print(f"\nweek {weeks[-1]} on {a.data}: median seconds ({a.runs} runs on DuckDB, {a.spark_runs} on Spark); equal = the "
          f"compared columns against the library on the store, every week of {a.weeks}")
    with pd.option_context("display.width", 250, "display.max_colwidth", 60): print(table.to_string(index=False))
    print("\nmedian seconds to build + compile an Ibis expression / to transpile a portable query with SQLGlot:\n  "
          + "\n  ".join(f"{k}: {v:.3f}" for k, v in compiled.items()))
    ok = [e for e in pd.DataFrame(results).itertuples() if e.engine == "duckdb" or e.variant.startswith("portable")]
    return 0 if all(e.equal.startswith(("exact", "within")) for e in ok) else 1

if __name__ == "__main__": sys.exit(main())
