from django.conf import settings
from django.db import models


class SessionEpoch(models.Model):
    """A user's session generation. Every session remembers the epoch it was opened in;
    raising the epoch ends all of the user's sessions at their next request, on every
    host and whatever the session backend ("log out everywhere", 2FA changes)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="session_epoch",
    )
    epoch = models.PositiveBigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"{self.user_id}: {self.epoch}"
