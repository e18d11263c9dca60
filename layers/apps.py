from django.apps import AppConfig


class LayersConfig(AppConfig):
    name = "layers"
    verbose_name = "City objects"
