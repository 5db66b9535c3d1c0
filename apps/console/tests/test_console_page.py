"""The console page in a real headless Chromium: sign-in, the live inbox, one conversation,
taking over and answering, the keyboard, and accessibility."""

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect, sync_playwright

from .console_kit import Console

CHROMIUM = next(
    filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None
)
# Skipped on a laptop without Chromium; in CI (.ci/run installs Debian's) they must run.
pytestmark = pytest.mark.skipif(
    CHROMIUM is None and os.environ.get("CI") != "true",
    reason="Chromium is not installed (`apt-get install chromium`; .ci/run does it)",
)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]
PASSWORD = "correct horse battery"  # console_kit's staff password
# Where the screenshots for docs/ are written when this is set.
SCREENSHOTS = os.environ.get("TALIA_CONSOLE_SCREENSHOTS")


@pytest.fixture
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def _signed_in(browser: Browser, console: Console, email: str, **context: object) -> Page:
    page = browser.new_page(locale="en-US", **context)  # type: ignore[arg-type]
    page.goto(console.page_url)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    return page


def _shot(page: Page, name: str) -> None:
    if SCREENSHOTS:
        page.screenshot(path=str(Path(SCREENSHOTS) / name))


def test_an_agent_sees_a_handoff_arrive_takes_it_and_answers(
    browser: Browser, console: Console
) -> None:
    console.staff("Ana")
    waiting = console.conversation("webchat", texts=("¿Puedo hablar con alguien?",), name="Lucía")
    console.hand_off(waiting)
    page = _signed_in(browser, console, "ana@business.example")
    inbox = page.get_by_role("listbox", name="Conversations")
    expect(inbox.get_by_role("option")).to_have_count(1)

    arriving = console.conversation(
        "whatsapp", texts=("Necesito ayuda con mi pedido",), name="Pablo"
    )
    console.hand_off(arriving)
    expect(inbox.get_by_role("option")).to_have_count(2, timeout=2_000)  # live, no reload
    expect(page).to_have_title("(2) TalIA")
    inbox.get_by_role("option", name="Pablo").click()
    conversation = page.locator("#conversation")
    expect(conversation).to_contain_text("Necesito ayuda con mi pedido")
    page.get_by_role("button", name="Claim").click()
    expect(conversation).to_contain_text("Held by: Ana")
    page.get_by_role("textbox", name="Reply").fill("Hola Pablo, soy Ana. ¿Qué pedido es?")
    page.keyboard.press("Enter")
    expect(conversation).to_contain_text("Hola Pablo, soy Ana. ¿Qué pedido es?")
    _shot(page, "console-conversation.png")

    stored = console.rows(
        "select contenido from public.mensajes where rol = 'staff' and conversacion_id = %s",
        arriving,
    )
    assert stored == [("Hola Pablo, soy Ana. ¿Qué pedido es?",)]


def test_the_keyboard_alone_opens_claims_and_gives_back(browser: Browser, console: Console) -> None:
    console.staff("Ana")
    for name in ("Lucía", "Pablo"):
        conversation = console.conversation("webchat", texts=(f"Hola, soy {name}",), name=name)
        console.hand_off(conversation)
    page = _signed_in(browser, console, "ana@business.example")
    expect(page.get_by_role("option")).to_have_count(2)

    page.get_by_role("listbox").focus()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    expect(page.locator("#conversation")).to_contain_text("Hola, soy Pablo")
    page.get_by_role("button", name="Claim").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#conversation")).to_contain_text("Held by: Ana")
    page.get_by_role("button", name="Give back to assistant").focus()
    page.keyboard.press("Enter")

    expect(page.locator("#conversation")).to_contain_text("assistant · Held by: unassigned")


def test_outside_the_whatsapp_window_the_reply_box_says_why(
    browser: Browser, console: Console
) -> None:
    console.staff("Ana")
    old = console.conversation("whatsapp", texts=("hola",), name="Marta", hours_ago=30)
    console.hand_off(old)
    page = _signed_in(browser, console, "ana@business.example")

    page.get_by_role("option", name="Marta").click()

    reply = page.get_by_role("textbox", name="Reply")
    expect(reply).to_be_disabled()
    expect(page.locator("#reply-reason")).to_have_text(
        "WhatsApp's 24-hour window is closed: the customer must write first."
    )


def test_a_user_who_is_not_staff_is_told_so(browser: Browser, console: Console) -> None:
    console.auth.add_user("visitor@example.com", PASSWORD)

    page = _signed_in(browser, console, "visitor@example.com")

    expect(page.get_by_role("alert")).to_have_text(
        "Your user is not on this business's team. Ask an admin to add you."
    )
    expect(page.get_by_role("listbox")).to_be_hidden()


def test_inbox_and_conversation_have_no_accessibility_violations(
    browser: Browser, console: Console
) -> None:
    console.staff("Ana")
    conversation = console.conversation("webchat", texts=("hola",), name="Lucía")
    console.hand_off(conversation)
    page = _signed_in(browser, console, "ana@business.example")
    expect(page.get_by_role("option")).to_have_count(1)
    _shot(page, "console-inbox.png")
    inbox = Axe().run(page)
    page.get_by_role("option", name="Lucía").click()
    expect(page.get_by_role("textbox", name="Reply")).to_be_visible()
    opened = Axe().run(page)

    assert inbox.violations_count == 0, inbox.generate_report()
    assert opened.violations_count == 0, opened.generate_report()


def test_on_a_phone_the_list_and_the_conversation_take_turns(
    browser: Browser, console: Console
) -> None:
    console.staff("Ana")
    conversation = console.conversation("webchat", texts=("hola desde el móvil",), name="Lucía")
    console.hand_off(conversation)
    page = _signed_in(
        browser, console, "ana@business.example", viewport={"width": 390, "height": 844}
    )

    page.get_by_role("option", name="Lucía").click()

    expect(page.locator("#conversation")).to_contain_text("hola desde el móvil")
    expect(page.get_by_role("listbox")).to_be_hidden()
    _shot(page, "console-conversation-phone.png")
    page.get_by_role("button", name="← Conversations").click()
    expect(page.get_by_role("listbox")).to_be_visible()
