-- 001_initial: the registry, predictions, runs, metrics, promotions.
--
-- The two seed tables are created exactly as seed 003 prints them, then
-- extended with ALTER ... ADD COLUMN IF NOT EXISTS.  The same file thus
-- creates a fresh schema and adopts an existing Python-era database
-- without losing a row.  Every added column has a default or is nullable,
-- so the seed's INSERTs keep working.

CREATE TABLE IF NOT EXISTS model_artifacts (
    id SERIAL PRIMARY KEY,
    run_id VARCHAR(255) NOT NULL,
    model_version VARCHAR(50) NOT NULL,
    model_type VARCHAR(100) NOT NULL,
    model_binary BYTEA NOT NULL,
    model_size_bytes INTEGER,
    accuracy_score FLOAT,
    rmse_score FLOAT,
    r2_score FLOAT,
    is_production BOOLEAN DEFAULT FALSE,
    deployment_date TIMESTAMP,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    UNIQUE(run_id, model_version)
);

-- Sizes above 2 GB; NULL model_binary means "bytes are in chunk rows".
ALTER TABLE model_artifacts ALTER COLUMN model_size_bytes TYPE BIGINT;
ALTER TABLE model_artifacts ALTER COLUMN model_binary DROP NOT NULL;
-- Several artifacts share (run_id, model_version) under seed 004's
-- "several artifacts, one version": uniqueness moves to
-- (model_name, model_version, artifact) below.
ALTER TABLE model_artifacts
    DROP CONSTRAINT IF EXISTS model_artifacts_run_id_model_version_key;

ALTER TABLE model_artifacts
    ADD COLUMN IF NOT EXISTS model_name TEXT NOT NULL DEFAULT 'default',
    ADD COLUMN IF NOT EXISTS artifact TEXT NOT NULL DEFAULT 'model',
    ADD COLUMN IF NOT EXISTS sha256 BYTEA,
    ADD COLUMN IF NOT EXISTS compression TEXT NOT NULL DEFAULT 'none',
    ADD COLUMN IF NOT EXISTS stored_size_bytes BIGINT,
    ADD COLUMN IF NOT EXISTS chunk_count INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS metrics JSONB NOT NULL DEFAULT '{}',
    ADD COLUMN IF NOT EXISTS params JSONB NOT NULL DEFAULT '{}',
    ADD COLUMN IF NOT EXISTS created_by TEXT DEFAULT current_user;

ALTER TABLE model_artifacts
    ADD CONSTRAINT model_artifacts_sha256_len
        CHECK (sha256 IS NULL OR octet_length(sha256) = 32),
    ADD CONSTRAINT model_artifacts_compression_known
        CHECK (compression IN ('none', 'zlib')),
    ADD CONSTRAINT model_artifacts_bytes_somewhere
        CHECK ((chunk_count = 0) = (model_binary IS NOT NULL)),
    ADD CONSTRAINT model_artifacts_model_name_ok
        CHECK (model_name ~ '^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$'),
    ADD CONSTRAINT model_artifacts_artifact_ok
        CHECK (artifact ~ '^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$');

-- Model bytes are mostly incompressible: EXTERNAL skips pglz's attempt.
ALTER TABLE model_artifacts ALTER COLUMN model_binary SET STORAGE EXTERNAL;

CREATE UNIQUE INDEX IF NOT EXISTS model_artifacts_name_version_artifact
    ON model_artifacts (model_name, model_version, artifact);
-- One production model per model name, enforced by the database.
CREATE UNIQUE INDEX IF NOT EXISTS model_artifacts_one_production
    ON model_artifacts (model_name) WHERE is_production;
CREATE INDEX IF NOT EXISTS model_artifacts_name_created
    ON model_artifacts (model_name, created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS model_artifacts_run_id
    ON model_artifacts (run_id);

-- Large artifacts: 1 MiB (by default) chunk rows, written in the same
-- transaction as their artifact row.
CREATE TABLE IF NOT EXISTS model_artifact_chunks (
    artifact_id BIGINT NOT NULL REFERENCES model_artifacts (id)
        ON DELETE CASCADE,
    seq INTEGER NOT NULL CHECK (seq >= 0),
    data BYTEA NOT NULL,
    PRIMARY KEY (artifact_id, seq)
);
ALTER TABLE model_artifact_chunks ALTER COLUMN data SET STORAGE EXTERNAL;

CREATE TABLE IF NOT EXISTS model_predictions (
    id SERIAL PRIMARY KEY,
    model_version VARCHAR(50) NOT NULL,
    input_features JSONB NOT NULL,
    predicted_value FLOAT NOT NULL,
    actual_value FLOAT,
    confidence_score FLOAT,
    prediction_time TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);
ALTER TABLE model_predictions ALTER COLUMN id TYPE BIGINT;
ALTER SEQUENCE IF EXISTS model_predictions_id_seq AS BIGINT;
ALTER TABLE model_predictions
    ADD COLUMN IF NOT EXISTS prediction_id UUID,
    ADD COLUMN IF NOT EXISTS model_name TEXT NOT NULL DEFAULT 'default',
    ADD COLUMN IF NOT EXISTS actual_recorded_at TIMESTAMPTZ;
-- Client-generated ids make retried batches idempotent.
CREATE UNIQUE INDEX IF NOT EXISTS model_predictions_prediction_id
    ON model_predictions (prediction_id);
CREATE INDEX IF NOT EXISTS model_predictions_version_time
    ON model_predictions (model_version, prediction_time);

CREATE TABLE IF NOT EXISTS model_runs (
    run_id VARCHAR(255) PRIMARY KEY,
    model_name TEXT NOT NULL DEFAULT 'default',
    params JSONB NOT NULL DEFAULT '{}',
    dataset_size BIGINT,
    started_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    ended_at TIMESTAMPTZ,
    status TEXT NOT NULL DEFAULT 'finished'
        CHECK (status IN ('running', 'finished', 'failed'))
);

CREATE TABLE IF NOT EXISTS model_metrics (
    id BIGSERIAL PRIMARY KEY,
    model_name TEXT NOT NULL DEFAULT 'default',
    model_version VARCHAR(50) NOT NULL,
    metric TEXT NOT NULL,
    value DOUBLE PRECISION NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS model_metrics_name_version
    ON model_metrics (model_name, model_version, metric, recorded_at);

CREATE TABLE IF NOT EXISTS model_promotions (
    id BIGSERIAL PRIMARY KEY,
    model_name TEXT NOT NULL,
    from_version VARCHAR(50),
    to_version VARCHAR(50) NOT NULL,
    action TEXT NOT NULL DEFAULT 'promote'
        CHECK (action IN ('promote', 'rollback')),
    reason TEXT,
    promoted_by TEXT NOT NULL DEFAULT current_user,
    promoted_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS model_promotions_name
    ON model_promotions (model_name, id DESC);

-- Hot reload: any change of the production flag, by modelstore or by a
-- seed-era script's UPDATE, tells listening loaders.
CREATE OR REPLACE FUNCTION modelstore_notify_production() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.is_production THEN
        PERFORM pg_notify('modelstore_production',
            json_build_object('model_name', NEW.model_name,
                              'model_version', NEW.model_version)::text);
    END IF;
    RETURN NULL;
END;
$$;
DROP TRIGGER IF EXISTS model_artifacts_production_notify ON model_artifacts;
CREATE TRIGGER model_artifacts_production_notify
    AFTER INSERT OR UPDATE OF is_production ON model_artifacts
    FOR EACH ROW EXECUTE FUNCTION modelstore_notify_production();
