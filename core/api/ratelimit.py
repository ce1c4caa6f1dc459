"""Per-key rate limiting: a fixed window counter in the shared cache (Redis in production)."""

import time

from django.conf import settings
from django.core.cache import cache

from core.api.problems import ApiError


def check_rate_limit(key_id):
    """Count one request for `key_id`; raise 429 with Retry-After past the limit.

    Returns the headers that tell the client where it stands.
    """
    limit = settings.API_RATE_LIMIT
    window = settings.API_RATE_LIMIT_WINDOW
    now = time.time()
    window_start = int(now // window) * window
    counter = f"ratelimit:{key_id}:{window_start}"
    # incr() and add() are atomic in Redis; add() is a no-op if the counter exists. One round
    # trip per request once the window's counter exists.
    try:
        used = cache.incr(counter)
    except ValueError:  # the window's first request: start its counter (or count in another's)
        used = 1 if cache.add(counter, 1, timeout=window + 1) else cache.incr(counter)
    reset_in = max(1, int(window_start + window - now + 0.999))
    headers = {
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": str(max(0, limit - used)),
        "X-RateLimit-Reset": str(reset_in),
    }
    if used > limit:
        raise ApiError(
            429,
            f"Rate limit of {limit} requests per {window} seconds exceeded; retry after "
            f"{reset_in} seconds.",
            code="rate-limited",
            headers={**headers, "Retry-After": str(reset_in)},
        )
    return headers
