"""The same dataset written as CSV, Parquet, XLSX, a DuckDB file, a SQLite and a PostgreSQL database loads to equal frames."""
import glob, os, shutil, socket, subprocess, sys, tempfile, warnings
from pathlib import Path
import pandas as pd
import pytest
from dtsj_analysis.demo import make_demo
from dtsj_analysis.load import load_dataset, save_dataset

@pytest.fixture(scope="module")
def small_demo():
    "One region, six weeks, a fifth of the volume: every table, small enough for XLSX."
    tables, _ = make_demo(seed=1, weeks=6, regions="navoi", scale=0.2)
    return tables

def quiet_load(source):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_dataset(source)

def assert_same_tables(a, b):
    assert sorted(a.tables) == sorted(b.tables)
    for name in a.tables:
        x, y = a.tables[name], b.tables[name]
        x, y = (t.sort_values(list(x.columns[:3])).reset_index(drop=True) for t in (x, y[x.columns]))
        pd.testing.assert_frame_equal(x, y, check_dtype=True, obj=name)

@pytest.fixture(scope="module")
def reference(small_demo, tmp_path_factory):
    out = tmp_path_factory.mktemp("parquet")
    save_dataset(small_demo, out, "parquet")
    return quiet_load(out)

@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_folder_formats_load_equal(small_demo, reference, tmp_path, fmt):
    save_dataset(small_demo, tmp_path, fmt)
    assert_same_tables(reference, quiet_load(tmp_path))

def test_mixed_folder(small_demo, reference, tmp_path):
    "One table as XLSX, one as CSV, the rest Parquet."
    save_dataset(small_demo, tmp_path, "parquet")
    save_dataset({"drugs": small_demo["drugs"]}, tmp_path, "xlsx"); (tmp_path / "drugs.parquet").unlink()
    save_dataset({"patients": small_demo["patients"]}, tmp_path, "csv"); (tmp_path / "patients.parquet").unlink()
    assert_same_tables(reference, quiet_load(tmp_path))

def test_duckdb_file(small_demo, reference, tmp_path):
    save_dataset(small_demo, tmp_path / "demo.duckdb")
    assert_same_tables(reference, quiet_load(tmp_path / "demo.duckdb"))

def test_sqlite_url(small_demo, reference, tmp_path):
    "A database other than PostgreSQL is streamed in batches (PostgreSQL is read through COPY)."
    url = f"sqlite:///{tmp_path / 'demo.sqlite'}"
    save_dataset(small_demo, url)
    assert_same_tables(reference, quiet_load(url))

def test_identifiers_keep_leading_zeros(reference):
    assert reference.drugs.drug_code.str.startswith("0").any()
    assert reference.prescriptions.prescription_id.map(type).eq(str).all()

# --- PostgreSQL: a real server from Debian's package, started on loopback (conftest.postgres_url) -------------

def test_postgresql_url(small_demo, reference, postgres_url):
    save_dataset(small_demo, postgres_url)
    assert_same_tables(reference, quiet_load(postgres_url))

def test_postgresql_odd_names_and_text(small_demo, postgres_url):
    "Read through COPY: a column name with % and quotes, and text with commas, quotes and line breaks, come back as they were."
    t = {k: v.copy() for k, v in small_demo.items()}
    t["pharmacies"]['dose% "x"'] = 'a, "b"\nc %s'
    save_dataset(t, postgres_url)
    ds = quiet_load(postgres_url)
    assert ds.pharmacies['dose% "x"'].eq('a, "b"\nc %s').all() and len(ds.pharmacies) == len(t["pharmacies"])

def test_postgresql_cli_validate(small_demo, postgres_url):
    save_dataset(small_demo, postgres_url)
    r = subprocess.run([str(Path(sys.executable).parent / "dtsj"), "validate", "--data", postgres_url], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "prescriptions" in r.stdout

def test_ingest_from_postgresql_into_a_store(small_demo, postgres_url, tmp_path):
    "The store is filled from PostgreSQL in bounded batches; a second ingest of the same database changes no content."
    from dtsj_analysis.load import ingest, Dataset
    save_dataset(small_demo, postgres_url)
    store = tmp_path / "store.duckdb"
    r = ingest(postgres_url, store)
    assert r.changed and r.tables["prescriptions"]["rows"] == len(small_demo["prescriptions"])
    fp = Dataset.open(store).fingerprint()
    ingest(postgres_url, store)
    assert Dataset.open(store).fingerprint() == fp

def test_ingest_twice_and_interrupted(tmp_path):
    "A second ingest of the demo changes nothing; an ingest killed half-way leaves the store as it was."
    import signal, time
    from dtsj_analysis.demo import write_demo
    from dtsj_analysis.load import ingest
    src = write_demo(tmp_path / "demo", seed=3, regions="navoi,bukhara", weeks=6)
    store = tmp_path / "store.duckdb"
    assert ingest(src, store).changed
    before = store.read_bytes()
    assert not ingest(src, store).changed and store.read_bytes() == before
    newer = tmp_path / "newer"; shutil.copytree(src, newer)
    pd.read_parquet(newer / "dispensings.parquet").assign(amount_claimed=1.0).to_parquet(newer / "dispensings.parquet")
    p = subprocess.Popen([sys.executable, "-c", f"from dtsj_analysis.load import ingest; ingest({str(newer)!r}, {str(store)!r})"])
    t0 = time.monotonic()
    while not list(tmp_path.glob(f".store.duckdb.{p.pid}.tmp")) and time.monotonic() - t0 < 60: time.sleep(0.005)
    p.send_signal(signal.SIGKILL); p.wait()                  # killed while it works on its copy of the store
    assert store.read_bytes() == before
    assert not ingest(src, store).changed and store.read_bytes() == before    # the dead writer's copy is cleaned, the store as it was
    assert not [f for f in tmp_path.iterdir() if f.name.startswith(".store")]
