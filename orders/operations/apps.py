from django.apps import AppConfig


class OperationsConfig(AppConfig):
    name = "orders.operations"
    label = "operations"
    verbose_name = "Operations"

    def ready(self) -> None:
        from layers.registry import layers_register
        from orders.operations.layer_specs import SPECS

        layers_register(SPECS)
