"""TOTP second factor for staff (django-otp).

- A user with a confirmed device must give a code at every login, whether or not
  `STAFF_REQUIRE_2FA` is set (core/security/login.py).
- With `STAFF_REQUIRE_2FA=true`, a logged-in user without a device is led to the enrolment page
  and can reach nothing else until a device is confirmed: never locked out for good.
- A session that is not verified although its user has a device (a device added by a platform
  operator, or a session opened by a path that skipped the code) is ended.

Adding, confirming or removing a device ends the user's other sessions (session epoch), so a new
device binds every session and a reset device frees none that was verified with it.
"""

import base64

import segno
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.signals import user_logged_in
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.dispatch import receiver
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django_otp import login as otp_login
from django_otp import user_has_device
from django_otp.plugins.otp_totp.models import TOTPDevice

from core.middleware import HEALTH_PREFIX
from core.security.sessions import ENDED_NOTICE, end_all_sessions, end_session, stamp_session
from core.security.staff_audit import record_staff_change

HAS_DEVICE_KEY = "ll_2fa_device"
ENROL_URL_NAME = "admin:account_security"
# Pages a user who must enrol can still reach.
_OPEN_URL_NAMES = [ENROL_URL_NAME, "admin:logout", "admin:login", "admin:jsi18n"]


def has_confirmed_device(request):
    """Whether the user has a confirmed device, remembered in the session: it changes only
    through paths that end the user's sessions (see end_all_sessions())."""
    if HAS_DEVICE_KEY not in request.session:
        request.session[HAS_DEVICE_KEY] = user_has_device(request.user, confirmed=True)
    return request.session[HAS_DEVICE_KEY]


@receiver(user_logged_in, dispatch_uid="ledgerline_remember_device")
def _remember_device_on_login(sender, request, user, **kwargs):
    if request is not None and hasattr(request, "session"):
        request.session[HAS_DEVICE_KEY] = user_has_device(user, confirmed=True)


class TwoFactorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self._open_paths = None

    def __call__(self, request):
        if request.path.startswith(HEALTH_PREFIX):  # probes never load a session
            return self.get_response(request)
        user = request.user
        if (
            user.is_authenticated
            and not request.path.startswith("/api/")
            and not user.is_verified()
        ):
            if has_confirmed_device(request):
                end_session(request, ENDED_NOTICE)
                return redirect_to_login(request.get_full_path(), reverse("admin:login"))
            if settings.STAFF_REQUIRE_2FA and request.path not in self._open():
                return redirect(ENROL_URL_NAME)
        return self.get_response(request)

    def _open(self):
        if self._open_paths is None:
            self._open_paths = {reverse(name) for name in _OPEN_URL_NAMES}
        return self._open_paths


class ConfirmDeviceForm(forms.Form):
    """Turning 2FA on asks for the password again, so that a session left open on someone
    else's screen cannot be used to bind the account to a stranger's phone."""

    password = forms.CharField(
        label="Your password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    otp_token = forms.CharField(
        label="Code from your authenticator app",
        max_length=8,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )

    def __init__(self, *args, device, **kwargs):
        super().__init__(*args, **kwargs)
        self.device = device

    def clean_password(self):
        password = self.cleaned_data["password"]
        if not self.device.user.check_password(password):
            raise forms.ValidationError("That is not your password.")
        return password

    def clean(self):
        cleaned = super().clean()
        # The code is checked (and so used up) only once the password is right.
        ready = "password" in cleaned and "otp_token" in cleaned
        if ready and not self.device.verify_token(cleaned["otp_token"].strip()):
            self.add_error(
                "otp_token",
                "That code is not valid. Check the time on your phone and enter the current code.",
            )
        return cleaned


def _pending_device(user):
    """The user's unconfirmed device (its secret shown until confirmed), created if needed."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)
    return device


def account_security_view(request, *, site):
    """Two-factor status and enrolment, and "log out everywhere", for the logged-in user."""
    user = request.user
    confirmed = user_has_device(user, confirmed=True)
    context = {
        **site.each_context(request),
        "title": "Account security",
        "has_device": confirmed,
        "required": settings.STAFF_REQUIRE_2FA,
    }
    if not confirmed:
        device = _pending_device(user)
        form = ConfirmDeviceForm(request.POST or None, device=device)
        if request.method == "POST" and form.is_valid():
            with transaction.atomic():
                device.confirmed = True
                device.save(update_fields=["confirmed"])
                end_all_sessions(user)  # other sessions must now give a code too
            otp_login(request, device)
            stamp_session(request, user)
            request.session[HAS_DEVICE_KEY] = True
            messages.success(request, "Two-factor authentication is on for your account.")
            return redirect(ENROL_URL_NAME)
        context.update(
            form=form,
            secret=base64.b32encode(device.bin_key).decode(),
            qr_svg=segno.make(device.config_url, error="m").svg_inline(scale=4, light="#fff"),
        )
    return TemplateResponse(request, "ledgerline/account_security.html", context)


def reset_devices(*, user, by):
    """Remove all of `user`'s devices (a platform operator's reset) and end their sessions,
    with its audit event."""
    if not by.is_superuser:
        raise PermissionDenied
    with transaction.atomic():
        removed, _ = TOTPDevice.objects.filter(user=user).delete()
        end_all_sessions(user)
        record_staff_change(user, "reset_two_factor")
    return removed
