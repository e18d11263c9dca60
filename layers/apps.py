from django.apps import AppConfig
from django.db.models.signals import post_migrate


class LayersConfig(AppConfig):
    name = "layers"
    verbose_name = "City objects"

    def ready(self) -> None:
        from gis.apps import app_modules
        from layers.registry import layers_register
        from layers.triggers import install_street_name_triggers

        # Each app's layers (its layer_specs.SPECS), in INSTALLED_APPS order: this app's base
        # layers first. Every model is loaded by now, so the specs' fields can be checked.
        for module in app_modules("layer_specs"):
            layers_register(module.SPECS)

        # Like the tile purge triggers, these follow the registry, not a migration: a layer
        # that gains street keys gets its triggers on the next migrate.
        post_migrate.connect(install_street_name_triggers, sender=self)
