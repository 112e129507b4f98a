"""The national summary end to end: papermill, offline HTML in four languages and PDF; figures equal `national_figures`; links to the
regional pages; one script per language; no patient identifier; no network request."""
import math, re
from html import unescape
from pathlib import Path
import pytest
from dtsj_analysis.load import as_store
from dtsj_analysis.publish import ensure_week, render_region
from dtsj_analysis.weekly import load_week
from dtsj_analysis.fmt import fmt_int
from dtsj_analysis.national import make_national, national_figures, nt, NATIONAL, MONITORING, PER
from dtsj_analysis.privacy import leaks, visible_text
from test_report import figures, foreign_words

WEEK = "2025-04-21"
LANGS = ("uz", "uz-latn", "ru", "en")

@pytest.fixture(scope="module")
def store(demo_dir):
    s = as_store(demo_dir)
    ensure_week(s, WEEK)
    return s

@pytest.fixture(scope="module")
def site(store, tmp_path_factory):
    "Navoi's page in Russian, then the national page in the four languages (a PDF for the Uzbek one)."
    out = tmp_path_factory.mktemp("national")
    render_region(store, "navoi", WEEK, "ru", out, pdf=False)
    return out, {L: make_national(store, WEEK, L, out, pdf=L == "uz") for L in LANGS}

@pytest.fixture(scope="module")
def expected(store) -> dict:
    "Every figure the page should show, by its key: the `national_figures` of the store's week model."
    F = national_figures(load_week(store, WEEK))
    want = {}
    for x in F["regions"].to_dict("records"):
        r = x["region"]
        if x["status"] != "ok": want[f"{r}:status"] = x["status"]; continue
        for k in ("findings", "per_10k", "amount_at_risk", *MONITORING): want[f"{r}:{k}"] = x[k]
        if not math.isnan(x["rank"]): want[f"{r}:rank"] = x["rank"]
    ok = set(F["regions"].region[F["regions"].status == "ok"])
    for x in F["volumes"][F["volumes"].region.isin(ok)].itertuples():
        want[f"{x.region}:{x.indicator}"], want[f"{x.region}:{x.indicator}:change"] = x.now, x.change
    for x in F["groups"][F["groups"].region.isin(ok)].itertuples(): want[f"{x.region}:per_10k:{x.group}"] = x.per_10k
    for x in F["history"].itertuples():                    # what the inspectors found, per detector, for the country
        for k in ("new", "open_earlier", "confirmed", "dismissed", "precision"): want[f"{k}:{x.detector}"] = float(getattr(x, k))
    return want

def same(shown: str, value) -> bool:
    "A figure's data-value against the model's value: text as it is, NaN as empty, numbers to 1e-9."
    if isinstance(value, str): return shown == value
    if value is None or math.isnan(value): return shown == ""
    return shown != "" and math.isclose(float(shown), value, rel_tol=1e-9, abs_tol=1e-9)

def test_outputs_exist(site):
    out, pages = site
    for L, paths in pages.items():
        name = "national" if L == "uz" else f"national.{L}"
        assert paths["html"] == out / "site" / WEEK / f"{name}.html" and paths["html"].exists(), L
        assert paths["ipynb"] == out / "out" / WEEK / f"{name}.ipynb" and paths["ipynb"].exists(), L
    assert pages["uz"]["pdf"].read_bytes()[:4] == b"%PDF" and "pdf" not in pages["en"]
    assert not [p for p in out.rglob(".*")], "temporary files left behind"

@pytest.mark.parametrize("lang", LANGS)
def test_figures_equal_national_figures(site, expected, lang):
    shown = figures(site[1][lang]["html"].read_text())
    assert set(shown) == set(expected)
    wrong = {k: (shown[k], v) for k, v in expected.items() if not same(shown[k], v)}
    assert wrong == {}

def test_the_demo_week(expected):
    "Three regions with data, ranked 1 to 3; the other eleven say they have no data; the national total adds the three."
    ok = ["navoi", "samarkand", "syrdarya"]
    assert sorted(expected[f"{r}:rank"] for r in ok) == [1, 2, 3]
    assert sum(k.endswith(":status") and v == "no_data" for k, v in expected.items()) == 11
    for k in ("rx_issued", "amount_at_risk", "inactive", "unfilled", "defectura_cells"):
        assert expected[f"{NATIONAL}:{k}"] == pytest.approx(sum(expected[f"{r}:{k}"] for r in ok)), k
    assert expected[f"{NATIONAL}:findings"] <= sum(expected[f"{r}:findings"] for r in ok)    # a patient in two regions counts once
    assert expected["navoi:rx_issued"] > 0 and expected[f"{NATIONAL}:per_10k"] > 0

@pytest.mark.parametrize("lang, words", [("uz", ["Республика бўйича жами", "Ўрин", "21-25 апрель", "бу ҳафтада маълумот йўқ"]),
                                         ("uz-latn", ["Respublika bo'yicha jami", "O'rin", "bu haftada ma'lumot yo'q"]),
                                         ("ru", ["Итого по республике", "Место", "нет данных за неделю"]),
                                         ("en", ["National total", "Rank", "21–25 April", "no data this week"])])
def test_every_language_is_written_in_one_script(site, lang, words):
    html = site[1][lang]["html"].read_text()
    assert foreign_words(html, lang) == set()
    for w in words + [nt("n_per", lang, per=fmt_int(PER, lang))]: assert w in unescape(html), w
    assert len(re.findall(r'<img[^>]*class="chart[ "]', html)) == 1
    assert "def " not in html and "import " not in html               # code is hidden

def test_links_resolve_to_the_regional_pages_that_exist(site):
    out, pages = site
    for L, paths in pages.items():
        html = paths["html"].read_text()
        hrefs = set(re.findall(r'<a href="([^"]+)"', html))
        assert {(paths["html"].parent / h).resolve() for h in hrefs} == ({(out / "site" / WEEK / "navoi.ru.html").resolve()} if L == "ru" else set()), L
    assert (out / "site" / WEEK / "navoi.ru.html").exists()

def test_no_patient_identifier_in_any_output(site, demo):
    for paths in site[1].values():
        for k in ("html", "ipynb"): assert leaks(demo.con, visible_text(paths[k].read_text())) == set(), paths[k]

def test_chromium_loads_page_without_network_requests(site, browse):
    html = site[1]["uz"]["html"]
    assert not re.search(r'(src|href)="(https?:)?//', html.read_text())
    with browse(html, "national-report.png") as (page, failed, external):
        title, rows = page.title(), page.locator("table.national tbody tr").count()
    assert failed == [] and external == []
    assert "жамланмаси" in title and rows == 3 * 15                     # three tables, fourteen regions and the national total

@pytest.mark.parametrize("week, lang, message", [("2025-04-22", "uz", "not a Monday"), (WEEK, "de", "Unknown language"),
                                                 ("2025-01-06", "uz", "no week model for the week of 2025-01-06")])
def test_bad_parameters_are_refused_before_running(store, tmp_path, week, lang, message):
    with pytest.raises(ValueError, match=message): make_national(store, week, lang, tmp_path)
    assert not any(tmp_path.rglob("*.ipynb"))
