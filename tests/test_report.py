"""The weekly report end to end: papermill, offline HTML, PDF, index; figures equal the library's; privacy and escaping."""
import json, re, shutil, warnings
from pathlib import Path
import pandas as pd
import pytest
from dtsj_analysis.load import load_dataset, save_dataset
from dtsj_analysis.weekly import weekly_report, week_model
from dtsj_analysis.publish import make_report, esc
from dtsj_analysis.batch import make_reports
from dtsj_analysis.privacy import leaks, visible_text
from dtsj_analysis import publish
from dtsj_analysis.engine import DETECTORS, load_detectors, define, Period

WEEK = "2025-04-21"

@pytest.fixture(scope="module")
def navoi(demo_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("reports")
    return make_report(demo_dir, "navoi", WEEK, "uz", out), out

def figures(html: str) -> dict:
    "The data-key -> data-value pairs of the page's figures."
    return dict(re.findall(r'data-key="([^"]+)" data-value="([^"]*)"', html))

def test_outputs_exist(navoi):
    paths, out = navoi
    assert paths["ipynb"].exists() and paths["html"].exists()
    assert paths["pdf"].read_bytes()[:4] == b"%PDF"
    index = (out / "site" / "index.html").read_text()
    assert f"{WEEK}/navoi.html" in index and "21-25 апрель" in index
    assert not [p for p in out.rglob(".*")], "temporary files left behind"

def test_figures_equal_the_library(navoi, demo):
    paths, _ = navoi
    html = paths["html"].read_text()
    r = weekly_report(demo, "navoi", WEEK, "uz")
    fig = figures(html)
    for k in ("rx_issued", "rx_dispensed", "patients"): assert int(fig[k]) == r.now[k], k
    assert float(fig["amount"]) == pytest.approx(r.now["amount"])
    assert float(fig["fill_rate"]) == pytest.approx(r.now["fill_rate"])
    for row in r.tables["summary"].itertuples():
        if DETECTORS[row.detector].kind != "outlier": assert int(fig["findings:" + row.detector]) == row.count, row.detector
    assert r.now["rx_issued"] > 0

def test_report_language_and_sections(navoi):
    html = navoi[0]["html"].read_text()
    for heading in ("I. Тиббий ёрдам ва мониторинг", "II. Молиявий-иқтисодий жараёнлар", "III. Техник таъминлаш ва реимбурсация",
                    "IV. Ташкилий ишлар", "21-25 апрель", "сўм"):
        assert heading in html
    assert "Prescriptions" not in html and "Headline" not in html      # no English in the Uzbek report
    assert "def " not in html and "import " not in html               # code is hidden

def test_methodology_defines_every_detector(navoi):
    html = navoi[0]["html"].read_text()
    load_detectors()
    assert len(DETECTORS) >= 15
    for d in DETECTORS.values(): assert esc(define(d, "uz")) in html, d.id
    assert "20% идан кам" in html and "(<code>low_activity_outlet</code>)" in html

CYRILLIC, LATIN = r"[А-Яа-яЁёЎўҚқҒғҲҳ]", r"[A-Za-z]"

def foreign_words(html: str, lang: str) -> set:
    "Words of the page's text in the other script: Cyrillic in uz-latn and en, Latin in uz and ru (ids, codes and Roman numerals aside)."
    html = re.sub(r'<span class="as-written">.*?</span>', " ", html)   # the division's own words are printed as written
    text = re.sub(r"<code>.*?</code>|<[^>]+>", " ", re.sub(r"<(style|script)[^>]*>.*?</\1>", " ", html, flags=re.S))
    words = set(re.findall(r"[\w'’-]+", text))
    if lang in ("uz-latn", "en"): return {w for w in words if re.search(CYRILLIC, w)}
    return {w for w in words if re.search(LATIN, w) and not re.search(r"\d", w) and not re.fullmatch(r"[IVX]+", w) and w != "dtsj_analysis"}

@pytest.mark.parametrize("lang", ["uz", "uz-latn", "ru", "en"])
def test_every_language_is_written_in_one_script(demo, lang):
    r = weekly_report(demo, "navoi", WEEK, lang)
    html = publish.render_page(r, {"region": "navoi", "lang": lang})
    assert foreign_words(html, lang) == set()
    assert len(re.findall(r"<td", html)) > 100          # the sections are there, not just headings

def test_another_language_goes_beside_the_uzbek_report(navoi, demo_dir):
    paths, out = navoi
    before = paths["html"].read_bytes()
    en = make_report(demo_dir, "navoi", WEEK, "en", out, pdf=False)
    assert en["html"].name == "navoi.en.html" and paths["html"].read_bytes() == before
    html = en["html"].read_text()
    assert "Weekly report" in html and "21–25 April" in html and foreign_words(html, "en") == set()
    assert f"{WEEK}/navoi.en.html" in (out / "site" / "index.html").read_text()

def test_no_patient_identifier_in_any_output(navoi, demo):
    paths, _ = navoi
    for p in (paths["html"], paths["ipynb"]):
        assert leaks(demo.con, visible_text(p.read_text())) == set(), p

def test_page_makes_no_network_request(navoi):
    html = navoi[0]["html"].read_text()
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert "@import" not in html and "url(http" not in html

def test_chromium_loads_page_without_failed_requests(navoi, browse):
    with browse(navoi[0]["html"], "navoi-report.png") as (page, failed, external): title = page.title()
    assert failed == [] and external == []
    assert "Навоий" in title

@pytest.fixture(scope="module")
def tampered(demo, tmp_path_factory):
    """The demo data with Navoi's most indebted pharmacy renamed to a script tag, and Syrdarya's to a patient's PINFL:
    the first must show as text, the second must stop that region's report and no other."""
    tables = {k: v.copy() for k, v in demo.tables.items()}
    ph = tables["pharmacies"]
    balances = week_model(demo, WEEK, 2)["balances"]
    for region, name in (("navoi", "<script>alert(1)</script>"), ("syrdarya", "Apteka" + tables["patients"].patient_id.iloc[0])):
        top = balances[balances.region == region].pharmacy_id.iloc[0]
        ph.loc[ph.pharmacy_id == top, "name"] = name
    src = tmp_path_factory.mktemp("tampered")
    save_dataset(tables, src, "parquet")
    out = tmp_path_factory.mktemp("batch")
    return make_reports(src, ["navoi", "syrdarya"], WEEK, "uz", out, jobs=2, pdf=False, progress=False).table, out

def test_the_national_page_links_the_pages_of_the_batch(tampered):
    "It starts beside the last region (whose page is not there yet) and links both pages, and no other."
    res, out = tampered
    html = (out / "site" / WEEK / "national.html").read_text()
    assert set(re.findall(r'href="([a-z_]+)\.html"', html)) == {"navoi", "syrdarya"}

def test_script_in_a_name_is_escaped(tampered):
    res, out = tampered
    html = (out / "site" / WEEK / "navoi.html").read_text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert(1)</script>" not in html

def test_a_patient_identifier_glued_to_a_name_is_masked(tampered, demo):
    res, out = tampered
    assert dict(zip(res.region, res.ok)) == {"national": True, "navoi": True, "syrdarya": True}
    for page in ("syrdarya", "national"):
        html = (out / "site" / WEEK / f"{page}.html").read_text()
        assert leaks(demo.con, visible_text(html)) == set(), page
    assert "Apteka[***]" in (out / "site" / WEEK / "syrdarya.html").read_text()
    assert "navoi.html" in (out / "site" / "index.html").read_text()

@pytest.mark.parametrize("week, region, message", [("2025-04-22", "navoi", "not a Monday"), (WEEK, "navoiy", "Unknown region")])
def test_bad_parameters_are_refused_before_running(demo_dir, tmp_path, week, region, message):
    with pytest.raises(ValueError, match=message): make_report(demo_dir, region, week, out=tmp_path)
    assert not any(tmp_path.rglob("*.ipynb"))

@pytest.mark.parametrize("lang", ["uz", "uz-latn", "ru", "en"])
def test_monitoring_parts_equal_the_library(demo, lang):
    "New contracts, the contracts and outlets not ready, defectura, the services (hourly chart, silent days, load) and the division's activities on Navoi's page are the library's."
    from dtsj_analysis.reference import in_script
    from dtsj_analysis.fmt import fmt_int
    r = weekly_report(demo, "navoi", WEEK, lang)
    html = publish.render_page(r, {"region": "navoi", "lang": lang})
    fig = figures(html)
    assert int(fig["new_contracts"]) == r.now["new_contracts"]
    shown = lambda name: esc(in_script(name, lang)) in html
    T = r.tables
    assert len(T["contracts"]) and all(shown(p) for p in T["contracts"].pharmacy)
    assert all(shown(p) for p in T["not_ready"].pharmacy)
    assert len(T["defectura"]) and all(a in html for a in T["defectura"].atc_code)
    assert all(shown(p) for p in T["defectura"].pharmacy.dropna())
    assert html.count('<svg class="chart"') == 3                                     # the hourly chart, the trend lines and bars
    hourly = re.search(r'<svg class="chart"[^>]*aria-label="([^"]*)".*?</svg>', html, re.S)
    assert hourly[1] == esc(publish.t("hourly", lang))
    from dtsj_analysis.charts import nice_ticks                                         # its value axis reaches the week's busiest hour
    top = nice_ticks(T["hourly"][["issued", "issued_before", "dispensed", "dispensed_before"]].max().max())[-1]
    assert f">{esc(fmt_int(top, lang))}</text>" in hourly[0]
    load = T["load"].head(10)
    assert len(load) and all(shown(f) for f in load.facility) and all(fmt_int(int(n), lang) in html for n in load.rx)
    wide = {f"{pd.Timestamp(d):%Y-%m-%d}" for d in T["gaps"][T["gaps"].region_wide.astype(bool)].day} if len(T["gaps"]) else set()
    folded = publish.outage_only(r.findings, wide)
    gaps = r.findings[r.findings.detector.eq("prescribing_gap") & ~r.findings.entity_id.isin(folded)]
    assert len(gaps) + len(folded) and all(esc(e) in html for e in gaps.explanation)
    acts = T["activities"]
    assert len(acts) and all(esc(x) in html and esc(in_script(x, lang)) in html for x in acts.text)   # as written, and in the page's script

def test_a_week_without_findings_renders(tmp_path):
    "A week in which no detector flags anything (a small, clean dataset) still gives a page: the kernel has not loaded the detector registry yet."
    from dtsj_analysis.load import tiny_tables, ingest, Dataset
    from dtsj_analysis.weekly import save_week
    from dtsj_analysis.publish import render_region
    store = tmp_path / "s.duckdb"; ingest(tiny_tables(), store)
    ds = Dataset.open(store)
    try: m = week_model(ds, WEEK, outliers=False)
    finally: ds.close()
    assert len(m["findings"]) == 0 and m["status"].set_index("region").status["navoi"] == "ok"
    save_week(store, m)
    html = render_region(store, "navoi", WEEK, "uz", tmp_path / "out", pdf=False)["html"].read_text()
    fig = figures(html)
    assert fig["rx_issued"] == "1" and fig["findings:inactive_outlet"] == "0"
