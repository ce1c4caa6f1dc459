from django.apps import AppConfig


class CustomersConfig(AppConfig):
    name = "customers"
    verbose_name = "Customers"

    def ready(self):
        from core.scopes import register_scopes

        register_scopes(
            {
                "customers:read": "read customers, relationships, owners and history",
                "customers:write": "create, change and delete customers and relationships",
            }
        )
