"""``/docs`` loads nothing from another host: every asset it references is served by the API."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

from tests.api.conftest import Api


class _References(HTMLParser):
    """Every ``src`` and ``href`` attribute of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls.extend(value for name, value in attrs if name in ("src", "href") and value)


def test_docs_page_references_only_assets_the_api_serves(sqlite_api: Api) -> None:
    page = sqlite_api.client.get("/docs")
    assert page.status_code == 200
    parser = _References()
    parser.feed(page.text)
    assert len(parser.urls) >= 3, parser.urls  # stylesheet, favicon, script
    for url in parser.urls:
        parts = urlsplit(url)
        assert not parts.scheme and not parts.netloc, f"/docs loads {url} from another host"
    assert "://" not in page.text  # nor does its inline script (e.g. an online validator)
    served = {url: sqlite_api.client.get(urljoin("/docs", url)) for url in parser.urls}
    assert {url: r.status_code for url, r in served.items()} == {url: 200 for url in served}
    script = next(r for url, r in served.items() if url.endswith(".js"))
    assert "SwaggerUIBundle" in script.text and len(script.content) > 100_000
    assert "openapi.json" in page.text
    assert sqlite_api.client.get("/openapi.json").status_code == 200


def test_redoc_is_off_rather_than_loaded_from_a_cdn(sqlite_api: Api) -> None:
    assert sqlite_api.client.get("/redoc").status_code == 404
