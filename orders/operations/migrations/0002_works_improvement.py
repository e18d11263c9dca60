"""The works view also shows the improvement register (``planning.ImprovementWork``).

Its rows take the ids 4n (the others are 4n+1, 4n+2, 4n+3); a register work without dates is
kept in the view but covers no day.
"""

import importlib

from django.db import migrations

WORKS_VIEW = importlib.import_module(
    "orders.operations.migrations.0001_repeated_problems_and_works"
).WORKS_VIEW

IMPROVEMENT_BRANCH = """
UNION ALL
SELECT w.id * 4,
       'improvement'::varchar(16),
       w.id::bigint,
       COALESCE(NULLIF(w.name, ''), w.address)::varchar(600),
       w.status::varchar(16),
       to_char(COALESCE(w.starts_on, w.ends_on), 'YYYY-MM-DD')::varchar(10),
       to_char(COALESCE(w.ends_on, w.starts_on), 'YYYY-MM-DD')::varchar(10),
       w.status = 'in_progress',
       NULL::smallint,
       w.organisation_id::bigint,
       w.geom
FROM planning_improvementwork w
WHERE w.status <> 'cancelled'
"""


def view(sql: str) -> str:
    return sql.replace("CREATE VIEW", "CREATE OR REPLACE VIEW", 1)


class Migration(migrations.Migration):
    dependencies = [
        ("operations", "0001_repeated_problems_and_works"),
        ("planning", "0003_improvement_works"),
    ]

    operations = [
        migrations.RunSQL(
            view(WORKS_VIEW.rstrip() + "\n" + IMPROVEMENT_BRANCH), view(WORKS_VIEW)
        ),
    ]
