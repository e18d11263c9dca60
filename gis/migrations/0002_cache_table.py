"""The table of Django's database cache (the limits of gis.throttling when Redis is not set).

It is made here, whichever cache is configured now: every migrated database has it, so a
deployment may drop Redis later and its limits still hold. Made as `createcachetable` makes it
(it does nothing when the table exists).
"""

from django.core.management.commands.createcachetable import Command as CreateCacheTable
from django.db import migrations

TABLE = "django_cache"  # gis.settings.CACHES' LOCATION without Redis


def create_cache_table(apps, schema_editor) -> None:
    command = CreateCacheTable()
    command.verbosity = 0
    command.create_table(schema_editor.connection.alias, TABLE, dry_run=False)


class Migration(migrations.Migration):
    dependencies = [("gis_core", "0001_initial")]

    operations = [migrations.RunPython(create_cache_table, migrations.RunPython.noop)]
