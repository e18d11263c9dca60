from django.apps import AppConfig


class OperationsConfig(AppConfig):
    name = "orders.operations"
    label = "operations"
    verbose_name = "Operations"
