"""The server against a hostile catalog file and hostile uploads (#26 items 3 and 4).

A product photo is served only as the image type its bytes show, with ``nosniff`` and a
Content-Security-Policy, so a JPEG-and-HTML polyglot saved as ``.html`` cannot run script on the
server's origin; a JPEG scan bomb is refused at once; a look past ``job_timeout_s`` gets 504 and frees
its worker.
"""

from __future__ import annotations

import csv
import shutil
import time

import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("uvicorn")

from edge_bml.catalog.build import build_catalog  # noqa: E402
from edge_bml.catalog.products import ColumnMap  # noqa: E402
from edge_bml.model_registry import select_variant  # noqa: E402
from edge_bml.pipeline import LookOptions  # noqa: E402
from edge_bml.server.app import ServerOptions, create_app  # noqa: E402
from edge_bml.stages.embedder import ArticleEmbedder  # noqa: E402
from tests.browser import chromium_browser  # noqa: E402
from tests.loopback_server import LoopbackServer  # noqa: E402
from tests.test_jpeg_scan_bomb import scan_bomb  # noqa: E402

ODD_IDS = ["a/b", "50%", "q?x=1", "h#1", "back\\slash"]
ESCAPE_TITLE = "\x1b]0;pwned\x07Red \x1b[31mdress\x1b[0m"
SCRIPT = b"<html><body><script>document.title='pwned';fetch('/v1/catalog')</script></body></html>"


@pytest.fixture(scope="module")
def catalog(data_dir, tmp_path_factory):
    """Two real products per category, a polyglot (a real JPEG, then HTML) saved as .html, and a product
    whose file is replaced by plain HTML after the build."""
    root = tmp_path_factory.mktemp("hostile")
    images = root / "images"
    images.mkdir()
    with open(data_dir / "clothing" / "items.csv", newline="") as handle:
        rows, seen = [], {}
        for row in csv.DictReader(handle):
            if seen.get(row["category"], 0) < 2:
                seen[row["category"]] = seen.get(row["category"], 0) + 1
                rows.append(row)
    table = ["id,file,category,label"]
    for row in rows:
        shutil.copy(data_dir / "clothing" / row["file"], images / f"{row['id']}.jpg")
        table.append(f"{row['id']},{row['id']}.jpg,{row['category']},{row['label']}")
    (images / "poly.html").write_bytes((images / f"{rows[0]['id']}.jpg").read_bytes() + SCRIPT)
    shutil.copy(images / f"{rows[1]['id']}.jpg", images / "swapped.jpg")
    table += ["poly,poly.html,top,Polyglot", "swapped,swapped.jpg,top,Swapped"]
    for n, odd in enumerate(ODD_IDS):
        shutil.copy(images / f"{rows[n]['id']}.jpg", images / f"odd{n}.jpg")
        table.append(f"{odd},odd{n}.jpg,{rows[n]['category']},{ESCAPE_TITLE}")
    (root / "items.csv").write_text("\n".join(table) + "\n")
    with ArticleEmbedder(select_variant("embedder", precision="fp32")) as embedder:
        manifest = build_catalog(
            root / "items.csv", images, root / "catalog", embedder, columns=ColumnMap(title="label")
        )
    assert manifest.metrics["unreadable_images"] == 0
    (images / "swapped.jpg").write_bytes(SCRIPT)  # changed after the build: the server must look at the bytes
    return root / "catalog"


@pytest.fixture(scope="module")
def server(catalog):
    app = create_app(LookOptions(catalog=catalog, threads=1), ServerOptions(workers=1, queue_size=1))
    with LoopbackServer(app) as running:
        yield running


def test_a_polyglot_product_photo_is_served_as_the_image_its_bytes_are(server):
    answer = httpx.get(f"{server.url}/v1/products/poly/image")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "image/jpeg"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.content.startswith(b"\xff\xd8\xff")


def test_every_product_id_reaches_its_image_through_the_url_the_look_gives(server, data_dir):
    from urllib.parse import quote

    for odd in ODD_IDS:
        answer = httpx.get(f"{server.url}/v1/products/{quote(odd, safe='')}/image")
        assert (answer.status_code, answer.headers["content-type"]) == (200, "image/jpeg"), odd
    look = httpx.post(f"{server.url}/v1/look", content=(data_dir / "ccp" / "photos" / "0002.jpg").read_bytes())
    urls = [m["image_url"] for a in look.json()["articles"] for m in a["matches"]]
    urls = [url for url in urls if url != "/v1/products/swapped/image"]  # its file is no image any more (404)
    assert urls and {url: httpx.get(server.url + url).status_code for url in urls} == dict.fromkeys(urls, 200)


def test_search_and_look_tables_print_no_terminal_escapes(catalog, data_dir, capsys):
    from edge_bml.cli.main import main

    photo = data_dir / "clothing" / "images" / sorted((data_dir / "clothing" / "images").iterdir())[0].name
    assert main(["search", str(photo), "--catalog", str(catalog), "--top-k", "60"]) == 0
    out = capsys.readouterr().out
    assert "Red dress" in out and "\x1b" not in out and "\x07" not in out


def test_a_product_file_that_is_not_an_image_is_not_served(server):
    answer = httpx.get(f"{server.url}/v1/products/swapped/image")
    assert answer.status_code == 404
    assert answer.json() == {"error": "no image for product 'swapped'"}


def test_every_page_carries_a_policy_that_allows_only_the_servers_own_scripts(server):
    image = httpx.get(f"{server.url}/v1/products/poly/image").headers["content-security-policy"]
    assert image.startswith("default-src 'none';") and image.endswith("; sandbox")
    for path in ("/", "/v1/catalog", "/healthz", "/static/kiosk.js", "/no-such-route"):
        headers = httpx.get(server.url + path).headers
        assert headers["x-content-type-options"] == "nosniff", path
        policy = headers["content-security-policy"]
        assert "script-src 'self'; style-src 'self'" in policy and "frame-ancestors 'none'" in policy, path
    docs = httpx.get(f"{server.url}/docs").headers["content-security-policy"]
    assert docs.count("'sha256-") == 1 and "'unsafe-inline'" not in docs.split("script-src")[1].split(";")[0]


@pytest.mark.browser
def test_chromium_runs_no_script_from_a_product_photo_and_the_pages_break_no_policy(server):
    with chromium_browser() as browser:
        page = browser.new_page()
        violations = []
        page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
        page.goto(f"{server.url}/v1/products/poly/image")
        page.wait_for_timeout(500)
        assert page.title() != "pwned"
        assert page.evaluate("document.querySelectorAll('script').length") == 0
        page.goto(f"{server.url}/")
        deadline = time.monotonic() + 30
        while page.inner_text("#catalog") == "…" and time.monotonic() < deadline:  # no eval: the CSP forbids it
            page.wait_for_timeout(100)
        assert page.inner_text("#catalog") != "…"
        page.goto(f"{server.url}/docs")
        page.wait_for_selector("#swagger-ui > *", timeout=30_000)
    assert violations == []


def test_the_scan_bomb_upload_is_refused_with_422(server):
    answer = httpx.post(f"{server.url}/v1/look", content=scan_bomb(), timeout=60)
    assert answer.status_code == 422
    assert "more than 100 scans" in answer.json()["error"]


def test_a_look_past_the_job_timeout_gets_504_and_frees_its_worker(catalog, data_dir):
    photo = (data_dir / "ccp" / "photos" / "0002.jpg").read_bytes()
    app = create_app(
        LookOptions(catalog=catalog, threads=1), ServerOptions(workers=1, queue_size=0, job_timeout_s=1e-4)
    )
    with LoopbackServer(app) as running:
        for _ in range(3):  # with one place and no line, a worker still held would give 503
            answer = httpx.post(f"{running.url}/v1/look", content=photo, timeout=60)
            assert answer.status_code == 504
            assert answer.json() == {
                "error": "the look took longer than 0.0001 s and was stopped; send a smaller photo or retry later"
            }
