"""The detectors on a real Apache Spark (PySpark in local mode) give the findings DuckDB gives, row for row.

Needs a Java 17+ runtime (Debian: default-jre-headless, which `make sysdeps` installs) and pyspark (in the `dev` extra):
without them the tests fail, saying what to install, rather than skip. One Spark session serves the whole module (the
command line's `--engine spark` runs on it too); the demo dataset (three regions, twelve weeks) is exported as Parquet
once. The lint needs DuckDB only.
"""
import numpy as np
import pandas as pd
import pytest
from dtsj_analysis.engine import Period, detector_ids, run_detectors, FINDINGS_COLUMNS
from dtsj_analysis.outliers import prescriber_features, pharmacy_features
from dtsj_analysis.spark import lint, export_parquet, spark_session, SparkDataset, spark_dataset, need_spark, SparkUnavailable
from dtsj_analysis.load import as_store
from dtsj_analysis.cli import main

WEEKS = ["2025-04-21", "2025-03-31"]     # the demo's report week (every rule and behaviour detector flags) and one before
# WEEKS[0] is compared through the command line (`test_cli_detect_on_spark_writes_duckdbs_findings`: every detector, row for row, with
# its explanation), WEEKS[1] detector by detector through the library: each Spark run of a detector costs 4 s, so none is run twice.
LIBRARY_WEEKS = WEEKS[1:]
DETECTORS = detector_ids("rule") + detector_ids("behaviour")
KEY = ["detector", "entity_type", "entity_id", "region", "district"]

def test_every_detector_query_is_portable(demo):
    "No registered detector's query uses a DuckDB-only construct or one SQLGlot cannot write for Spark (DuckDB only, no Java)."
    for week in WEEKS:
        assert {k: v for k, v in lint(demo, Period.week(week)).items() if v} == {}

@pytest.fixture(scope="module")
def spark():
    try: need_spark()
    except SparkUnavailable as e: pytest.fail(f"{e}: the Spark tests need it (make sysdeps; pip install -e '.[dev]')")
    s = spark_session("local[2]", shuffle_partitions=2)
    yield s
    s.stop()

@pytest.fixture(scope="module")
def sds(spark, demo, tmp_path_factory):
    ds = SparkDataset(spark, export_parquet(demo, tmp_path_factory.mktemp("spark") / "demo"))
    yield ds
    ds.close()

@pytest.fixture(scope="module")
def on_spark(sds):
    "Each detector's findings table on Spark for each week (computed once): the engine's `run_detectors`, unchanged, or the error."
    out = {}
    for week in LIBRARY_WEEKS:
        p = Period.week(week)
        for det in DETECTORS:
            try: out[det, week] = run_detectors(sds, p.start, p.end, detectors=[det])
            except Exception as e: out[det, week] = e
    return out

def same_rows(got: pd.DataFrame, ref: pd.DataFrame):
    "Assert `got` equals `ref` row for row: the same entities in the same places and order, the same scores and amounts."
    assert got[KEY].astype("str").values.tolist() == ref[KEY].astype("str").values.tolist()
    for c in ("score", "amount_at_risk"):
        a, b = got[c].to_numpy("float64"), ref[c].to_numpy("float64")
        assert np.array_equal(a, b, equal_nan=True) or np.allclose(a, b, rtol=1e-12, atol=0, equal_nan=True), c

@pytest.mark.parametrize("week", LIBRARY_WEEKS)
@pytest.mark.parametrize("det", DETECTORS)
def test_same_findings_as_duckdb(on_spark, demo, det, week):
    "Every rule and behaviour detector: the findings on Spark are DuckDB's, row for row, with the same explanations."
    p = Period.week(week)
    ref, got = run_detectors(demo, p.start, p.end, detectors=[det]), on_spark[det, week]
    if isinstance(got, Exception): raise got
    same_rows(got, ref)
    assert got.explanation.tolist() == ref.explanation.tolist()

def same_values(got: pd.DataFrame, ref: pd.DataFrame, tol: float = 1e-9):
    "Assert frames `got` and `ref` have the same columns and rows, numbers equal to `tol` (relative, or absolute near 0)."
    assert got.columns.tolist() == ref.columns.tolist() and len(got) == len(ref)
    for c in ref.columns:
        if ref[c].dtype.kind in "fiub":
            assert np.allclose(got[c].to_numpy("float64"), ref[c].to_numpy("float64"), rtol=tol, atol=tol, equal_nan=True), c
        else: assert got[c].astype("str").tolist() == ref[c].astype("str").tolist(), c

@pytest.mark.parametrize("week", WEEKS[1:])    # WEEKS[0]: the command line's test compares the outliers' scores and shrunk features
@pytest.mark.parametrize("features", [prescriber_features, pharmacy_features], ids=["prescriber", "pharmacy"])
def test_outlier_features_equal(sds, demo, features, week):
    "The outliers' per-entity features on Spark equal DuckDB's to 1e-9: one row per entity, every count, mean and variance."
    ref, got = features(demo, Period.week(week)), features(sds, Period.week(week))
    assert len(ref) > 50
    same_values(got, ref)

def test_spark_dataset_exports_any_source_once(spark, demo, demo_dir):
    "A source that is not an export is validated into its store and exported once into the cache; the export is reused."
    ds = spark_dataset(demo_dir, spark=spark)
    made = ds.folder.stat().st_mtime_ns
    again = spark_dataset(demo_dir, spark=spark)
    assert again.folder == ds.folder and again.folder.stat().st_mtime_ns == made
    assert ds.fingerprint() == demo.fingerprint() and ds.tables == list(demo.tables)
    assert ds.sql("SELECT count(*) AS n FROM dispensings").n[0] == demo.counts()["dispensings"]

CLI_WEEK = ["--start", WEEKS[0], "--end", str(Period.week(WEEKS[0]).end.date())]

def test_cli_export_is_the_layout_spark_reads(spark, demo, demo_dir, tmp_path):
    "`dtsj export` writes the store as Parquet, the dated tables partitioned by week; Spark reads it as the store's tables."
    assert main(["export", "--store", str(as_store(demo_dir)), "--parquet", str(tmp_path / "pq")]) == 0
    weeks = demo.sql("SELECT DISTINCT CAST(date_trunc('week', issued_at) AS DATE) AS w FROM prescriptions ORDER BY w").w
    assert sorted(p.name for p in (tmp_path / "pq" / "prescriptions").iterdir()) == [f"week={w.date()}" for w in weeks]
    ds = SparkDataset(spark, tmp_path / "pq")
    assert ds.counts() == demo.counts() and ds.fingerprint() == demo.fingerprint()

def test_cli_detect_on_spark_writes_duckdbs_findings(spark, demo_dir, tmp_path):
    "`dtsj detect --engine spark` writes the findings table DuckDB's `dtsj detect` writes: every detector; the outliers' scores and features to 1e-9."
    out = {e: tmp_path / f"{e}.csv" for e in ("duckdb", "spark")}
    for e in out: assert main(["detect", "--data", str(demo_dir), *CLI_WEEK, "--engine", e, "--spark-master", "local[2]", "--out", str(out[e])]) == 0
    ref, got = (pd.read_csv(out[e], dtype=str, keep_default_na=False) for e in ("duckdb", "spark"))
    assert set(ref.detector) == set(detector_ids())          # every detector flags in this week: the comparison proves something of each
    for det in detector_ids():                               # detector by detector first, so that a difference names its detector
        a, b = (f[f.detector == det] for f in (got, ref))
        assert a[KEY + ["explanation"]].values.tolist() == b[KEY + ["explanation"]].values.tolist(), det
    assert got.columns.tolist() == ref.columns.tolist()
    numbers = [c for c in ref.columns if c not in FINDINGS_COLUMNS[:-3] and pd.to_numeric(ref[c].replace("", None), errors="coerce").notna().sum() == ref[c].ne("").sum()]
    text = [c for c in ref.columns if c not in numbers]     # the outliers' feature columns are numbers: equal to 1e-9
    assert "score" in numbers and "explanation" in text
    assert got[text].values.tolist() == ref[text].values.tolist()
    same_values(*(f[numbers].replace("", None).astype("float64") for f in (got, ref)))
