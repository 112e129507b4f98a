import contextlib, glob, os, shutil, socket, subprocess, tempfile, warnings
from pathlib import Path
import pytest
from dtsj_analysis.demo import write_demo
from dtsj_analysis.load import load_dataset

os.environ.setdefault("DTSJ_CACHE", tempfile.mkdtemp(prefix="dtsj-cache-"))   # the tests' cached stores stay out of ~/.cache

@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory):
    "A small demo dataset (three regions, twelve weeks) written once per test session."
    return write_demo(tmp_path_factory.mktemp("demo") / "demo", seed=7, regions="navoi,samarkand,syrdarya")

@pytest.fixture(scope="session")
def demo(demo_dir):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_dataset(demo_dir)

ARTIFACTS = Path(__file__).parents[1] / "test-artifacts"      # screenshots of the pages the browser tests open

@pytest.fixture
def browse():
    """Open a page in headless Chromium through Playwright: `with browse(html, "name.png") as (page, failed, external)`
    records the requests that failed and those that left the machine, and saves a full-page screenshot under test-artifacts."""
    from dtsj_analysis.publish import chromium
    @contextlib.contextmanager
    def open_page(html, screenshot: str):
        exe = chromium()
        if exe is None: pytest.fail("Chromium is not installed: run `make sysdeps`")
        from playwright.sync_api import sync_playwright
        failed, external = [], []
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=exe, args=["--no-sandbox"])
            try:
                page = browser.new_page(viewport={"width": 1200, "height": 1600})
                page.on("requestfailed", lambda r: failed.append(r.url))
                page.on("request", lambda r: external.append(r.url) if not r.url.startswith(("file:", "data:")) else None)
                page.goto(Path(html).resolve().as_uri(), wait_until="networkidle")
                ARTIFACTS.mkdir(exist_ok=True)
                page.screenshot(path=str(ARTIFACTS / screenshot), full_page=True)
                yield page, failed, external
            finally: browser.close()
    return open_page

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0)); return s.getsockname()[1]

@pytest.fixture(scope="session")
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
        yield f"postgresql://dtsj@127.0.0.1:{port}/postgres"     # the plain URL of the README: SQLAlchemy 2.1 speaks psycopg 3
    finally:
        subprocess.run(as_user + [str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)

