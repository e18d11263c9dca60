from django.apps import AppConfig


class PermitsConfig(AppConfig):
    name = "orders.permits"
    label = "permits"
    verbose_name = "Excavation permits and claims"
