from django.apps import AppConfig


class PlanningConfig(AppConfig):
    name = "orders.planning"
    label = "planning"
    verbose_name = "Planning"
