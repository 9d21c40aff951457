-- 003_runs_metrics_aliases: the run lifecycle, metric history by run and
-- step, and aliases beyond production.
--
-- Only additions: new columns are nullable or have defaults, so the seed's
-- INSERTs into model_artifacts and its monitoring queries are untouched,
-- and a database at version 2 upgrades in place without losing a row.

-- Runs: tags, a fourth final status, and the listing order.
ALTER TABLE model_runs
    ADD COLUMN IF NOT EXISTS tags JSONB NOT NULL DEFAULT '{}';
ALTER TABLE model_runs DROP CONSTRAINT IF EXISTS model_runs_status_check;
ALTER TABLE model_runs
    ADD CONSTRAINT model_runs_status_known
        CHECK (status IN ('running', 'finished', 'failed', 'killed')),
    ADD CONSTRAINT model_runs_params_object
        CHECK (jsonb_typeof(params) = 'object'),
    ADD CONSTRAINT model_runs_tags_object
        CHECK (jsonb_typeof(tags) = 'object'),
    ADD CONSTRAINT model_runs_ended_after_start
        CHECK (ended_at IS NULL OR ended_at >= started_at);
CREATE INDEX IF NOT EXISTS model_runs_name_started
    ON model_runs (model_name, started_at DESC, run_id);

-- Metric history: a point belongs to a run (logged while training, with
-- an optional step), to a stored version (recorded at push, or appended
-- after deployment), or to both (pushed with a run id).
ALTER TABLE model_metrics
    ADD COLUMN IF NOT EXISTS run_id VARCHAR(255)
        REFERENCES model_runs (run_id) ON DELETE CASCADE,
    ADD COLUMN IF NOT EXISTS step BIGINT;
ALTER TABLE model_metrics ALTER COLUMN model_version DROP NOT NULL;
ALTER TABLE model_metrics
    ADD CONSTRAINT model_metrics_owner
        CHECK (model_version IS NOT NULL OR run_id IS NOT NULL);
CREATE INDEX IF NOT EXISTS model_metrics_run
    ON model_metrics (run_id, metric, step, recorded_at)
    WHERE run_id IS NOT NULL;

-- The value of a metric for a stored version, as `list --sort` and
-- `--where` see it: the latest point recorded for that version, else the
-- number in the artifact's metrics JSON, else (for rows written the
-- seed's way) the seed's score column.  NULL when the version has none.
CREATE OR REPLACE FUNCTION modelstore_version_metric(
    p_name TEXT, p_version TEXT, p_metric TEXT) RETURNS DOUBLE PRECISION
LANGUAGE sql STABLE AS $$
    SELECT coalesce(
        (SELECT m.value FROM model_metrics m
          WHERE m.model_name = p_name AND m.model_version = p_version
            AND m.metric = p_metric
          ORDER BY m.recorded_at DESC, m.id DESC LIMIT 1),
        (SELECT CASE
                  WHEN jsonb_typeof(a.metrics -> p_metric) = 'number'
                      THEN (a.metrics ->> p_metric)::float8
                  WHEN p_metric IN ('accuracy', 'accuracy_score')
                      THEN a.accuracy_score
                  WHEN p_metric IN ('rmse', 'rmse_score') THEN a.rmse_score
                  WHEN p_metric IN ('r2', 'r2_score') THEN a.r2_score
                END
           FROM model_artifacts a
          WHERE a.model_name = p_name AND a.model_version = p_version
            AND a.artifact = 'model'))
$$;

-- Aliases: a named pointer to one version per model name (the primary
-- key is the database's guarantee), beside the production flag, which
-- stays where the seed's readers look for it.
CREATE TABLE IF NOT EXISTS model_aliases (
    model_name TEXT NOT NULL,
    alias TEXT NOT NULL
        CHECK (alias ~ '^[A-Za-z0-9_][A-Za-z0-9._-]{0,49}$'
               AND alias NOT IN ('production', 'latest', 'previous')),
    model_version VARCHAR(50) NOT NULL,
    set_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    set_by TEXT NOT NULL DEFAULT current_user,
    PRIMARY KEY (model_name, alias)
);

-- Every move of an alias, recorded the way model_promotions records
-- promotions.
CREATE TABLE IF NOT EXISTS model_alias_history (
    id BIGSERIAL PRIMARY KEY,
    model_name TEXT NOT NULL,
    alias TEXT NOT NULL,
    from_version VARCHAR(50),
    to_version VARCHAR(50),
    action TEXT NOT NULL CHECK (action IN ('set', 'remove')),
    reason TEXT,
    changed_by TEXT NOT NULL DEFAULT current_user,
    changed_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS model_alias_history_name
    ON model_alias_history (model_name, alias, id DESC);

-- Hot reload: a loader serving an alias hears its moves on the channel
-- it already listens to; the payload names the model and the alias.
CREATE OR REPLACE FUNCTION modelstore_notify_alias() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    r RECORD;
BEGIN
    IF TG_OP = 'DELETE' THEN
        r := OLD;
    ELSE
        r := NEW;
    END IF;
    PERFORM pg_notify('modelstore_production',
        json_build_object('model_name', r.model_name,
                          'alias', r.alias,
                          'model_version',
                          CASE WHEN TG_OP = 'DELETE' THEN NULL
                               ELSE r.model_version END)::text);
    RETURN NULL;
END;
$$;
DROP TRIGGER IF EXISTS model_aliases_notify ON model_aliases;
CREATE TRIGGER model_aliases_notify
    AFTER INSERT OR UPDATE OR DELETE ON model_aliases
    FOR EACH ROW EXECUTE FUNCTION modelstore_notify_alias();
