"""Third-party apps under the names a person looks for on the admin's home page.

Without these the home page lists "AXES" and "OTP_TOTP". INSTALLED_APPS names these classes
instead of the packages; the packages themselves are unchanged (same labels, same models).
Kept apart from core/apps.py, where CoreConfig must stay the module's only AppConfig.
(django.contrib.auth keeps its AppConfig, which django-stubs reads to type the user model; the
admin site names it on the home page instead: core.admin_site.)
"""

from axes.apps import AppConfig as AxesAppConfig
from django_otp.plugins.otp_totp.apps import DefaultConfig as TOTPConfig


class SignInLockoutsConfig(AxesAppConfig):
    verbose_name = "Sign-in lockouts"


class AuthenticatorsConfig(TOTPConfig):
    verbose_name = "Authenticators"
