"""A payable's pages as people see them in Chromium: readable badges and buttons (WCAG AA contrast,
computed from the rendered colours), the bank account choices following the vendor, the page
following a payment until it settles, and the way to an authenticator before paying.

Screenshots land in $SCREENSHOT_DIR/payables (default test-results/payables) for a person to look at.
"""

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from core import roles
from payables.models import Payable
from tests.browser.helpers import choose_in_autocomplete, sign_in
from tests.support import add_totp_device, current_code, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
S = Payable.Status
AA = 4.5
SHOTS = Path(os.environ.get("SCREENSHOT_DIR", "test-results")) / "payables"

# The contrast of an element's text against what is really behind it: its own background, or the
# first ancestor's that is painted (semi-transparent layers composited over what lies beneath).
CONTRAST_JS = """
(selector) => {
  function rgba(text) {
    const m = text.match(/rgba?\\(([^)]+)\\)/);
    if (!m) { return [0, 0, 0, 0]; }
    const p = m[1].split(',').map(s => parseFloat(s));
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  }
  function over(top, bottom) {
    const a = top[3] + bottom[3] * (1 - top[3]);
    if (a === 0) { return [0, 0, 0, 0]; }
    return [0, 1, 2].map(i => (top[i] * top[3] + bottom[i] * bottom[3] * (1 - top[3])) / a).concat([a]);
  }
  function background(el) {
    let color = [0, 0, 0, 0];
    for (let node = el; node && node.nodeType === 1; node = node.parentElement) {
      color = over(color, rgba(getComputedStyle(node).backgroundColor));
      if (color[3] >= 0.999) { return color; }
    }
    return over(color, [255, 255, 255, 1]);
  }
  function luminance(c) {
    const [r, g, b] = c.slice(0, 3).map(v => {
      v = v / 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  }
  return Array.from(document.querySelectorAll(selector)).map(el => {
    const bg = background(el);
    const fg = over(rgba(getComputedStyle(el).color), bg);
    const [l1, l2] = [luminance(fg), luminance(bg)].sort((a, b) => b - a);
    return {
      text: (el.innerText || el.value || '').trim(),
      ratio: (l1 + 0.05) / (l2 + 0.05),
      fg: getComputedStyle(el).color,
      bg: 'rgb(' + bg.slice(0, 3).map(Math.round).join(', ') + ')',
    };
  });
}
"""
HEADER = (
    "#payable-panel h2, #payable-panel h2 .status, #payable-panel .payable-actions a.button, "
    "#payable-panel .payable-actions input[type=submit]"
)


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def contrasts(page, selector: str) -> list[dict]:
    return page.evaluate(CONTRAST_JS, selector)


def test_every_badge_and_button_in_a_payables_header_meets_wcag_aa_in_each_status(
    page, live_server, people, make_payable
):
    base = live_server.url
    from payables import services

    one_per_status = {status: make_payable(bill_number=f"INV-{2001 + n}") for n, status in enumerate(S)}
    for status, payable in one_per_status.items():
        if status == S.SUBMITTED:  # submitted in Dots, so that its step waits for an approver
            services.payable_submit(payable_id=payable.pk, actor=people.clerk, duplicate_reason="a test bill")
        else:
            Payable.objects.filter(pk=payable.pk).update(status=status)
    device = add_totp_device(people.payer)
    # Who sees which buttons: the clerk (submit, cancel), an approver (approve, reject), the payer (pay).
    checked = set()
    for who, code in (("clerk", ""), ("approver2", ""), ("payer", "payer")):
        sign_in(page, base, who, code=current_code(device) if code else "")
        for status, payable in one_per_status.items():
            page.goto(f"{base}/admin/payables/payable/{payable.pk}/change/")
            found = contrasts(page, HEADER)
            assert any(f["text"] == status.label for f in found), (status, found)
            low = [f for f in found if f["ratio"] < AA]
            assert not low, (who, status.value, low)
            checked |= {f["text"] for f in found}
            shot(page, f"header-{status.value}-{who}")
        page.goto(f"{base}/admin/payables/payable/")
        listed = contrasts(page, "#result_list .status")
        assert len(listed) == len(S) and not [f for f in listed if f["ratio"] < AA], listed
    shot(page, "list")
    # Every kind of button was on some page: the check above covered each.
    for label in ("Submit for approval", "Cancel…", "Approve…", "Reject…", "Pay…", "Check with Dots now"):
        assert label in checked, (label, checked)
    assert page.csp_violations == []


def test_the_bank_account_choices_follow_the_chosen_vendor(page, live_server, people, vendor_account):
    from vendors import bank_accounts
    from vendors import services as vendor_services

    base = live_server.url
    globex = vendor_services.vendor_create(
        actor=people.clerk,
        name="Globex Corporation",
        address_line_1="100 Industrial Way",
        city="Cypress Creek",
        state="OR",
        postcode="97401",
        contact_email="ap@globex.example",
    )
    theirs = bank_accounts.bank_account_create(
        actor=people.clerk,
        vendor_id=globex.pk,
        name="Globex operating",
        routing_number="021000021",
        account_number="000987654321",
        account_type="checking",
    )
    sign_in(page, base, "clerk")
    page.goto(f"{base}/admin/payables/payable/add/")
    options = page.locator("#id_bank_account option")
    assert options.count() == 1  # the empty choice only: no vendor yet
    assert "Choose the vendor first" in page.inner_text(".field-bank_account")
    # The vendor is found by typing the start of its name (a company has thousands).
    assert page.locator("#id_vendor option").count() <= 1, "the page does not list every vendor"
    choose_in_autocomplete(page, "id_vendor", "Glob", "Globex Corporation")
    expect(options).to_have_count(2)
    assert options.nth(1).inner_text() == (
        "Globex operating ••••4321 (unverified: cannot be paid until a second person verifies it)"
    )
    assert options.nth(1).get_attribute("value") == str(theirs.pk)
    choose_in_autocomplete(page, "id_vendor", "acme", "Acme Supplies")
    expect(options.nth(1)).to_have_text("Acme operating ••••6789 (verified)")
    assert [options.nth(i).inner_text() for i in range(options.count())][1:] == ["Acme operating ••••6789 (verified)"]
    shot(page, "add-bank-account-choices")
    assert page.csp_violations == []


def test_a_bill_read_from_a_pdf_names_its_vendor_by_typing(page, live_server, people, vendor_account, tmp_path):
    """The page a clerk opens most with thousands of vendors: it lists none of them, nor their accounts;
    typing the start of a name finds the vendor, whose accounts are then offered, and Dots reads the PDF."""
    vendor, account = vendor_account
    base = live_server.url
    sign_in(page, base, "clerk")
    page.goto(f"{base}/admin/payables/payable/from-file/")
    assert page.locator("#id_vendor option").count() <= 1
    options = page.locator("#id_bank_account option")
    assert options.count() == 1 and "Choose the vendor first" in page.inner_text("#content-main")
    choose_in_autocomplete(page, "id_vendor", "Acm", vendor.name)
    expect(options).to_have_count(2)
    expect(options.nth(1)).to_have_text("Acme operating ••••6789 (verified)")
    page.select_option("#id_bank_account", str(account.pk))
    pdf = tmp_path / "inv-778.pdf"
    pdf.write_bytes(b"%PDF-1.4\nBT (Invoice INV-778) Tj (Total: $1,234.56) Tj ET\n%%EOF\n")
    page.set_input_files("#id_file", str(pdf))
    shot(page, "from-pdf-vendor-chosen")
    with page.expect_navigation():
        page.click("input[type=submit]")
    assert "check the draft, then save and submit it" in page.inner_text(".messagelist")
    payable = Payable.objects.get(vendor=vendor, bank_account=account)
    assert page.url.endswith(f"/admin/payables/payable/{payable.pk}/change/")
    assert payable.status == Payable.Status.CREATED
    assert page.csp_violations == []


def test_the_page_follows_a_payment_until_it_settles(page, live_server, people, approved_payable):
    base = live_server.url
    Payable.objects.filter(pk=approved_payable.pk).update(status=S.PAYMENT_INITIATED)
    sign_in(page, base, "clerk")
    page.goto(f"{base}/admin/payables/payable/{approved_payable.pk}/change/")
    assert page.inner_text("#payable-status") == "Payment in progress"
    assert page.is_visible("#payable-refreshing")
    shot(page, "payment-under-way")
    # The worker records Dots' answer meanwhile; the page shows it without anyone reloading.
    Payable.objects.filter(pk=approved_payable.pk).update(status=S.PAYMENT_COMPLETED)
    expect(page.locator("#payable-status")).to_have_text("Paid", timeout=15_000)
    expect(page.locator("#payable-panel")).to_have_attribute("data-in-flight", "false")
    expect(page.locator("#payable-refreshing")).to_have_count(0)
    assert not page.is_visible("#payable-refreshing")
    shot(page, "payment-settled")
    # Settled: nothing polls any more.
    polled = []
    page.on("request", lambda request: polled.append(request.url) if "/status/" in request.url else None)
    page.wait_for_timeout(4_500)
    assert polled == []
    assert page.csp_violations == []


def test_a_payer_without_an_authenticator_is_led_to_set_one_up_and_back_to_pay(
    page, live_server, people, approved_payable, settings
):
    from core.models import DemoAccount

    settings.DEBUG = True  # as `make run`: the demo payer signs in without a code
    DemoAccount.objects.create(user=people.payer)
    base = live_server.url
    sign_in(page, base, "payer")
    page.goto(f"{base}/admin/payables/payable/{approved_payable.pk}/act/pay/")
    assert "you have not set one up yet" in page.inner_text("#content-main")
    assert page.locator("input[type=submit][value=Pay]").count() == 0
    shot(page, "pay-without-authenticator")
    with page.expect_navigation():
        page.click("text=Two-factor sign-in set-up")
    assert "you go back to the payment" in page.inner_text("#content-main")
    shot(page, "two-factor-set-up-from-pay")
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.get(user=people.payer, confirmed=False)
    page.fill("#id_otp_token", current_code(device))
    with page.expect_navigation():
        page.click("input[type=submit]")
    assert page.url.endswith(f"/admin/payables/payable/{approved_payable.pk}/act/pay/")
    with page.expect_navigation():
        page.click("input[type=submit][value=Pay]")
    approved_payable.refresh_from_db()
    assert approved_payable.status in (S.PAYMENT_INITIATED, S.PAYMENT_COMPLETED)
    assert page.csp_violations == []


def test_a_manager_reads_a_submitted_payables_money_as_money(page, live_server, people, make_payable):
    from payables import services

    payable = make_payable(items=[("Widgets", 2_500, 1)])
    services.payable_submit(payable_id=payable.pk, actor=people.clerk)
    make_user("manager", role=roles.MANAGER)
    sign_in(page, live_server.url, "manager")
    page.goto(f"{live_server.url}/admin/payables/payable/{payable.pk}/change/")
    text = page.inner_text("#content-main")
    assert "$25.00" in text and "2500" not in text
    shot(page, "submitted-read-only")
