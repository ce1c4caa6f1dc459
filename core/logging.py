import logging

from core.context import get_request_info


class RequestContextFilter(logging.Filter):
    """Puts the current request id on every log record."""

    def filter(self, record):
        record.request_id = get_request_info().request_id or "-"
        return True
