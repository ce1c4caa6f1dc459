import datetime
import re

from django import forms

from audit.models import Channel
from core.forms import UtcDateTimeField

DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")


class AuditEventFilterForm(forms.Form):
    resource_type = forms.CharField(required=False, max_length=100)
    resource_id = forms.CharField(required=False, max_length=100)
    action = forms.CharField(required=False, max_length=32)
    actor = forms.CharField(required=False, max_length=150)
    channel = forms.ChoiceField(required=False, choices=[("", "any"), *Channel.choices])

    def clean_to(self):
        # A date alone means through that day: `from=2026-03-01&to=2026-03-01` is that day.
        end = self.cleaned_data.get("to")
        if end is not None and DATE_ONLY.fullmatch(self.data.get("to", "").strip()):
            try:
                end += datetime.timedelta(days=1)
            except OverflowError:  # through 9999-12-31: no bound at all
                return None
        return end

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("from"), cleaned.get("to")
        if start and end and end <= start:
            self.add_error("to", "Must be after `from`.")
        for name in ("resource_type", "resource_id", "action", "actor"):
            if "\x00" in (cleaned.get(name) or ""):  # PostgreSQL refuses NUL in text
                self.add_error(name, "Contains a NUL character.")
        return cleaned


# `from` is a Python keyword: these two are added by name.
AuditEventFilterForm.base_fields["from"] = UtcDateTimeField(
    required=False,
    help_text="ISO 8601; events at or after it (a date alone: from the start of that day, "
    "in the server's TIME_ZONE, UTC unless configured otherwise).",
)
AuditEventFilterForm.base_fields["to"] = UtcDateTimeField(
    required=False, help_text="ISO 8601; events before it, or, a date alone, on or before that day."
)
