"""Issue #12, money in, in Chromium: a receivables clerk creates a customer and a checkout session, the page
shows the payment page's URL to copy, the session completes in the emulator and the intent shows succeeded."""

import pytest
from django.db import connections

from core import roles
from receivables.models import CheckoutSession, PaymentCustomer
from tests.browser.helpers import shot, sign_in
from tests.support import make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_clerk_creates_a_customer_and_a_checkout_session_that_completes_with_its_intent_succeeded(
    page, live_server, dots, monkeypatch
):
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)
    make_user("rita", role=roles.RECEIVABLES_CLERK)
    sign_in(page, live_server.url, "rita")

    page.goto(f"{live_server.url}/admin/receivables/paymentcustomer/add/")
    page.fill("#id_first_name", "Carla")
    page.fill("#id_last_name", "Customer")
    page.fill("#id_business_name", "Carla's Bakery")
    page.fill("#id_email", "carla@example.com")
    page.fill("#id_phone", "(201) 555-0142")
    page.fill("#id_address_line_1", "1 Main St")
    page.fill("#id_city", "Newark")
    page.select_option("#id_state", "NJ")
    page.fill("#id_postcode", "07102")
    shot(page, "money-in-customer-add")
    with page.expect_navigation():
        page.click("input[type=submit]")
    assert "In Dots" in page.inner_text(".field-status_shown .readonly")
    assert page.inner_text(".field-phone_shown .readonly") == "+1 201-555-0142"
    shot(page, "money-in-customer")
    customer = PaymentCustomer.objects.get()

    page.goto(f"{live_server.url}/admin/receivables/checkoutsession/add/")
    page.select_option("#id_customer", str(customer.pk))
    page.fill("#id_success_url", "https://bakery.example.com/thanks")
    page.fill("#id_cancel_url", "https://bakery.example.com/cart")
    page.fill("#id_line_1_name", "Sourdough loaf")
    page.fill("#id_line_1_amount", "7.50")
    page.fill("#id_line_1_quantity", "2")
    page.fill("#id_line_2_name", "Birthday cake")
    page.fill("#id_line_2_amount", "$45.00")
    page.fill("#id_line_2_quantity", "1")
    shot(page, "money-in-session-add")
    with page.expect_navigation():
        page.click("input[type=submit]")

    session = CheckoutSession.objects.get()
    assert page.input_value("#checkout-url") == session.url and session.url.startswith("http")
    assert page.inner_text(".field-total .readonly") == "$60.00"
    assert page.inner_text(".field-status_shown .readonly") == "Open: waiting for the customer to pay"
    assert page.inner_text(".field-expires .readonly") not in ("", "not known yet")
    page.click("button.ll-copy")
    page.wait_for_selector("button.ll-copy:has-text('Copied')")
    shot(page, "money-in-session-open")
    assert page.csp_violations == []

    # The customer pays on Dots' page (the emulator's control), then the clerk refreshes the session.
    dots.control(f"checkout-sessions/{session.dots_id}/complete")
    page.goto(f"{live_server.url}/admin/receivables/checkoutsession/")
    page.check(f"input[name=_selected_action][value='{session.pk}']")
    page.select_option("select[name=action]", "refresh_from_dots")
    with page.expect_navigation():
        page.click("button[name=index]")
    assert "1 checkout session refreshed" in page.inner_text(".messagelist").lower() or "refreshed" in page.inner_text(
        ".messagelist"
    )
    page.goto(f"{live_server.url}/admin/receivables/checkoutsession/{session.pk}/change/")
    assert page.inner_text(".field-status_shown .readonly") == "Paid"
    intent_text = page.inner_text(".field-intent_shown .readonly")
    assert intent_text.endswith("succeeded"), intent_text
    shot(page, "money-in-session-paid")
    with page.expect_navigation():
        page.click(".field-intent_shown a")
    assert page.inner_text(".field-status_shown .readonly") == "Succeeded"
    assert page.inner_text(".field-amount .readonly") == "$60.00"
    shot(page, "money-in-intent-succeeded")


def test_clerk_creates_a_payment_intent_and_sees_its_client_secret_once(page, live_server, dots, monkeypatch):
    from receivables.models import PaymentIntent
    from receivables.services import customers

    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)
    clerk = make_user("rita", role=roles.RECEIVABLES_CLERK)
    customer = customers.payment_customer_create(actor=clerk, business_name="Carla's Bakery")
    sign_in(page, live_server.url, "rita")
    page.goto(f"{live_server.url}/admin/receivables/paymentintent/add/")
    page.select_option("#id_customer", str(customer.pk))
    page.fill("#id_amount", "125.00")
    page.fill("#id_labels", "order: 1042")
    with page.expect_navigation():
        page.click("input[type=submit]")
    intent = PaymentIntent.objects.get()
    secret = page.input_value("#client-secret")
    assert secret.startswith(intent.dots_id + "_secret_")
    assert "shown only now" in page.inner_text("#content-main")
    assert page.inner_text("#intent-created").startswith(f"{intent} for $125.00 from Carla's Bakery is in Dots")
    page.click("button.ll-copy")
    page.wait_for_selector("button.ll-copy:has-text('Copied')")
    shot(page, "money-in-intent-created")
    with page.expect_navigation():
        page.click(f"a[href$='/paymentintent/{intent.pk}/change/']")
    assert secret not in page.content()
    assert page.inner_text(".field-status_shown .readonly") == "Waiting for a payment method"
    shot(page, "money-in-intent")
    assert page.csp_violations == []
