"""Issue 15 end to end: a week's workbook is filled by an inspector and imported; the next week's page knows it.
Bad verdict files are refused with the row named, and the store is left as it was."""
import datetime as dt, re, subprocess, sys
from pathlib import Path
import openpyxl
import pandas as pd
import pytest
from dtsj_analysis.batch import make_reports
from dtsj_analysis.weekly import load_week

DTSJ = str(Path(sys.executable).parent / "dtsj")
W0, W1 = "2025-04-14", "2025-04-21"

def figures(html: str) -> dict:
    return dict(re.findall(r'data-key="([^"]+)" data-value="([^"]*)"', html))

def fill(path: Path, picks: list) -> Path:
    "Fill the workbook: `picks` are (detector, verdict, note); the first row of each detector gets it."
    wb = openpyxl.load_workbook(path)
    done = set()
    for ws in wb.worksheets[1:]:
        head = {c.value: c.column for c in ws[1]}
        det_col = next(v for k, v in head.items() if k and k.lower() in ("check", "текширув", "detector"))
        for row in range(2, ws.max_row + 1):
            title = ws.cell(row, det_col).value
            for det, verdict, note in picks:
                if det not in done and title == det:
                    ws.cell(row, head["Verdict"], verdict); ws.cell(row, head["Note"], note)
                    ws.cell(row, head["Checked by"], "Saidova N."); ws.cell(row, head["Checked on"], dt.date(2025, 4, 24)); done.add(det)
    wb.save(path)
    assert done == {d for d, *_ in picks}, done
    return path

@pytest.fixture(scope="module")
def flow(demo_dir, tmp_path_factory):
    from dtsj_analysis.engine import detector_title
    tmp = tmp_path_factory.mktemp("flow")
    store = tmp / "store.duckdb"
    subprocess.run([DTSJ, "ingest", "--data", demo_dir, "--store", store], check=True, capture_output=True)
    out = tmp / "reports"
    res = make_reports(store, ["navoi"], W0, "en", out, pdf=False, progress=False, national=False)
    assert res.table.ok.all(), res.table
    wb = out / "site" / W0 / "navoi.en.xlsx"
    m0 = load_week(store, W0, "navoi")["findings"]
    picks = [(detector_title("inactive_outlet", "en"), "dismissed", "under repair, reopens in May")]
    other = m0[~m0.detector.isin(["inactive_outlet", "prescriber_outlier", "pharmacy_outlier"])].detector.iloc[0]
    picks.append((detector_title(other, "en"), "confirmed", ""))
    fill(wb, picks)
    return store, out, wb, other

def test_import_then_next_week_knows(flow):
    store, out, wb, other = flow
    r = subprocess.run([DTSJ, "verdicts", "import", wb, "--store", store], capture_output=True, text=True)
    assert r.returncode == 0 and "2 verdict(s) recorded" in r.stdout, r.stdout + r.stderr
    res = make_reports(store, ["navoi"], W1, "en", out, pdf=False, progress=False, national=False)
    assert res.table.ok.all()
    page = (out / "site" / W1 / "navoi.en.html").read_text()
    fig, h = figures(page), load_week(store, W1, "navoi")["history"].set_index("detector")
    for det in h.index:
        for k in ("new", "open_earlier", "confirmed", "dismissed"): assert int(fig[f"{k}:{det}"]) == h.loc[det, k], (det, k)
    assert h.loc["inactive_outlet", "dismissed"] >= 1 and h.loc[other, "confirmed"] >= 1
    assert float(fig[f"precision:{other}"]) == pytest.approx(h.loc[other, "precision"])
    assert "Dismissed earlier, flagged again" in page and "under repair, reopens in May" in page
    assert "Precision as the inspectors see it" in page

def test_a_bad_file_is_refused_and_the_store_unchanged(flow, tmp_path):
    store, out, wb, _ = flow
    bad = tmp_path / "bad.xlsx"
    book = openpyxl.load_workbook(wb); ws = book.worksheets[1]
    head = {c.value: c.column for c in ws[1]}
    ws.cell(2, head["Verdict"], "maybe"); ws.cell(3, head["Checked by"], None); ws.cell(3, head["Verdict"], "confirmed")
    book.save(bad)
    before = Path(store).read_bytes()
    r = subprocess.run([DTSJ, "verdicts", "import", bad, "--store", store], capture_output=True, text=True)
    assert r.returncode == 2 and "refused, nothing recorded" in r.stderr and "row 2" in r.stderr, r.stderr
    assert Path(store).read_bytes() == before
    csv = tmp_path / "v.csv"
    pd.DataFrame([dict(detector="inactive_outlet", entity_type="pharmacy", entity_id="NOPE", period_start=W0, verdict="confirmed",
                       note="", checked_by="Saidova N.", checked_on="2025-04-25")]).to_csv(csv, index=False)
    r = subprocess.run([DTSJ, "verdicts", "import", csv, "--store", store], capture_output=True, text=True)
    assert r.returncode == 2 and "row 2" in r.stderr and Path(store).read_bytes() == before, r.stderr

def test_the_national_page_knows_too(flow):
    "The national page counts the same verdicts, summed over the regions that reported."
    from dtsj_analysis.national import make_national, national_history
    from dtsj_analysis.publish import ensure_week
    store, out, wb, other = flow
    subprocess.run([DTSJ, "verdicts", "import", wb, "--store", store], check=True, capture_output=True)   # a second import adds nothing
    ensure_week(store, W1)
    paths = make_national(store, W1, "en", out, pdf=False)
    fig = figures(paths["html"].read_text())
    m = load_week(store, W1)
    ok = m["status"][m["status"].status == "ok"].region.tolist()
    h = national_history(m, ok).set_index("detector")
    assert h.loc["inactive_outlet", "dismissed"] >= 1
    for det in h.index:
        for k in ("confirmed", "dismissed"): assert int(fig[f"{k}:{det}"]) == h.loc[det, k], (det, k)
