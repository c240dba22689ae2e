# Written by hand: the same index with other storage parameters, changed in place
# (ALTER INDEX) instead of the drop and rebuild Django would do for a changed GinIndex.

import django.contrib.postgres.indexes
from django.db import migrations

_INDEX = "jobs_job_name_trgm_idx"


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0008_lean_indexes"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    f"ALTER INDEX {_INDEX} SET (fastupdate = on, gin_pending_list_limit = 128)",
                    reverse_sql=(
                        f"ALTER INDEX {_INDEX} SET (fastupdate = off); "
                        f"ALTER INDEX {_INDEX} RESET (gin_pending_list_limit)"
                    ),
                ),
            ],
            state_operations=[
                migrations.RemoveIndex(model_name="job", name=_INDEX),
                migrations.AddIndex(
                    model_name="job",
                    index=django.contrib.postgres.indexes.GinIndex(
                        fields=["name"],
                        name=_INDEX,
                        opclasses=["gin_trgm_ops"],
                        fastupdate=True,
                        gin_pending_list_limit=128,
                    ),
                ),
            ],
        ),
    ]
