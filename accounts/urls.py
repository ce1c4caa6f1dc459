from django.urls import register_converter

from accounts import api
from core.api.routing import api_path


class ReferenceConverter:
    """A path segment without NUL: PostgreSQL cannot compare text holding one, and no
    reference does, so such a path matches no account endpoint (404) instead of failing."""

    regex = "[^/\x00]+"

    def to_python(self, value):
        return value

    def to_url(self, value):
        return value


register_converter(ReferenceConverter, "ref")

urlpatterns = [
    *api_path("accounts", api.AccountList.as_view(), name="api-accounts"),
    *api_path("accounts/<ref:ref>", api.AccountDetail.as_view(), name="api-account"),
    *api_path("accounts/<ref:ref>/freeze", api.FreezeAccount.as_view()),
    *api_path("accounts/<ref:ref>/unfreeze", api.UnfreezeAccount.as_view()),
    *api_path("accounts/<ref:ref>/close", api.CloseAccount.as_view()),
    *api_path("accounts/<ref:ref>/transactions", api.Statement.as_view()),
    *api_path("accounts/<ref:ref>/deposits", api.Deposit.as_view()),
    *api_path("accounts/<ref:ref>/withdrawals", api.Withdrawal.as_view()),
    *api_path("accounts/<ref:ref>/holds", api.HoldList.as_view()),
    *api_path("accounts/<ref:ref>/holds/<uuid:hold_id>", api.HoldDetail.as_view()),
    *api_path("transfers", api.Transfers.as_view(), name="api-transfers"),
]
