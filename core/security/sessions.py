"""Idle expiry and "log out everywhere" for staff sessions.

Idle expiry: each session keeps the time of its last request. A request after
`STAFF_IDLE_TIMEOUT` of silence finds the session ended. The time is written back at most once
a minute (`ACTIVITY_RESOLUTION`), not on every request as `SESSION_SAVE_EVERY_REQUEST` would:
with cached_db sessions that setting costs a database write (and a cache write) per page, for
a precision no one needs. The price is that the session store's own expiry, refreshed with each
write, may lag by up to that minute, which `SESSION_COOKIE_AGE` allows for.

Log out everywhere: every session carries its user's epoch (`core.SessionEpoch`) from login;
raising the epoch ends all of them at their next request, whatever the session backend and on
every host. The current epoch is read through the cache (one cache read per request; a query
at most every five minutes per user); the database holds the truth.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.signals import user_logged_in
from django.core.cache import cache
from django.db import transaction
from django.db.models import F
from django.dispatch import receiver
from django.template.response import TemplateResponse
from django.utils import timezone
from django.views.decorators.http import require_POST

from core.middleware import HEALTH_PREFIX
from core.models import SessionEpoch

ACTIVITY_KEY = "ll_last_activity"
EPOCH_KEY = "ll_session_epoch"
ACTIVITY_RESOLUTION = timedelta(seconds=60)
# Short, so that with a per-process cache (no REDIS_URL) the other processes learn of a raised
# epoch within five minutes; with Redis every process sees it at once.
_CACHE_TTL = 300


def _cache_key(user_id):
    return f"ll:session-epoch:{user_id}"


def current_epoch(user_id):
    epoch = cache.get(_cache_key(user_id))
    if epoch is None:
        epoch = (
            SessionEpoch.objects.filter(user_id=user_id).values_list("epoch", flat=True).first()
            or 0
        )
        # add(), not set(): never overwrite a newer value written by end_all_sessions().
        cache.add(_cache_key(user_id), epoch, _CACHE_TTL)
    return epoch


def end_all_sessions(user):
    """End every session of `user`, on every device, at its next request."""
    row, created = SessionEpoch.objects.get_or_create(user=user, defaults={"epoch": 1})
    if not created:
        SessionEpoch.objects.filter(pk=row.pk).update(
            epoch=F("epoch") + 1, updated_at=timezone.now()
        )
        row.refresh_from_db(fields=["epoch"])
    # The cache never runs ahead of the database: until the new epoch commits, readers go to
    # the database (which shows it to this transaction only). Set at once, a rolled-back end
    # (its audit event failed) would leave the cache ahead, and the next end would reuse that
    # number and spare every session stamped with it meanwhile.
    key = _cache_key(user.pk)
    cache.delete(key)
    transaction.on_commit(lambda: cache.set(key, row.epoch, _CACHE_TTL))
    return row.epoch


def stamp_session(request, user):
    """Mark the session of `request` as opened now, in `user`'s current epoch."""
    request.session[EPOCH_KEY] = current_epoch(user.pk)
    request.session[ACTIVITY_KEY] = timezone.now().isoformat()


@receiver(user_logged_in, dispatch_uid="ledgerline_stamp_session")
def _stamp_on_login(sender, request, user, **kwargs):
    if request is not None and hasattr(request, "session"):
        stamp_session(request, user)


IDLE_NOTICE = "Your session ended after a period without activity. Log in again."
ENDED_NOTICE = "Your session was ended (logged out everywhere, or your sign-in settings changed)."
NOTICE_KEY = "ll_session_notice"


def end_session(request, notice):
    """Log out (the session is deleted on the server) and leave a notice for the login page."""
    logout(request)
    request.session[NOTICE_KEY] = notice


def pop_notice(request):
    return request.session.pop(NOTICE_KEY, None)


def _idle_for(session, now):
    try:
        last = datetime.fromisoformat(session[ACTIVITY_KEY])
    except (KeyError, TypeError, ValueError):
        return None
    return now - last


class StaffSessionMiddleware:
    """Ends a logged-in session that was idle too long or belongs to an older epoch."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith(HEALTH_PREFIX):  # probes never load a session
            return self.get_response(request)
        user = request.user
        if user.is_authenticated:
            now = timezone.now()
            idle = _idle_for(request.session, now)
            if idle is None or idle > settings.STAFF_IDLE_TIMEOUT:
                end_session(request, IDLE_NOTICE)
            elif request.session.get(EPOCH_KEY) != current_epoch(user.pk):
                end_session(request, ENDED_NOTICE)
            elif idle >= ACTIVITY_RESOLUTION:
                request.session[ACTIVITY_KEY] = now.isoformat()
        return self.get_response(request)


@require_POST
def logout_everywhere_view(request, *, site):
    end_all_sessions(request.user)
    logout(request)
    return TemplateResponse(
        request,
        "registration/logged_out.html",
        {**site.each_context(request), "title": "Logged out on every device"},
    )
