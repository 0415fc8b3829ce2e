"""A mail backend that refuses every message, as an SMTP relay that is down would."""

from django.core.mail.backends.base import BaseEmailBackend


class RefusingBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        raise ConnectionRefusedError("relay refused the connection")
