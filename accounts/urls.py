from accounts import api
from core.api.routing import api_path

urlpatterns = [
    *api_path("accounts", api.AccountList.as_view(), name="api-accounts"),
    *api_path("accounts/<str:ref>", api.AccountDetail.as_view(), name="api-account"),
    *api_path("accounts/<str:ref>/freeze", api.FreezeAccount.as_view()),
    *api_path("accounts/<str:ref>/unfreeze", api.UnfreezeAccount.as_view()),
    *api_path("accounts/<str:ref>/close", api.CloseAccount.as_view()),
    *api_path("accounts/<str:ref>/transactions", api.Statement.as_view()),
    *api_path("accounts/<str:ref>/deposits", api.Deposit.as_view()),
    *api_path("accounts/<str:ref>/withdrawals", api.Withdrawal.as_view()),
    *api_path("accounts/<str:ref>/holds", api.HoldList.as_view()),
    *api_path("accounts/<str:ref>/holds/<uuid:hold_id>", api.HoldDetail.as_view()),
    *api_path("transfers", api.Transfers.as_view(), name="api-transfers"),
]
