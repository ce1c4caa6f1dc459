"""The back-office login form: password, then tenant status and the second factor.

Every refusal after a correct password (inactive user, not staff, suspended or closed tenant,
missing or wrong code) is sent as Django's `user_login_failed` signal, exactly like a wrong
password: django-axes records it with address and user agent and counts it towards lockout, and
any other listener (the audit log) sees every failed login through one signal.
"""

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.signals import user_login_failed
from django_otp import match_token, user_has_device

from core.security.tenant_lockout import inactive_tenant_message, locked_tenant


class StaffLoginForm(AdminAuthenticationForm):
    otp_token = forms.CharField(
        label="Authenticator code",
        required=False,
        max_length=8,
        help_text="The 6-digit code from your authenticator app, if you have set one up.",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )

    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "otp_required": "Enter the 6-digit code from your authenticator app.",
        "otp_invalid": "That authenticator code is not valid. Enter the current code.",
    }

    def confirm_login_allowed(self, user):
        try:
            super().confirm_login_allowed(user)  # active, staff
            tenant = locked_tenant(user)
            if tenant is not None:
                raise forms.ValidationError(inactive_tenant_message(tenant), code="tenant")
            self._check_second_factor(user)
        except forms.ValidationError:
            user_login_failed.send(
                sender=__name__,
                credentials={"username": user.get_username()},
                request=self.request,
            )
            raise

    def _check_second_factor(self, user):
        if not user_has_device(user, confirmed=True):
            return  # STAFF_REQUIRE_2FA leads the user to enrol after login
        token = (self.cleaned_data.get("otp_token") or "").strip()
        if not token:
            raise forms.ValidationError(self.error_messages["otp_required"], code="otp_required")
        device = match_token(user, token)
        if device is None:
            raise forms.ValidationError(self.error_messages["otp_invalid"], code="otp_invalid")
        user.otp_device = device  # django-otp marks the session verified on login
