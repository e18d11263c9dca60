from django.apps import AppConfig
from django.db.models.signals import post_migrate


class TilesConfig(AppConfig):
    name = "tiles"

    def ready(self) -> None:
        from tiles.triggers import install_purge_triggers

        # The purge triggers follow the registry, not a migration: a layer added to the
        # registry gets its trigger on the next migrate.
        post_migrate.connect(install_purge_triggers, sender=self)
