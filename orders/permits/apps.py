from django.apps import AppConfig


class PermitsConfig(AppConfig):
    name = "orders.permits"
    label = "permits"
    verbose_name = "Excavation permits and claims"

    def ready(self) -> None:
        from gis.metrics import collector_register
        from orders.permits.metrics import permits_metrics

        # /metrics reads the overrun permits and the unsent claims at each scrape.
        collector_register("permits", permits_metrics)
