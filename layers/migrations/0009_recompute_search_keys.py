"""Recompute the stored search keys for the house-number forms of #14 §1.

Ranges (``3-5``), multi-part fractions (``1/13/6``), compact forms (``4/17с6``), литера and
владение, and the new street types are keyed differently from before, so every stored key is
recomputed; rows whose keys did not change are not written.
"""

from django.db import migrations

from layers.rekey import recompute_search_keys


class Migration(migrations.Migration):
    dependencies = [("layers", "0008_street_geom_partial")]

    operations = [migrations.RunPython(recompute_search_keys, migrations.RunPython.noop)]
