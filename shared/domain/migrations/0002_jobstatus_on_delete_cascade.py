from django.db import migrations


class Migration(migrations.Migration):
    """A separate migration because Django adds foreign keys at the end of the one that
    creates them: only now is there a constraint to replace."""

    dependencies = [("jobs", "0001_initial")]

    operations = [
        # Django emulates ON DELETE CASCADE in Python; the contract wants the database to do it,
        # so a job's events go with it in one statement, whoever deletes the job.
        migrations.RunSQL(
            sql="""
            DO $$
            DECLARE fk_name text;
            BEGIN
                SELECT conname INTO STRICT fk_name FROM pg_constraint
                 WHERE conrelid = 'jobs_jobstatus'::regclass AND contype = 'f';
                EXECUTE format('ALTER TABLE jobs_jobstatus DROP CONSTRAINT %I', fk_name);
            END $$;
            ALTER TABLE jobs_jobstatus ADD CONSTRAINT jobs_jobstatus_job_id_fk
                FOREIGN KEY (job_id) REFERENCES jobs_job (id) ON DELETE CASCADE;
        """,
            reverse_sql=migrations.RunSQL.noop,
        ),
    ]
