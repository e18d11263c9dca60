from django.apps import AppConfig


class PlanningConfig(AppConfig):
    name = "orders.planning"
    label = "planning"
    verbose_name = "Planning"

    def ready(self) -> None:
        from layers.registry import layers_register
        from orders.planning.layer_specs import SPECS

        layers_register(SPECS)
