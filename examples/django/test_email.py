"""Django sends real SMTP to test-mail-server; the test reads the mail back with mailbox.MH.

Run (the server in another terminal or in the background):

    npx test-mail-server ./mail --smtp-port 8025 &
    EMAIL_PORT=8025 MAIL_DIR=./mail python3 examples/django/test_email.py

In a Django project, put EMAIL_HOST/EMAIL_PORT in settings.py and the test class in an app's
tests.py; `manage.py test` runs it. Needs Django (Debian/Ubuntu: apt-get install python3-django).
"""
import email
import email.policy
import mailbox
import os
import sys
import uuid

import django
from django.conf import settings

if not settings.configured:
    # What settings.py would say. Only EMAIL_HOST and EMAIL_PORT matter here.
    settings.configure(
        EMAIL_HOST=os.environ.get("EMAIL_HOST", "127.0.0.1"),
        EMAIL_PORT=int(os.environ.get("EMAIL_PORT", "8025")),
        DEFAULT_FROM_EMAIL="Acme <no-reply@acme.test>",
    )
    django.setup()

from django.core.mail import send_mail  # noqa: E402
from django.test import SimpleTestCase, override_settings  # noqa: E402

MAIL_DIR = os.environ.get("MAIL_DIR", "mail")


def new_address(prefix="test"):
    """A unique recipient per test, so tests running in parallel never read each other's mail."""
    return f"{prefix}-{uuid.uuid4().hex[:16]}@example.test"


def messages_for(address):
    """The messages in an address's mailbox, oldest first: MAIL_DIR/<domain>/<local-part> is an MH folder."""
    local, domain = address.rsplit("@", 1)
    folder = os.path.join(MAIL_DIR, domain.lower(), local)
    if not os.path.isdir(folder):
        return []
    box = mailbox.MH(folder, factory=lambda f: email.message_from_binary_file(f, policy=email.policy.default), create=False)
    return [box[key] for key in sorted(box.keys())]


def send_welcome_email(to, name):
    """Stands for your application code."""
    link = f"https://acme.test/confirm?token={uuid.uuid4().hex}"
    send_mail(
        subject=f"Welcome to Acme, {name}!",
        message=f"Hi {name},\n\nPlease confirm your address: {link}\n",
        from_email=None,
        recipient_list=[to],
        html_message=f'<p>Hi {name},</p><p><a href="{link}">Confirm your address</a></p>',
    )


# Django's test runner swaps in the in-memory backend (django.core.mail.outbox) for every test;
# this brings the SMTP backend back, so the mail really goes out to test-mail-server.
@override_settings(EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend")
class WelcomeEmailTest(SimpleTestCase):
    def test_signup_sends_welcome_email(self):
        to = new_address("signup")
        send_welcome_email(to, "Zoë")

        # The server stores a message before it answers the final ".", so when send_mail
        # returns the file is already there: no waiting, no polling.
        [msg] = messages_for(to)
        self.assertEqual(msg["Subject"], "Welcome to Acme, Zoë!")
        self.assertEqual(msg["From"].addresses[0].addr_spec, "no-reply@acme.test")
        self.assertEqual(msg["Delivered-To"], to)
        text = msg.get_body(preferencelist=("plain",)).get_content()
        html = msg.get_body(preferencelist=("html",)).get_content()
        self.assertIn("Hi Zoë", text)
        self.assertRegex(html, r'href="https://acme\.test/confirm\?token=[0-9a-f]{32}"')

    def test_each_test_has_its_own_mailbox(self):
        to = new_address("other")
        self.assertEqual(messages_for(to), [])
        send_welcome_email(to, "Bob")
        self.assertEqual([m["Subject"] for m in messages_for(to)], ["Welcome to Acme, Bob!"])


if __name__ == "__main__":
    # Django's own test runner, as `manage.py test` would use it.
    from django.test.runner import DiscoverRunner

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    failures = DiscoverRunner(verbosity=2).run_tests(["test_email"])
    sys.exit(1 if failures else 0)
