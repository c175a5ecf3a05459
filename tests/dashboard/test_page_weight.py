"""Page weight: the first page with plotly.js stays under 800 KB compressed, later pages
(assets cached) under 100 KB. Sizes are gzip, as WhiteNoise serves them."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pytest
from django.conf import settings

from tests.dashboard.test_pages import PAGES

FIRST_PAGE_BUDGET = 800 * 1024
LATER_PAGE_BUDGET = 100 * 1024


def _assets(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="(/static/[^"]+\.(?:js|css|svg))"', html)


def _gzip_size(url: str) -> int:
    path = Path(settings.STATIC_ROOT) / url.removeprefix(settings.STATIC_URL)
    compressed = path.with_name(path.name + ".gz")
    if compressed.exists():
        return compressed.stat().st_size
    return len(gzip.compress(path.read_bytes(), 9))


@pytest.mark.parametrize("url", PAGES)
def test_page_weight(finance_client, spend_data, url):
    html = finance_client.get(url).content.decode()
    document = len(gzip.compress(html.encode(), 6))
    assets = sum(_gzip_size(asset) for asset in set(_assets(html)))
    assert document <= LATER_PAGE_BUDGET, f"{url}: document {document} bytes gzipped"
    assert document + assets <= FIRST_PAGE_BUDGET, f"{url}: {document + assets} bytes"
    assert any("plotly-basic.min" in asset for asset in _assets(html))


def test_the_vendored_plotly_is_the_basic_bundle_with_its_licence():
    folder = Path(settings.BASE_DIR) / "static" / "vendor" / "plotly"
    head = (folder / "plotly-basic.min.js").read_text()[:200]
    assert "plotly.js (basic - minified) v4.1.1" in head
    assert "MIT" in (folder / "LICENSE").read_text()
    assert "npm pack plotly.js-basic-dist-min@4.1.1" in (folder / "README.md").read_text()
