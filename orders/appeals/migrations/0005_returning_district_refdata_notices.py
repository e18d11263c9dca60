"""The stored district read back by each INSERT; notices when categories or districts change.

The field's new class changes no column (``RETURNING`` is the INSERT's business). The triggers
(orders/appeals/refdata.py) tell every process to drop its copies of categories, organisations,
district names, tokens and users.
"""

import django.db.models.deletion
from django.db import migrations

import orders.appeals.models
from orders.appeals import refdata


class Migration(migrations.Migration):
    dependencies = [
        ("appeals", "0004_appeal_district"),
        ("layers", "0007_street_light_out_links_street_lights"),
        # The tables the triggers go on: the tokens and their users.
        ("authtoken", "0004_alter_tokenproxy_options"),
        ("gis_core", "0001_initial"),
    ]

    operations = [
        # The state only: the same column and constraint (Django would drop and re-add the key).
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="appeal",
                    name="district",
                    field=orders.appeals.models.DatabaseSetForeignKey(
                        blank=True,
                        editable=False,
                        help_text="The district covering the point (kept by the database)",
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="appeals",
                        to="layers.district",
                    ),
                )
            ]
        ),
        migrations.RunSQL(sql=refdata.SQL, reverse_sql=refdata.DROP),
    ]
