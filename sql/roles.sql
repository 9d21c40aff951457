-- roles.sql: group roles for the three kinds of modelstore client.
--
-- Not a migration (no NNN_ prefix, so it is not embedded in the library):
-- run it as a role that owns the tables (or a superuser), after
-- `modelstore migrate`, and again after each later migration so that new
-- tables and views get their grants:
--
--     psql -v ON_ERROR_STOP=1 -d mlops -f sql/roles.sql
--
-- Idempotent: the roles are created only when missing, and GRANT of a
-- privilege already held is a no-op.  The roles are NOLOGIN groups; give
-- them to login users with e.g. `GRANT modelstore_reader TO inference_svc;`.
--
--   modelstore_reader   loaders, `pull`, `list`, `show`, `report`, analysts
--   modelstore_writer   training jobs: `push`, `promote`, `rollback`,
--                       `prune` (includes modelstore_reader)
--   modelstore_logger   prediction loggers: insert predictions, record
--                       actual values; cannot read features or delete
--
-- Schema changes (`modelstore migrate`) stay with the table owner.

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'modelstore_reader') THEN
        CREATE ROLE modelstore_reader NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'modelstore_writer') THEN
        CREATE ROLE modelstore_writer NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'modelstore_logger') THEN
        CREATE ROLE modelstore_logger NOLOGIN;
    END IF;
END
$$;

-- Reader: everything readable, nothing writable.  modelstore_migrations
-- is read by the schema-version check every client makes on open.
GRANT SELECT ON model_artifacts, model_artifact_chunks, model_predictions,
                model_runs, model_metrics, model_promotions,
                modelstore_migrations
    TO modelstore_reader;
GRANT SELECT ON model_version_performance, model_prediction_volume_daily,
                model_storage_summary, model_promotion_history
    TO modelstore_reader;

-- Writer: the registry tables (push writes artifacts, chunks, runs and
-- metrics in one transaction; promote/rollback update the production flag
-- and append to model_promotions; prune deletes artifacts, whose chunks
-- go by ON DELETE CASCADE).  Reading comes through modelstore_reader.
GRANT modelstore_reader TO modelstore_writer;
GRANT INSERT, UPDATE, DELETE ON model_artifacts, model_artifact_chunks,
                                model_runs, model_metrics, model_promotions
    TO modelstore_writer;
GRANT USAGE, SELECT ON SEQUENCE model_artifacts_id_seq, model_metrics_id_seq,
                                model_promotions_id_seq
    TO modelstore_writer;

-- Logger: append predictions (COPY and INSERT ... ON CONFLICT DO NOTHING
-- both need only INSERT) and attach actual values later.  The UPDATE of
-- `predictions actual` finds its row by prediction_id, and a WHERE clause
-- needs SELECT on the columns it reads: hence SELECT on that one column.
-- No DELETE, no UPDATE of anything else, no reading of input features.
GRANT INSERT ON model_predictions TO modelstore_logger;
-- Every client checks the schema version when it opens a store.
GRANT SELECT ON modelstore_migrations TO modelstore_logger;
GRANT SELECT (prediction_id), UPDATE (actual_value, actual_recorded_at)
    ON model_predictions TO modelstore_logger;
GRANT USAGE ON SEQUENCE model_predictions_id_seq TO modelstore_logger;

-- 003: aliases and their history.  Readers resolve aliases (loaders
-- serving `@alias`); writers move them (`modelstore alias`) and start,
-- log to and finish runs (model_runs, model_metrics above).
GRANT SELECT ON model_aliases, model_alias_history TO modelstore_reader;
GRANT INSERT, UPDATE, DELETE ON model_aliases, model_alias_history
    TO modelstore_writer;
GRANT USAGE, SELECT ON SEQUENCE model_alias_history_id_seq
    TO modelstore_writer;
