from django.apps import AppConfig
from django.db.models.signals import post_migrate


class LayersConfig(AppConfig):
    name = "layers"
    verbose_name = "City objects"

    def ready(self) -> None:
        from layers.layer_specs import SPECS
        from layers.registry import layers_register
        from layers.triggers import install_street_name_triggers

        # The base layers first; the apps after this one in INSTALLED_APPS add theirs.
        layers_register(SPECS)

        # Like the tile purge triggers, these follow the registry, not a migration: a layer
        # that gains street keys gets its triggers on the next migrate.
        post_migrate.connect(install_street_name_triggers, sender=self)
