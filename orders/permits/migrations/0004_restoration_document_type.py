"""Restoration documents keep the type parsing found and the client's name for display only.

Documents stored before are typed again from their bytes, as orders.permits.uploads types a new
one; one that no longer parses is served as application/octet-stream (a download, never a page).
"""

from django.db import migrations, models


def type_stored_documents(apps, schema_editor) -> None:
    from orders.permits.uploads import Refused, content_check, display_name

    RestorationDocument = apps.get_model("permits", "RestorationDocument")
    for document in RestorationDocument.objects.all().iterator():
        try:
            with document.file.open("rb") as handle:
                data = handle.read()
            checked = content_check(data)
        except (OSError, Refused):
            checked = None
        document.content_type = checked.content_type if checked else "application/octet-stream"
        document.original_name = display_name(document.file.name)
        document.save(update_fields=["content_type", "original_name"])


class Migration(migrations.Migration):
    dependencies = [("permits", "0003_claim_permit_index_from_constraint")]

    operations = [
        migrations.AddField(
            model_name="restorationdocument",
            name="content_type",
            field=models.CharField(default="application/octet-stream", max_length=64),
        ),
        migrations.AddField(
            model_name="restorationdocument",
            name="original_name",
            field=models.CharField(blank=True, max_length=200),
        ),
        migrations.RunPython(type_stored_documents, migrations.RunPython.noop),
    ]
