"""Hostile text, bad data and interrupts (issue 12): no identifier or secret leaks, errors stop only the regions they
touch, a stopped batch leaves nothing behind, bad input gets a sentence and never a traceback."""
import os, re, shutil, signal, subprocess, sys, time, warnings
from pathlib import Path
import duckdb
import pandas as pd
import psutil
import pytest
from hypothesis import given, settings, strategies as st, HealthCheck
from dtsj_analysis.cli import main
from dtsj_analysis.load import load_dataset, save_dataset, tiny_tables, cache_dir
from dtsj_analysis.weekly import week_model, region_report, WeekModel
from dtsj_analysis.publish import (render_page, make_report, render_title, render_headline, render_section_1, render_section_2,
                                   render_section_3, render_section_4)
from dtsj_analysis.batch import make_reports
from dtsj_analysis.privacy import leaks, visible_text, notebook_text, pdf_text, MASK
from dtsj_analysis.reference import LANGS

WEEK = "2025-04-21"
DTSJ = str(Path(sys.executable).parent / "dtsj")

def quiet_load(src, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore"); return load_dataset(src, **kw)

# --- 1. patient identifiers ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def model(demo):
    return week_model(demo, WEEK, 2)

@pytest.fixture(scope="module")
def patient_ids(demo):
    return demo.sql("SELECT patient_id FROM patients ORDER BY patient_id LIMIT 50").patient_id.tolist()

LETTERS = st.text(alphabet=st.sampled_from(list("abcxyzАБВабвгЎўҚқҒғҲҳЁё-_.,;:!?()«»\"'/ ")), min_size=0, max_size=6)

def free_text(ids):
    "Random free text in any script with patient identifiers and 14-digit numbers glued in anywhere."
    piece = st.one_of(LETTERS, st.sampled_from(ids), st.from_regex(r"\d{14}", fullmatch=True), st.integers(0, 99999).map(str))
    return st.lists(piece, min_size=1, max_size=6).map("".join)

def inject(m: WeekModel, texts: list) -> WeekModel:
    "The model with every text column a page shows from the data replaced by hostile `texts` (Navoi's rows)."
    t = {k: v.copy() for k, v in m.tables.items()}
    spots = [("balances", "name"), ("balances", "district"), ("outlets", "named"), ("appeals", "topic"), ("findings", "entity_name"),
             ("by_district", "district"), ("unfilled", "facility"), ("reserve", "facility"), ("reserve", "medicine")]
    for i, (table, col) in enumerate(spots):
        df = t[table]
        if len(df) and col in df: df.loc[df.region == "navoi", col] = texts[i % len(texts)]
    if len(t["appeals"]) == 0 or not (t["appeals"].region == "navoi").any():
        t["appeals"] = pd.concat([t["appeals"], pd.DataFrame([{"region": "navoi", "channel": "phone", "topic": texts[0], "n": 1, "resolved": 0, "median_hours": None}])])
    return WeekModel(m.period, m.history, t, m.meta)

TEXT_SECTIONS = [render_title, render_headline, render_section_1, render_section_2, render_section_3, render_section_4]

def test_hostile_free_text_never_publishes_an_identifier(demo, model, patient_ids):
    "Redaction alone (before the guard) leaves no identifier in any section that shows text from the data."
    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(free_text(patient_ids), min_size=3, max_size=3), st.sampled_from(LANGS))
    def check(texts, lang):
        r = region_report(inject(model, texts), "navoi", lang, demo.con)
        page = visible_text("".join(f(r) for f in TEXT_SECTIONS))
        assert leaks(demo.con, page) == set()
        assert not re.search(r"(?<!\d)\d{14}(?!\d)", page)
    check()

@pytest.fixture(scope="module")
def hostile_dir(demo, tmp_path_factory):
    "The demo with a Navoi pharmacy, appeal and facility that carry patient identifiers in their names."
    t = {k: v.copy() for k, v in demo.tables.items()}
    pids = t["patients"].patient_id.tolist()
    b = week_model(demo, WEEK, 2)["balances"]
    top = b[b.region == "navoi"].pharmacy_id.iloc[0]
    t["pharmacies"].loc[t["pharmacies"].pharmacy_id == top, "name"] = f"Apteka{pids[0]}"
    t["appeals"].loc[t["appeals"].region == "navoi", "topic"] = f"Бемор{pids[1]} шикояти"
    t["facilities"].loc[t["facilities"].region == "navoi", "name"] = f"{pids[2]}-сонли оилавий поликлиника"
    out = tmp_path_factory.mktemp("hostile") / "data"; save_dataset(t, out); return out, pids

@pytest.mark.parametrize("lang", ["en", "uz"])
def test_published_page_pdf_and_notebook_hold_no_identifier(hostile_dir, tmp_path, lang):
    src, pids = hostile_dir
    paths = make_report(src, "navoi", WEEK, lang, tmp_path)
    ds = quiet_load(src)
    for what, text in (("page", visible_text(paths["html"].read_text())), ("PDF", pdf_text(paths["pdf"])), ("notebook", notebook_text(paths["ipynb"]))):
        assert leaks(ds.con, text) == set(), what
        assert not any(p in text for p in pids), what
    assert MASK in visible_text(paths["html"].read_text())

def test_guard_stops_a_page_and_names_where_it_came_from_not_the_identifier(demo, tmp_path):
    """Text that does not come from the data's tables is not redacted: here the store's file name, shown in the provenance,
    is a patient's pseudonym. The guard stops the page and says where it came from, without the identifier."""
    from dtsj_analysis.load import ingest
    t = {k: v.copy() for k, v in demo.tables.items()}
    t["patients"].loc[0, "patient_id"] = pid = "PX-00012345"
    save_dataset(t, tmp_path / "data"); store = tmp_path / f"{pid}.duckdb"; ingest(tmp_path / "data", store)
    res = make_reports(store, ["navoi", "syrdarya"], WEEK, "uz", tmp_path / "out", pdf=False, progress=False, national=False).table.set_index("region")
    assert not res.ok.any() and (res.stage == "privacy").all()
    assert "parameters or a file name" in res.error["navoi"] and pid not in res.error["navoi"]
    assert not (tmp_path / "out" / "site" / WEEK / "navoi.html").exists()
    assert not (tmp_path / "out" / "site" / WEEK / "navoi.xlsx").exists()          # the page failed: no workbook either
    assert not [f for f in (tmp_path / "out").rglob(".*")], "temporary files left behind"
    r = subprocess.run([DTSJ, "report", "--data", store, "--region", "navoi", "--week", WEEK, "--out", tmp_path / "one", "--no-pdf"],
                       capture_output=True, text=True)           # one region on the command line: a message, not a traceback
    assert r.returncode == 3 and "not published" in r.stderr and "Traceback" not in r.stderr and pid not in r.stderr + r.stdout

# --- 2. secrets --------------------------------------------------------------------------------------------------------

def test_no_password_is_written_or_printed(demo_dir, postgres_url, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore"); tables = {k: v for k, v in quiet_load(demo_dir).tables.items()}
    save_dataset({k: v for k, v in tables.items()}, postgres_url)
    url = postgres_url.replace("dtsj@", "dtsj:Sekr3tPa55@")          # the server trusts loopback, so any password connects
    r = subprocess.run([DTSJ, "validate", "--data", url], capture_output=True, text=True)
    assert "Sekr3tPa55" not in r.stdout + r.stderr and "dtsj:***@" in r.stdout
    r = subprocess.run([DTSJ, "report", "--data", url, "--region", "navoi", "--week", WEEK, "--out", tmp_path / "out", "--no-pdf"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "Sekr3tPa55" not in r.stdout + r.stderr
    for root in (tmp_path / "out", cache_dir()):
        for f in Path(root).rglob("*"):
            if f.is_file(): assert b"Sekr3tPa55" not in f.read_bytes(), f

# --- 3. errors stop only the regions they touch ------------------------------------------------------------------------

def test_errors_stop_only_the_regions_they_touch(demo, tmp_path):
    t = {k: v.copy() for k, v in demo.tables.items()}
    nav = t["appeals"].index[t["appeals"].region == "navoi"][0]
    t["appeals"] = t["appeals"].astype({"channel": "object"}); t["appeals"].loc[nav, "channel"] = "pigeon"        # optional table: left out
    t["facilities"] = pd.concat([t["facilities"], t["facilities"].iloc[[0]].assign(facility_id="X1", region="atlantis")])  # no region
    sam = t["prescriptions"].merge(t["facilities"][["facility_id", "region"]]).query("region == 'samarkand'").prescription_id.iloc[0]
    rx = t["prescriptions"].astype({"quantity": "object"}); rx.loc[rx.prescription_id == sam, "quantity"] = "thirty"; t["prescriptions"] = rx
    save_dataset(t, tmp_path / "data", "csv")
    res = make_reports(tmp_path / "data", ["navoi", "samarkand", "syrdarya"], WEEK, "uz", tmp_path / "out", pdf=False, progress=False, national=False)
    s = res.table.set_index("region")
    assert s.ok.all() and s.status.to_dict() == {"navoi": "ok", "samarkand": "stopped", "syrdarya": "ok"}
    assert "prescriptions.quantity" in s.error["samarkand"] and "STOPPED" in res.summary(["navoi", "samarkand", "syrdarya"])
    site = tmp_path / "out" / "site" / WEEK
    assert "маълумотлардаги хатолар" in (site / "samarkand.html").read_text().lower()
    assert "1 та қатор ҳисобга олинмади" in (site / "navoi.html").read_text()

def test_a_region_without_data_gets_a_page_saying_so(demo_dir, tmp_path):
    r = subprocess.run([DTSJ, "report", "--data", demo_dir, "--region", "bukhara", "--week", WEEK, "--out", tmp_path, "--no-pdf"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "маълумот йўқ" in (tmp_path / "site" / WEEK / "bukhara.html").read_text() and "no data" in r.stderr

# --- 4. interrupts -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_stops_the_batch_and_leaves_nothing_behind(demo_dir, tmp_path, sig, code):
    out = tmp_path / "out"
    subprocess.run([DTSJ, "week", "--data", demo_dir, "--week", WEEK], check=True, capture_output=True)   # the model is ready
    p = subprocess.Popen([DTSJ, "report", "--data", demo_dir, "--all-regions", "--week", WEEK, "--out", out, "--jobs", "2"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    t0 = time.monotonic()
    while time.monotonic() - t0 < 120:          # wait until kernels are running
        if any("ipykernel" in " ".join(c.cmdline()) for c in psutil.Process(p.pid).children(recursive=True) if c.is_running()): break
        time.sleep(0.2)
    tree = [c.pid for c in psutil.Process(p.pid).children(recursive=True)]
    assert tree, "no worker started"
    p.send_signal(sig)
    stdout, _ = p.communicate(timeout=20)
    assert p.returncode == code
    time.sleep(1)
    alive = [pid for pid in tree if psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]
    assert alive == [], alive
    assert not [f for f in out.rglob(".*")], "temporary files left behind"
    assert "not published" in stdout

# --- 5. messages, not tracebacks -----------------------------------------------------------------------------------------

def write_tiny(tmp_path, change=None, fmt="csv"):
    t = tiny_tables()
    if change: change(t)
    save_dataset(t, tmp_path, fmt); return tmp_path

def run_cli(*args):
    return subprocess.run([DTSJ, *map(str, args)], capture_output=True, text=True)

def test_bad_memory_setting_is_a_sentence(tmp_path):
    write_tiny(tmp_path)
    r = subprocess.run([DTSJ, "validate", "--data", tmp_path], capture_output=True, text=True, env={**os.environ, "DTSJ_DUCKDB_MEMORY": "lots"})
    assert r.returncode == 2 and "DTSJ_DUCKDB_MEMORY='lots' is not a memory size" in r.stderr and "Traceback" not in r.stderr

def test_out_pointing_at_the_wrong_thing(tmp_path):
    write_tiny(tmp_path / "d"); (tmp_path / "afile").write_text("x")
    r = run_cli("detect", "--data", tmp_path / "d", "--start", WEEK, "--end", "2025-04-28", "--out", tmp_path / "afile" / "f.csv")
    assert r.returncode == 2 and "is a file, not a folder" in r.stderr and "Traceback" not in r.stderr
    r = run_cli("report", "--data", tmp_path / "d", "--region", "navoi", "--week", WEEK, "--out", tmp_path / "afile")
    assert r.returncode == 2 and "is a file; give a folder" in r.stderr and "Traceback" not in r.stderr

def test_zone_offsets_are_converted_with_a_warning(tmp_path):
    def zones(t): t["dispensings"].loc[0, "dispensed_at"] = "2025-04-22T06:00:00Z"; t["prescriptions"].loc[0, "issued_at"] = "2025-04-21T09:30:00+05:00"
    r = run_cli("validate", "--data", write_tiny(tmp_path, zones))
    assert r.returncode == 0 and "converted to Tashkent time" in r.stdout and "Traceback" not in r.stderr

def test_utc_parquet_timestamps_are_converted_with_a_warning(tmp_path):
    def utc(t): t["dispensings"]["dispensed_at"] = pd.to_datetime(t["dispensings"].dispensed_at).dt.tz_localize("Asia/Tashkent").dt.tz_convert("UTC")
    ds = quiet_load(write_tiny(tmp_path, utc, "parquet"))
    assert ds.dispensings.dispensed_at[0] == pd.Timestamp("2025-04-22 11:00") and "converted to Tashkent time" in str(ds.report.warnings)

def test_dangling_reference_rows_are_named_the_same_every_run(tmp_path):
    def dangling(t):
        d = pd.concat([t["dispensings"]] * 6, ignore_index=True).assign(dispensing_id=[f"DS{i}" for i in range(6)])
        d.loc[[1, 4], "prescription_id"] = ["RX404", "RX405"]; t["dispensings"] = d
    src = write_tiny(tmp_path, dangling)
    outs = {run_cli("validate", "--data", src).stdout for _ in range(3)}
    assert len(outs) == 1
    assert "dispensings.prescription_id: refers to a missing prescriptions.prescription_id (rows kept); 2 row(s), first: 2, 5; values: 'RX404', 'RX405'" in outs.pop()

CASES = [   # name, change of the tiny tables, format, expected message
    ("inf amount", lambda t: t["dispensings"].__setitem__("amount_claimed", ["inf"]), "csv", "dispensings.amount_claimed: is not a finite number"),
    ("birth date in the future", lambda t: t["patients"].__setitem__("birth_date", ["2090-01-01", "2010-01-01"]), "csv", "patients.birth_date: birth_date is not in the future"),
    ("NUL byte in an id", lambda t: t["drugs"].__setitem__("drug_code", ["000\x00101", "000102"]), "parquet", "drugs.drug_code: contains a NUL, tab or line break"),
]

@pytest.mark.parametrize("name, change, fmt, message", CASES, ids=[c[0] for c in CASES])
def test_impossible_values_are_errors(tmp_path, name, change, fmt, message):
    r = run_cli("validate", "--data", write_tiny(tmp_path, change, fmt))
    assert r.returncode == 1 and message in r.stdout, r.stdout

def test_two_files_for_one_table_and_duplicate_columns(tmp_path):
    src = write_tiny(tmp_path)
    tiny_tables()["drugs"].to_parquet(src / "drugs.parquet")
    r = run_cli("validate", "--data", src)
    assert r.returncode == 1 and "2 files for one table (drugs.parquet, drugs.csv); keep one" in r.stdout
    (src / "drugs.parquet").unlink()
    (src / "drugs.csv").write_text((src / "drugs.csv").read_text().replace("drug_code,atc_code", "drug_code,drug_code", 1))
    r = run_cli("validate", "--data", src)
    assert r.returncode == 1 and "'drug_code' appear more than once" in r.stdout

def test_a_fifo_is_refused_not_waited_for(tmp_path):
    src = write_tiny(tmp_path); (src / "appeals.csv").unlink(missing_ok=True); os.mkfifo(src / "appeals.csv")
    r = subprocess.run([DTSJ, "validate", "--data", src], capture_output=True, text=True, timeout=60)
    assert "not a regular file" in r.stdout + r.stderr

def test_many_bad_rows_are_reported_quickly(tmp_path):
    "200,000 unparseable quantities: counted in full, the first five shown, in seconds."
    t = tiny_tables(); rx = t["prescriptions"]
    n = 200_000
    big = pd.DataFrame({c: [rx[c][0]] * n for c in rx.columns}).assign(prescription_id=[f"RX{i}" for i in range(n)], quantity="many")
    t["prescriptions"] = big; save_dataset(t, tmp_path, "csv")
    t0 = time.monotonic(); r = run_cli("validate", "--data", tmp_path); secs = time.monotonic() - t0
    assert r.returncode == 1 and "prescriptions.quantity: cannot parse as number; 200,000 row(s), first: 1, 2, 3, 4, 5" in r.stdout
    assert secs < 60, secs
