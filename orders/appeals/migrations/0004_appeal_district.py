"""Each appeal's district, stored and kept right by triggers (see orders/appeals/district_sql.py).

The column first, then the functions, the backfill of the existing rows (before the triggers, so
each row is computed once), then the triggers. Reversing drops triggers and functions, then the
column.
"""

import django.db.models.deletion
from django.db import migrations, models

from orders.appeals import district_sql


class Migration(migrations.Migration):
    dependencies = [
        ("appeals", "0003_callbacks_telegram_replies"),
        # The migration creating layers_district.
        ("layers", "0005_districts_street_lights_render_height"),
    ]

    operations = [
        migrations.AddField(
            model_name="appeal",
            name="district",
            field=models.ForeignKey(
                blank=True,
                editable=False,
                help_text="The district covering the point (kept by the database)",
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="appeals",
                to="layers.district",
            ),
        ),
        migrations.RunSQL(
            sql=district_sql.FUNCTIONS + district_sql.BACKFILL + district_sql.TRIGGERS,
            reverse_sql=district_sql.DROP,
        ),
    ]
