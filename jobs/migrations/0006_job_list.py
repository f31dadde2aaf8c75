"""GET /api/jobs at 100,000 jobs a user: what its pages and per-status summary read.

- `duration` (wall-clock time, start to finish) is stored so that sort_by=duration reads an
  index; rows that exist already get theirs here (running jobs: up to now).
- One index per sort key and one for status, each (owner, key, id, status, created_at,
  priority, processor, name): a page walks one in sort order and a filtered summary counts
  from one, neither reading table rows. They replace (owner, -created_at) and (owner, status),
  which they cover.
- JobTally: jobs per (owner, status, processor, priority), filled here and then kept exact by
  triggers on the jobs table (SQLite and PostgreSQL), so that the summary without a date range
  or a search sums a few rows instead of counting every job of the user.
- PostgreSQL only: a trigram index on UPPER(name), which is what `name__icontains` compares,
  so searching a name reads the matching rows instead of all of them. It needs the pg_trgm
  extension; where it cannot be created (no privilege) search still works, by scanning.
"""

import datetime

import django.db.models.deletion
from django.conf import settings
from django.db import DatabaseError, migrations, models, transaction
from django.db.models import DurationField, ExpressionWrapper, F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

JOBS, TALLY = "jobs_batchjob", "jobs_jobtally"
KEY = "owner_id, status, processor, priority"
MATCH_OLD = "owner_id = OLD.owner_id AND status = OLD.status AND processor = OLD.processor AND priority = OLD.priority"
DECREMENT = f"UPDATE {TALLY} SET jobs = jobs - 1 WHERE {MATCH_OLD};"
INCREMENT = (
    f"INSERT INTO {TALLY} ({KEY}, jobs) VALUES (NEW.owner_id, NEW.status, NEW.processor, NEW.priority, 1) "
    f"ON CONFLICT ({KEY}) DO UPDATE SET jobs = {TALLY}.jobs + 1;"
)
CHANGED = " OR ".join(f"OLD.{column} IS DISTINCT FROM NEW.{column}" for column in KEY.split(", "))
TRIGGERS = {
    "sqlite": [
        f"CREATE TRIGGER job_tally_insert AFTER INSERT ON {JOBS} BEGIN {INCREMENT} END",
        f"CREATE TRIGGER job_tally_delete AFTER DELETE ON {JOBS} BEGIN {DECREMENT} END",
        f"CREATE TRIGGER job_tally_update AFTER UPDATE OF {KEY} ON {JOBS} "
        f"WHEN {CHANGED.replace('IS DISTINCT FROM', 'IS NOT')} BEGIN {DECREMENT} {INCREMENT} END",
    ],
    "postgresql": [
        # Two transitions of one owner's jobs at once lock the same tally rows: the row that
        # sorts first is always locked first, so they wait for each other, never deadlock.
        f"""CREATE FUNCTION job_tally() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'UPDATE' AND (NEW.owner_id, NEW.status, NEW.processor, NEW.priority)
                    < (OLD.owner_id, OLD.status, OLD.processor, OLD.priority) THEN
                {INCREMENT}
                {DECREMENT}
                RETURN NULL;
            END IF;
            IF TG_OP <> 'INSERT' THEN {DECREMENT} END IF;
            IF TG_OP <> 'DELETE' THEN {INCREMENT} END IF;
            RETURN NULL;
        END $$""",
        f"CREATE TRIGGER job_tally_insert_delete AFTER INSERT OR DELETE ON {JOBS} "
        "FOR EACH ROW EXECUTE FUNCTION job_tally()",
        f"CREATE TRIGGER job_tally_update AFTER UPDATE OF {KEY} ON {JOBS} "
        f"FOR EACH ROW WHEN ({CHANGED}) EXECUTE FUNCTION job_tally()",
    ],
}
DROP_TRIGGERS = {
    "sqlite": [f"DROP TRIGGER IF EXISTS job_tally_{op}" for op in ("insert", "delete", "update")],
    "postgresql": [
        f"DROP TRIGGER IF EXISTS job_tally_insert_delete ON {JOBS}",
        f"DROP TRIGGER IF EXISTS job_tally_update ON {JOBS}",
        "DROP FUNCTION IF EXISTS job_tally()",
    ],
}
TRIGRAM_INDEX = "job_name_trgm"


def fill_durations(apps, schema_editor) -> None:
    BatchJob = apps.get_model("jobs", "BatchJob")
    end = Coalesce(F("finished_at"), Value(timezone.now()))
    BatchJob.objects.filter(started_at__isnull=False).update(
        duration=ExpressionWrapper(end - F("started_at"), output_field=DurationField())
    )


def add_tally_triggers(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    if vendor not in TRIGGERS:
        raise NotImplementedError(f"JobTally has triggers for SQLite and PostgreSQL, not {vendor}")
    schema_editor.execute(
        f"INSERT INTO {TALLY} ({KEY}, jobs) SELECT {KEY}, COUNT(*) FROM {JOBS} GROUP BY {KEY}"
    )
    for sql in TRIGGERS[vendor]:
        schema_editor.execute(sql)


def drop_tally_triggers(apps, schema_editor) -> None:
    for sql in DROP_TRIGGERS.get(schema_editor.connection.vendor, []):
        schema_editor.execute(sql)


def add_trigram_index(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    try:
        with transaction.atomic():
            schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except DatabaseError:
        return  # not allowed to: name search scans the user's rows instead
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {TRIGRAM_INDEX} ON {JOBS} "
        "USING gin (UPPER(name::text) gin_trgm_ops)"
    )


def drop_trigram_index(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {TRIGRAM_INDEX}")


class Migration(migrations.Migration):

    dependencies = [
        ('jobs', '0005_runner_flushes'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='JobTally',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('status', models.CharField(choices=[('pending', 'Pending'), ('queued', 'Queued'), ('running', 'Running'), ('cancelling', 'Cancelling'), ('cancelled', 'Cancelled'), ('completed', 'Completed'), ('completed_with_errors', 'Completed with errors'), ('failed', 'Failed')], max_length=32)),
                ('processor', models.CharField(max_length=100)),
                ('priority', models.PositiveSmallIntegerField()),
                ('jobs', models.IntegerField(default=0)),
            ],
        ),
        migrations.RemoveIndex(
            model_name='batchjob',
            name='job_owner_created',
        ),
        migrations.RemoveIndex(
            model_name='batchjob',
            name='job_owner_status',
        ),
        migrations.AddField(
            model_name='batchjob',
            name='duration',
            field=models.DurationField(default=datetime.timedelta(0), help_text='Wall-clock time from start to finish; while running, up to the last progress write; zero before it starts.'),
        ),
        migrations.RunPython(fill_durations, migrations.RunPython.noop, elidable=True),
        migrations.AddIndex(
            model_name='batchjob',
            index=models.Index(fields=['owner', 'created_at', 'id', 'status', 'priority', 'processor', 'name'], name='job_list_created_at'),
        ),
        migrations.AddIndex(
            model_name='batchjob',
            index=models.Index(fields=['owner', 'updated_at', 'id', 'status', 'created_at', 'priority', 'processor', 'name'], name='job_list_updated_at'),
        ),
        migrations.AddIndex(
            model_name='batchjob',
            index=models.Index(fields=['owner', 'progress', 'id', 'status', 'created_at', 'priority', 'processor', 'name'], name='job_list_progress'),
        ),
        migrations.AddIndex(
            model_name='batchjob',
            index=models.Index(fields=['owner', 'priority', 'id', 'status', 'created_at', 'processor', 'name'], name='job_list_priority'),
        ),
        migrations.AddIndex(
            model_name='batchjob',
            index=models.Index(fields=['owner', 'total_items', 'id', 'status', 'created_at', 'priority', 'processor', 'name'], name='job_list_total_items'),
        ),
        migrations.AddIndex(
            model_name='batchjob',
            index=models.Index(fields=['owner', 'duration', 'id', 'status', 'created_at', 'priority', 'processor', 'name'], name='job_list_duration'),
        ),
        migrations.AddIndex(
            model_name='batchjob',
            index=models.Index(fields=['owner', 'status', 'id', 'created_at', 'priority', 'processor', 'name'], name='job_list_status'),
        ),
        migrations.AddField(
            model_name='jobtally',
            name='owner',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddConstraint(
            model_name='jobtally',
            constraint=models.UniqueConstraint(fields=('owner', 'status', 'processor', 'priority'), name='job_tally_key'),
        ),
        migrations.RunPython(add_tally_triggers, drop_tally_triggers),
        migrations.RunPython(add_trigram_index, drop_trigram_index),
    ]
