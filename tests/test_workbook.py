"""The inspectors' workbook opens in LibreOffice, holds no patient identifier, and comes back filled in; long tables
sort, search and print in Chromium without a network request.

LibreOffice comes from Debian's `libreoffice-calc-nogui` (headless Calc, no GUI toolkit) and Chromium from `chromium`;
`make sysdeps` installs both. A missing one fails these tests: it is never skipped."""
import datetime as dt, shutil, subprocess, tempfile, warnings
from pathlib import Path
import openpyxl
import pandas as pd
import pytest
from dtsj_analysis.load import load_dataset
from dtsj_analysis.publish import chromium
from dtsj_analysis.privacy import leaks
from dtsj_analysis.workbook import write_workbook, entity_names, workbook_text
from dtsj_analysis.engine import run_detectors
from dtsj_analysis.weekly import prescription_ids
from dtsj_analysis.verdicts import read_verdict_file, known_findings, prepare_import, with_verdicts, latest_verdicts
from dtsj_analysis.tables import example_page

DATA = Path(__file__).parent / "data"
SECRET = "test-secret"

def soffice() -> str:
    exe = shutil.which("soffice") or shutil.which("libreoffice")
    if exe is None: pytest.fail("LibreOffice is not installed: run `make sysdeps` (Debian package libreoffice-calc-nogui)")
    return exe

def convert(path: Path, to: str, outdir: Path) -> Path:
    "Convert `path` with headless LibreOffice to format `to` in `outdir` (own profile, so parallel runs do not clash)."
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([soffice(), f"-env:UserInstallation={Path(profile).as_uri()}", "--headless", "--norestore",
                        "--convert-to", to, "--outdir", str(outdir), str(path)], check=True, capture_output=True, timeout=180)
    return outdir / f"{path.stem}.{to.split(':')[0]}"

@pytest.fixture(scope="module")
def first_round():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore"); ds = load_dataset(DATA / "first-round")
    return ds, pd.read_parquet(DATA / "first-round-findings.parquet")

@pytest.fixture(scope="module")
def week_of_patient(first_round):
    "Navoi's findings of a week with a doctor-shopping patient, as the engine gives them (with the patient's prescription ids)."
    ds, saved = first_round
    pat = saved[(saved.region == "navoi") & (saved.entity_type == "patient")].iloc[0]
    f = run_detectors(ds, pat.period_start, pat.period_end, region="navoi")
    patients = f[f.entity_type == "patient"]
    assert len(patients) and all(prescription_ids(v) for v in patients.prescriptions)
    rx = ds.prescriptions.set_index("prescription_id")
    for pid, v in zip(patients.entity_id, patients.prescriptions):   # the ids are the patient's own prescriptions, issued in Navoi
        assert (rx.loc[prescription_ids(v), "patient_id"] == pid).all()
    return ds, f, pat.period_start

@pytest.mark.parametrize("lang", ["uz", "uz-latn", "ru", "en"])
def test_no_patient_identifier_in_the_workbook(week_of_patient, tmp_path, lang):
    ds, f, week = week_of_patient
    p = write_workbook(f, tmp_path / "navoi.xlsx", lang, entity_names(ds, f), region="navoi", week=week, secret=SECRET)
    text = workbook_text(p)
    assert leaks(ds.con, text) == set()
    shown = [prescription_ids(r) for r in f.prescriptions if isinstance(r, str)]
    assert shown and all(", ".join(r) in text for r in shown)   # the patient is shown by the prescriptions' ids

def test_libreoffice_converts_the_workbook_to_pdf(week_of_patient, tmp_path):
    ds, f, week = week_of_patient
    p = write_workbook(f, tmp_path / "navoi.xlsx", "uz", entity_names(ds, f), region="navoi", week=week, secret=SECRET)
    pdf = convert(p, "pdf", tmp_path)
    assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 5000

def fill(path: Path, verdicts: dict) -> Path:
    "Fill the workbook at `path`: `verdicts` maps a sheet's row number to (verdict word, checker, date)."
    wb = openpyxl.load_workbook(path)
    ws = wb.worksheets[1]
    head = {c.value: c.column for c in ws[1]}
    for row, (verdict, who, when) in verdicts.items():
        ws.cell(row, head["Хулоса"], verdict); ws.cell(row, head["Текширган"], who)
        c = ws.cell(row, head["Текширилган сана"], when); c.number_format = "dd.mm.yyyy"
    wb.save(path); return path

def test_filled_workbook_saved_by_libreoffice_comes_back(week_of_patient, tmp_path):
    ds, f, week = week_of_patient
    p = write_workbook(f, tmp_path / "navoi.xlsx", "uz", entity_names(ds, f), region="navoi", week=week, secret=SECRET)
    fill(p, {2: ("тасдиқланди", "Karimov A.", dt.date(2025, 5, 2))})
    (tmp_path / "lo").mkdir()
    again = convert(p, "xlsx:Calc MS Excel 2007 XML", tmp_path / "lo")   # as an inspector saving it in LibreOffice would
    a, b = read_verdict_file(p)[0], read_verdict_file(again)[0]
    assert len(a) == 1 and a[["key", "verdict", "checked_by", "checked_on"]].values.tolist() == b[["key", "verdict", "checked_by", "checked_on"]].values.tolist()
    assert b.checked_on.iloc[0] == "2025-05-02"

def test_filled_workbook_changes_next_weeks_findings_and_a_bad_one_changes_nothing(week_of_patient, tmp_path):
    ds, f, week = week_of_patient
    known = known_findings(f, SECRET)
    p = write_workbook(f, tmp_path / "navoi.xlsx", "uz", entity_names(ds, f), region="navoi", week=week, secret=SECRET)
    wb = openpyxl.load_workbook(p); n = wb.worksheets[1].max_row - 1; wb.close()
    fill(p, {r: ("рад этилди", "Saidova N.", dt.date(2025, 5, 5)) for r in range(2, n + 2)})
    log, problems = prepare_import(p, known, today="2025-06-01")
    assert problems == [] and len(log) == n and set(log.verdict) == {"dismissed"}
    nxt = f.assign(period_start=week + pd.Timedelta(days=7), period_end=week + pd.Timedelta(days=14))
    marked = with_verdicts(nxt, log, earlier=True)
    assert (marked.verdict == "dismissed").sum() == n and marked.verdict.isna().sum() == len(f) - n
    bad = fill(write_workbook(f, tmp_path / "bad.xlsx", "uz", None, region="navoi", week=week, secret=SECRET),
               {2: ("тасдиқланди", "Karimov A.", dt.date(2025, 5, 6)), 3: ("maybe", "Karimov A.", dt.date(2025, 5, 6))})
    rows, problems = prepare_import(bad, known, log=log, today="2025-06-01")
    assert len(rows) == 0 and problems and all(p.startswith("bad.xlsx, sheet '") for p in problems)
    assert any("row 3: verdict 'maybe'" in p for p in problems)
    assert latest_verdicts(log).verdict.eq("dismissed").all()

def test_long_table_sorts_searches_and_prints_in_chromium(tmp_path):
    exe = chromium()
    if exe is None: pytest.fail("Chromium is not installed: run `make sysdeps`")
    from playwright.sync_api import sync_playwright
    page_file = tmp_path / "tables.html"
    page_file.write_text(example_page(500, "uz", 20), encoding="utf-8")
    outside, visible = [], "rs => rs.filter(r => getComputedStyle(r).display !== 'none').length"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=["--no-sandbox"])
        page = browser.new_page()
        page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(("file:", "data:")) else None)
        page.goto(page_file.resolve().as_uri(), wait_until="load")
        rows = lambda: page.eval_on_selector_all("#unfilled tbody tr", visible)
        assert rows() == 500
        page.fill("#unfilled .dtsj-search", "rx0001")
        assert rows() == 10 and page.inner_text("#unfilled .dtsj-count") == "10 / 500"
        page.fill("#unfilled .dtsj-search", "кармана rx0004")
        assert rows() == 2                                        # every word must match: RX00040 and RX00045
        page.fill("#unfilled .dtsj-search", "")
        assert rows() == 500
        amounts = lambda: [int(x.replace("\u00a0", "")) for x in page.eval_on_selector_all("#unfilled tbody tr td:nth-child(3)", "cs => cs.map(c => c.textContent)")]
        page.click("#unfilled thead th:nth-child(3)")
        assert amounts() == sorted(amounts())                     # as numbers, not as text
        page.click("#unfilled thead th:nth-child(3)")
        assert amounts() == sorted(amounts(), reverse=True)
        page.emulate_media(media="print")
        assert rows() == 20 and page.is_visible("#unfilled .dtsj-more") and not page.is_visible("#unfilled .dtsj-search")
        assert "480" in page.inner_text("#unfilled .dtsj-more")
        pdf = page.pdf()
        browser.close()
    assert outside == [] and pdf[:5] == b"%PDF-"
