from core.api.routing import api_path
from lending import api

urlpatterns = [
    *api_path("loan-products", api.ProductList.as_view(), name="api-loan-products"),
    *api_path("loans", api.LoanList.as_view(), name="api-loans"),
    # Before `loans/<ref>`: POST /loans/quote is no loan's reference.
    *api_path("loans/quote", api.Quote.as_view(), name="api-loan-quote"),
    *api_path("loans/<str:ref>", api.LoanDetail.as_view(), name="api-loan"),
    *api_path("loans/<str:ref>/approve", api.ApproveLoan.as_view()),
    *api_path("loans/<str:ref>/reject", api.RejectLoan.as_view()),
    *api_path("loans/<str:ref>/withdraw", api.WithdrawLoan.as_view()),
    *api_path("loans/<str:ref>/disburse", api.DisburseLoan.as_view()),
    *api_path("loans/<str:ref>/schedule", api.Schedule.as_view()),
    *api_path("loans/<str:ref>/repayments", api.Repayments.as_view()),
    *api_path("loans/<str:ref>/payoff", api.Payoff.as_view()),
    *api_path("loans/<str:ref>/collateral", api.CollateralList.as_view()),
]
