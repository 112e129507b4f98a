"""The same dataset written as CSV, Parquet, XLSX, a DuckDB file and a PostgreSQL database loads to equal frames."""
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

def test_identifiers_keep_leading_zeros(reference):
    assert reference.drugs.drug_code.str.startswith("0").any()
    assert reference.prescriptions.prescription_id.map(type).eq(str).all()

# --- PostgreSQL: a real server from Debian's package, started on loopback for this module -------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0)); return s.getsockname()[1]

@pytest.fixture(scope="module")
def postgres_url(tmp_path_factory):
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not bins: pytest.fail("PostgreSQL is not installed: run `make sysdeps` (apt-get install postgresql)")
    bindir = Path(bins[-1]).parent
    root = Path(tempfile.mkdtemp(prefix="dtsj-pg-")); data = root / "data"   # not under pytest's 0700 tree: the server user must reach it
    as_user = []
    if os.geteuid() == 0:   # initdb refuses root: run the server as the postgres user
        shutil.chown(root, "postgres"); as_user = ["runuser", "-u", "postgres", "--"]
    subprocess.run(as_user + [str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "dtsj", "--no-sync"],
                   check=True, capture_output=True)
    port = free_port()
    subprocess.run(as_user + [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-w", "-o",
                    f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={root} -c fsync=off", "start"],
                   check=True, capture_output=True)
    try:
        yield f"postgresql+psycopg2://dtsj@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(as_user + [str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)

def test_postgresql_url(small_demo, reference, postgres_url):
    save_dataset(small_demo, postgres_url)
    assert_same_tables(reference, quiet_load(postgres_url))

def test_postgresql_cli_validate(small_demo, postgres_url):
    save_dataset(small_demo, postgres_url)
    r = subprocess.run([str(Path(sys.executable).parent / "dtsj"), "validate", "--data", postgres_url], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "prescriptions" in r.stdout
