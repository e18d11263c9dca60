"""The "street light out" category links to the street lights layer, now that there is one.

``orders.appeals.services.categories_load`` never changes a category that exists (an
administrator may have tuned it), so databases seeded before the street lights layer keep a
category without a layer; this moves them, unless someone already gave it a layer of their own.
It lives here because the street lights layer does: the category's seed names it from now on.
"""

from django.db import migrations

CODE = "street-light-out"
LAYER = "street_lights"
RADIUS_M = 30.0  # orders.appeals.categories: the seed's radius


def link_to_street_lights(apps, schema_editor) -> None:
    Category = apps.get_model("appeals", "Category")
    category = Category.objects.filter(code=CODE, layer="").first()
    if category is None:
        return
    category.layer = LAYER
    if not category.link_radius_m:
        category.link_radius_m = RADIUS_M
    category.save(update_fields=["layer", "link_radius_m"])


def unlink(apps, schema_editor) -> None:
    Category = apps.get_model("appeals", "Category")
    Category.objects.filter(code=CODE, layer=LAYER).update(layer="")


class Migration(migrations.Migration):
    dependencies = [
        ("layers", "0006_place"),
        ("appeals", "0002_integration_keys_reports_number_sequence"),
    ]

    operations = [migrations.RunPython(link_to_street_lights, unlink)]
