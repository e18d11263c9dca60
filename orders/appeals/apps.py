from django.apps import AppConfig


class AppealsConfig(AppConfig):
    name = "orders.appeals"
    label = "appeals"
    verbose_name = "Appeals"
