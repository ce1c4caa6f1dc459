import logging

from core.context import get_request_info


class RequestContextFilter(logging.Filter):
    """Puts the current request id on every log record."""

    def filter(self, record):
        # django.request logs a failed request after our middleware has left its context; the
        # record then carries the request, which carries its id.
        request_id = get_request_info().request_id or getattr(
            getattr(record, "request", None), "request_id", ""
        )
        record.request_id = request_id or "-"
        return True
