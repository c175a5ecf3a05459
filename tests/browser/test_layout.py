"""Every page at a laptop's 1440 px and a phone's 390 px: nothing spills sideways out of the
page or out of a card, the console stays clean, and every amount of money shows the currency.

Cards are measured with every <details> opened (forms on demand, sync-run lists), so what a
click reveals must fit too. Money is marked in the templates with the ``money`` class."""

from __future__ import annotations

import pytest

from spendapp.allocation.chargeback import previous_month
from spendapp.core import money

pytestmark = [pytest.mark.browser, pytest.mark.slow]

WIDTHS = {"laptop": (1440, 900), "phone": (390, 844)}
PAGES = [
    "/",
    "/explorer/",
    "/explorer/?by=model",
    "/explorer/?by=service_account",
    "/explorer/claude-code/?by=actor_terminal",
    "/forecast/",
    "/scenarios/",
    "/budgets/",
    "/budgets/new/",
    "/allocation/",
    "/allocation/rules/new/",
    "/data-health/",
]
# Pages whose data always includes amounts: a page losing its money cells is a failure too.
WITH_MONEY = {
    "/",
    "/explorer/",
    "/explorer/?by=model",
    "/explorer/?by=service_account",
    "/explorer/claude-code/?by=actor_terminal",
    "/budgets/",
    "/allocation/",
    "/data-health/",
}

OVERFLOWS = """() => {
    document.querySelectorAll('details').forEach(d => { d.open = true; });
    const out = [];
    const doc = document.documentElement;
    if (doc.scrollWidth > doc.clientWidth) {
        out.push(`page: ${doc.scrollWidth} > ${doc.clientWidth}`);
    }
    document.querySelectorAll('.card').forEach((card, i) => {
        if (card.scrollWidth > card.clientWidth) {
            const title = (card.querySelector('h2') || card).textContent.trim().slice(0, 50);
            out.push(`card ${card.id || i} "${title}": ${card.scrollWidth} > ${card.clientWidth}`);
        }
    });
    return out;
}"""
# A checkbox sits at the left of its label on one line (not stretched across the form and
# drawn centred above the text): narrow, at the label's left edge, the label one line high.
MISPLACED_CHECKBOXES = """() => Array.from(document.querySelectorAll('label.inline-check'))
    .filter(label => {
        const box = label.querySelector('input').getBoundingClientRect();
        const line = label.getBoundingClientRect();
        return box.width > 30 || box.left - line.left > 2 || line.height > 2 * box.height + 8;
    })
    .map(label => label.textContent.trim())"""
# Filter lists show their labels whole at laptop width (a listbox scrolls sideways otherwise).
CUT_FILTER_LISTS = """() => Array.from(document.querySelectorAll('#explorer-form select[multiple]'))
    .filter(list => list.scrollWidth > list.clientWidth)
    .map(list => `${list.name}: ${list.scrollWidth} > ${list.clientWidth}`)"""
MONEY_TEXTS = "() => Array.from(document.querySelectorAll('.money')).map(e => e.innerText.trim())"


def _without_currency(texts: list[str], symbol: str) -> list[str]:
    """Amounts that do not show the currency; an en dash or nothing stands for no value."""
    return [t for t in texts if symbol not in t and t not in ("", money.NO_VALUE)]


@pytest.mark.parametrize("width", list(WIDTHS))
def test_every_page_fits_its_width_and_shows_money_in_the_currency(session, width):
    w, h = WIDTHS[width]
    session.page.set_viewport_size({"width": w, "height": h})
    session.login("alice")  # staff and superuser: every form and button is on the pages
    symbol = money.currency_symbol().strip()
    month = f"{previous_month(session.data.today):%Y-%m}"
    problems = {}
    for path in [*PAGES, f"/allocation/chargeback/?month={month}"]:
        session.open(path)  # also asserts a clean console
        overflow = session.page.evaluate(OVERFLOWS)
        texts = session.page.evaluate(MONEY_TEXTS)
        if path in WITH_MONEY or path.startswith("/allocation/chargeback/"):
            assert texts, f"no money cells on {path}"
        wrong = _without_currency(texts, symbol)
        if path == "/explorer/" and width == "laptop":
            assert session.page.evaluate(CUT_FILTER_LISTS) == []
        if path == "/budgets/new/":
            assert session.page.locator("label.inline-check").count() >= 3
            assert session.page.evaluate(MISPLACED_CHECKBOXES) == []
        if overflow or wrong:
            problems[path] = {"overflow": overflow, "money without currency": wrong[:5]}
    assert not problems, problems
