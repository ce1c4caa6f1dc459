from core.api.routing import api_path
from customers import api

urlpatterns = [
    *api_path("customers", api.CustomerList.as_view(), name="api-customers"),
    *api_path("customers/<str:ref>", api.CustomerDetail.as_view(), name="api-customer"),
    *api_path("customers/<str:ref>/relationships", api.RelationshipList.as_view()),
    *api_path(
        "customers/<str:ref>/relationships/<int:relationship_id>", api.RelationshipDetail.as_view()
    ),
    *api_path("customers/<str:ref>/beneficial-owners", api.BeneficialOwners.as_view()),
    *api_path("customers/<str:ref>/history", api.CustomerHistory.as_view()),
]
