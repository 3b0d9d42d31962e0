"""What an integrator meets first (#28): /docs renders, a client generated from /openapi.json works
unedited, and a web app on another origin may call the API when the server is told to allow it."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("uvicorn")

from edge_bml.pipeline import LookOptions  # noqa: E402
from edge_bml.server.app import ServerOptions, create_app  # noqa: E402
from tests.browser import chromium_browser  # noqa: E402
from tests.look_fixtures import build_small_catalog  # noqa: E402
from tests.loopback_server import LoopbackServer  # noqa: E402

SHOP = "https://shop.example"


@pytest.fixture(scope="module")
def server(data_dir, tmp_path_factory):
    catalog = build_small_catalog(data_dir, tmp_path_factory.mktemp("catalog") / "small", per_category=3)
    options = ServerOptions(workers=1, queue_size=2, cors_origins=(SHOP,))
    with LoopbackServer(create_app(LookOptions(catalog=catalog, threads=1), options), options) as running:
        yield running


def test_the_schema_is_openapi_3_0_with_one_body_type_and_typed_metrics(server):
    document = httpx.get(f"{server.url}/openapi.json").json()
    assert document["openapi"] == "3.0.3"
    assert '"type": "null"' not in json.dumps(document)
    assert list(document["paths"]["/v1/look"]["post"]["requestBody"]["content"]) == ["multipart/form-data"]
    assert list(document["paths"]["/metrics"]["get"]["responses"]["200"]["content"]) == ["text/plain; version=0.0.4"]


@pytest.mark.browser
def test_docs_render_the_api_in_chromium_offline(server):
    with chromium_browser() as browser:
        page = browser.new_page()
        outside = []
        page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(server.url) else None)
        page.goto(f"{server.url}/docs")
        page.wait_for_selector(".opblock-summary-path", timeout=30_000)
        text = page.inner_text("body")
        paths = page.eval_on_selector_all(".opblock-summary-path", "nodes => nodes.map(n => n.innerText)")
    assert "Unable to render" not in text
    assert "/v1/look" in paths and "/v1/catalog" in paths
    assert [url for url in outside if not url.startswith("data:")] == []


@pytest.mark.slow
def test_a_generated_client_imports_unedited_and_calls_the_api_typed(server, tmp_path, ccp_val):
    generator = Path(sys.executable).parent / "openapi-python-client"
    if not generator.exists():
        pytest.skip("openapi-python-client is not installed (pip install -e '.[dev]')")
    (tmp_path / "openapi.json").write_text(httpx.get(f"{server.url}/openapi.json").text)
    env = {**os.environ, "PATH": f"{generator.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    subprocess.run(
        [str(generator), "generate", "--path", "openapi.json", "--meta", "none", "--output-path", "edge_bml_client"],
        cwd=tmp_path,
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )
    sys.path.insert(0, str(tmp_path))
    try:
        client_module = importlib.import_module("edge_bml_client.client")
        look_call = importlib.import_module("edge_bml_client.api.default.look_v1_look_post")
        catalog_call = importlib.import_module("edge_bml_client.api.default.catalog_info_v1_catalog_get")
        health_call = importlib.import_module("edge_bml_client.api.default.healthz_healthz_get")
        models = importlib.import_module("edge_bml_client.models")
        types = importlib.import_module("edge_bml_client.types")
        client = client_module.Client(base_url=server.url, timeout=httpx.Timeout(120))
        photo = ccp_val[0]["path"]
        body = models.LookV1LookPostBody(file=types.File(payload=photo.open("rb"), file_name=photo.name))
        look = look_call.sync(client=client, body=body)
        assert isinstance(look, models.Look) and look.shot == "full_shot"
        assert look.articles and isinstance(look.articles[0], models.Article)
        assert isinstance(look.articles[0].matches[0], models.Match)
        summary = catalog_call.sync(client=client)
        assert isinstance(summary, models.CatalogSummary) and summary.total == 24
        assert health_call.sync(client=client).status == "ok"
        bad = models.LookV1LookPostBody(file=types.File(payload=b"not a photo", file_name="notes.jpg"))
        error = look_call.sync(client=client, body=bad)
        assert isinstance(error, models.Error) and error.error == "not an image: send a JPEG, PNG, WebP or BMP photo"
    finally:
        sys.path.remove(str(tmp_path))
        for name in [n for n in sys.modules if n.startswith("edge_bml_client")]:
            del sys.modules[name]


def test_cors_answers_a_preflight_from_an_allowed_origin_only(server):
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
    allowed = httpx.options(f"{server.url}/v1/look", headers={"Origin": SHOP, **preflight})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == SHOP
    other = httpx.options(f"{server.url}/v1/look", headers={"Origin": "https://elsewhere.example", **preflight})
    assert other.status_code == 400 and "access-control-allow-origin" not in other.headers
    answer = httpx.get(f"{server.url}/v1/catalog", headers={"Origin": SHOP})
    assert answer.headers["access-control-allow-origin"] == SHOP
