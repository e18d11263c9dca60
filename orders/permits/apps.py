from django.apps import AppConfig


class PermitsConfig(AppConfig):
    name = "orders.permits"
    label = "permits"
    verbose_name = "Excavation permits and claims"

    def ready(self) -> None:
        from layers.registry import layers_register
        from orders.permits.layer_specs import SPECS

        layers_register(SPECS)
