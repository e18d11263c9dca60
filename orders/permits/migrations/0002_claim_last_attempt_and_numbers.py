from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("permits", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="claim",
            name="last_attempt_at",
            field=models.DateTimeField(
                blank=True, help_text="When a worker last began to send it", null=True
            ),
        ),
        # Permit and claim numbers come from sequences: the sweep numbers its claims inside one
        # INSERT … SELECT, and two sweeps or two operators can never draw the same number.
        migrations.RunSQL(
            "CREATE SEQUENCE IF NOT EXISTS permits_permit_number_seq;"
            " CREATE SEQUENCE IF NOT EXISTS permits_claim_number_seq;",
            "DROP SEQUENCE IF EXISTS permits_permit_number_seq;"
            " DROP SEQUENCE IF EXISTS permits_claim_number_seq;",
        ),
    ]
