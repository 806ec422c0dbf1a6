"""The moderation console in a real browser (Debian's Chromium driven by Playwright) against the service.

Sign-in with the admin key (a caller key is refused), decisions with filters, paging and detail,
"Try it" on text and on an image with an ad written on it, the stream tab, the trends chart checked
against the stats endpoint, the policy, and the layout at desktop and phone widths.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect, sync_playwright

from devtools.service import Service, ad_image
from tests.e2e.conftest import ADMIN_KEY, API_KEY

CHROMIUM = shutil.which("chromium")
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (make setup installs it)"),
]
SPAM_TEXT = "加微信 shop8899 买高仿包, add wechat shop8899 for cheap bags"
TIMEOUT_MS = 60_000
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, service: Service) -> Iterator[Page]:
    context = browser.new_context(viewport=DESKTOP, timezone_id="UTC", base_url=service.base_url)
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    problems: list[str] = []
    tab.on("console", lambda message: _record_error(message, problems))
    tab.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    tab.goto("/console")
    yield tab
    context.close()
    assert not problems, problems  # no script error, no blocked resource (CSP violations are console errors)


def _record_error(message: ConsoleMessage, problems: list[str]) -> None:
    # a failed API call the page reports on purpose (401/403 while signing in) is logged by Chromium too
    if message.type == "error" and "status of 40" not in message.text:
        problems.append(message.text)


def sign_in(page: Page, key: str = ADMIN_KEY) -> None:
    page.fill("#key", key)
    page.click("#login-form button[type=submit]")


def signed_in(page: Page) -> Page:
    sign_in(page)
    expect(page.locator("#app")).to_be_visible()
    return page


def moderate(service: Service, text: str) -> str:
    """One moderation as a caller; returns the request id the service gave it."""
    response = httpx.post(
        f"{service.base_url}/v1/moderations",
        json={"input": text},
        headers={"authorization": f"Bearer {API_KEY}"},
        timeout=60,
    )
    assert response.status_code == 200
    return response.headers["x-request-id"]


def test_a_caller_key_or_a_wrong_key_is_refused_and_the_admin_key_signs_in(page: Page) -> None:
    sign_in(page, API_KEY)
    expect(page.locator("#login-error")).to_contain_text("caller key")
    expect(page.locator("#app")).to_be_hidden()
    sign_in(page, "not-a-key-at-all")
    expect(page.locator("#login-error")).to_contain_text("not valid")
    sign_in(page)
    expect(page.locator("#app")).to_be_visible()
    expect(page.locator("#status")).to_contain_text("Policy")
    assert page.evaluate("sessionStorage.getItem('qvs-console-key')") == ADMIN_KEY
    assert page.evaluate("localStorage.length") == 0  # the key stays in this tab


def test_decisions_appear_with_filters_paging_and_a_keyboard_opened_detail(page: Page, service: Service) -> None:
    ids = [moderate(service, f"{SPAM_TEXT} #{i}") for i in range(12)]
    signed_in(page)
    rows = page.locator("#decisions-table tbody tr")
    page.select_option("#decision-filters select[name=category]", "spam")
    page.select_option("#decision-filters select[name=limit]", "10")
    page.click("#decision-filters button[type=submit]")
    expect(rows).to_have_count(10)
    first_page = rows.evaluate_all("rows => rows.map(r => r.dataset.id)")
    expect(page.locator("#decisions-older")).to_be_enabled()
    page.click("#decisions-older")
    expect(page.locator("#decisions-page")).to_have_text("page 2")
    second_page = rows.evaluate_all("rows => rows.map(r => r.dataset.id)")
    assert second_page and not set(first_page) & set(second_page)  # the cursor moved on
    page.click("#decisions-newest")
    expect(page.locator("#decisions-page")).to_have_text("page 1")
    newest = rows.evaluate_all("rows => rows.map(r => r.dataset.requestId)")
    assert newest[0] == ids[-1]  # newest first

    page.fill("#decision-filters input[name=request_id]", ids[3])
    page.click("#decision-filters button[type=submit]")
    expect(rows).to_have_count(1)
    rows.first.focus()
    page.keyboard.press("Enter")
    detail = page.locator("#decision-detail")
    expect(detail).to_be_visible()
    expect(detail.locator("tr.fired[data-category=spam]")).to_be_visible()
    expect(detail).to_contain_text(ids[3])
    expect(detail.locator(".request-decisions [data-direction=input] .summary.current")).to_have_count(1)
    page.click("#detail-close")
    expect(detail).to_be_hidden()

    page.fill("#decision-filters input[name=request_id]", "no-such-request")
    page.click("#decision-filters button[type=submit]")
    expect(page.locator("#decisions-state")).to_have_attribute("data-kind", "empty")


def test_try_it_marks_the_spam_in_a_text_and_boxes_the_ad_in_an_image(page: Page, tmp_path: Path) -> None:
    signed_in(page)
    page.click("#tab-try")
    page.fill("#try-text", SPAM_TEXT)
    page.click("#try-form button[type=submit]")
    result = page.locator("#try-result")
    expect(result.locator(".verdict")).to_contain_text("Flagged")
    expect(result.locator("mark[data-category=spam]").first).to_be_visible()
    expect(result.locator("tr[data-category=spam]")).to_have_attribute("data-detected", "true")

    picture = tmp_path / "ad.png"
    ad_image().save(picture)
    page.fill("#try-text", "")
    page.set_input_files("#try-images", str(picture))
    page.click("#try-form button[type=submit]")
    figure = result.locator("figure[data-image-index='0']")
    expect(figure.locator("img")).to_be_visible()
    expect(result.locator("tr[data-category=spam]")).to_have_attribute("data-detected", "true")
    boxes = figure.locator("polygon[data-category=spam]")
    expect(boxes.first).to_be_attached()
    assert boxes.count() >= 1
    # the boxes are in the picture's own pixels: the overlay's view box is the image's size
    assert figure.locator("svg.boxes").get_attribute("viewBox") == "0 0 1024 768"


def test_the_stream_tab_shows_the_screened_answer_and_both_filters(page: Page) -> None:
    signed_in(page)
    page.click("#tab-chat")
    page.fill("#chat-prompt", "Describe a canvas tote bag.")
    page.fill("#chat-max-tokens", "12")
    page.click("#chat-form button[type=submit]")
    expect(page.locator("#chat-output")).to_have_attribute("data-done", "true")
    expect(page.locator("#chat-input-results table")).to_be_visible()
    expect(page.locator("#chat-output-results table")).to_be_visible()
    assert page.locator("#chat-output").get_attribute("data-finish-reason") in {"stop", "length", "content_filter"}


def test_the_trends_chart_counts_what_the_stats_endpoint_counts(page: Page, service: Service) -> None:
    for i in range(3):
        moderate(service, f"{SPAM_TEXT} trend {i}")
    now = datetime.now(UTC).replace(microsecond=0)
    since, until = now - timedelta(hours=2), now + timedelta(hours=1)
    signed_in(page)
    page.click("#tab-trends")
    page.fill("#trends-form input[name=since]", since.strftime("%Y-%m-%dT%H:%M:%S"))
    page.fill("#trends-form input[name=until]", until.strftime("%Y-%m-%dT%H:%M:%S"))
    page.select_option("#trends-form select[name=bucket]", "hour")
    page.select_option("#trends-form select[name=by]", "category")
    page.click("#trends-form button[type=submit]")
    bars = page.locator("#trends-chart rect.bar")
    expect(bars.first).to_be_attached()
    drawn: dict[str, int] = {}
    for key, count in bars.evaluate_all("bars => bars.map(b => [b.dataset.key, Number(b.dataset.count)])"):
        drawn[key] = drawn.get(key, 0) + count
    stats = httpx.get(
        f"{service.base_url}/v1/moderation/stats",
        params={"since": since.isoformat(), "until": until.isoformat(), "bucket": "hour"},
        headers={"authorization": f"Bearer {ADMIN_KEY}"},
        timeout=60,
    ).json()
    expected: dict[str, int] = {}
    for row in stats["series"]:
        key = row["category"] or "no category"
        expected[key] = expected.get(key, 0) + row["count"]
    assert drawn == expected
    assert drawn["spam"] >= 3


def test_the_policy_tab_shows_the_loaded_policy(page: Page, service: Service) -> None:
    policy = httpx.get(
        f"{service.base_url}/v1/moderation/policy", headers={"authorization": f"Bearer {ADMIN_KEY}"}, timeout=60
    ).json()
    signed_in(page)
    page.click("#tab-policy")
    expect(page.locator("#policy-version")).to_have_text(policy["version"])
    expect(page.locator("#policy-body tr[data-category=spam]")).to_be_visible()


def test_tabs_are_keyboard_navigable(page: Page) -> None:
    signed_in(page)
    page.focus("#tab-decisions")
    page.keyboard.press("ArrowRight")
    expect(page.locator("#tab-try")).to_be_focused()
    expect(page.locator("#tab-try")).to_have_attribute("aria-selected", "true")
    expect(page.locator("#panel-try")).to_be_visible()
    page.keyboard.press("ArrowLeft")
    expect(page.locator("#panel-decisions")).to_be_visible()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280x800", "phone"])
def test_every_tab_fits_the_viewport_without_sideways_scrolling(page: Page, viewport: dict[str, int]) -> None:
    page.set_viewport_size(viewport)
    signed_in(page)
    for tab in ["decisions", "try", "chat", "trends", "policy"]:
        page.click(f"#tab-{tab}")
        expect(page.locator(f"#panel-{tab}")).to_be_visible()
        page.wait_for_load_state("networkidle")
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{tab} is {overflow}px wider than a {viewport['width']}px viewport"


def test_a_decision_with_kept_content_shows_its_spans_marked_and_its_image_boxes(page: Page) -> None:
    """The shared service keeps digests only, so this record (as a policy with `audit_keep_content: true`
    writes it) is served to the page in place of the API's answer: the rendering is what is tested."""
    record = {
        "id": "0" * 31 + "1",
        "request_id": "kept-content-request",
        "created_at": "2026-12-02T06:00:00Z",
        "direction": "input",
        "action": "flag",
        "categories": ["spam"],
        "scores": {"spam": 1.0},
        "policy_version": "test",
        "model": None,
        "digest": "hmac-sha256",
        "content_sha256": "a" * 64,
        "content": "Great bag, add wechat shop8899 today",
        "extra": {
            "app_version": "0.1.0",
            "categories": {"spam": {"action": "flag", "layers": ["patterns"], "spans": [[15, 30, "patterns"]]}},
            "images": [
                {
                    "image_index": 0,
                    "category": "spam",
                    "source": "ocr",
                    "layer": "terms",
                    "score": 1.0,
                    "boxes": [[[10.0, 10.0], [200.0, 10.0], [200.0, 40.0], [10.0, 40.0]]],
                    "text": "add wechat",
                }
            ],
        },
    }
    page.route(
        "**/v1/moderation/decisions?*",
        lambda route: route.fulfill(json={"object": "list", "data": [record], "next_cursor": None}),
    )
    signed_in(page)
    page.locator("#decisions-table tbody tr").first.press("Enter")
    detail = page.locator("#decision-detail")
    expect(detail.locator("mark[data-category=spam]").first).to_have_text("wechat shop8899")
    expect(detail.locator("figure[data-image-index='0'] polygon[data-category=spam]")).to_have_count(1)
    expect(detail).to_contain_text("add wechat")
    expect(detail.locator("tr.fired[data-category=spam]")).to_contain_text("patterns")
