-- 002_monitoring_views: read-only views for operators, analysts and
-- `modelstore report`.
--
-- Every view is CREATE OR REPLACE, so re-running this file is harmless,
-- and none stores data.  The prediction figures are aggregated on read:
-- per version they come from the index model_predictions_version_time
-- (model_version, prediction_time), so asking for one version reads only
-- that version's rows.  Scanning every version reads the whole table, as
-- the seed's monitoring queries do.
--
-- Registry-side sizes fall back to octet_length(model_binary) for
-- seed-era rows that left model_size_bytes NULL; octet_length reads the
-- TOAST header only, never the bytes.

-- One row per stored version (its primary artifact 'model') with the
-- metrics recorded at push time and what the predictions logged against
-- it say.  Versions nobody predicted with have prediction_count 0 and
-- NULL averages.  Predictions whose version is not (or no longer) in the
-- registry do not appear here; model_prediction_volume_daily shows them.
CREATE OR REPLACE VIEW model_version_performance AS
SELECT a.model_name,
       a.model_version,
       a.is_production,
       a.model_type,
       coalesce(a.model_size_bytes, octet_length(a.model_binary))::bigint
           AS model_size_bytes,
       a.accuracy_score,
       a.rmse_score,
       a.r2_score,
       a.created_at,
       a.deployment_date,
       p.prediction_count,
       p.predictions_with_actual,
       p.mean_absolute_error,
       p.rmse,
       p.avg_prediction,
       p.avg_confidence,
       p.first_prediction_at,
       p.last_prediction_at
FROM model_artifacts a
LEFT JOIN LATERAL (
    SELECT count(*) AS prediction_count,
           count(*) FILTER (WHERE mp.actual_value IS NOT NULL)
               AS predictions_with_actual,
           avg(abs(mp.predicted_value - mp.actual_value))
               AS mean_absolute_error,
           sqrt(avg((mp.predicted_value - mp.actual_value)
                    * (mp.predicted_value - mp.actual_value)))
               AS rmse,
           avg(mp.predicted_value) AS avg_prediction,
           avg(mp.confidence_score) AS avg_confidence,
           min(mp.prediction_time) AS first_prediction_at,
           max(mp.prediction_time) AS last_prediction_at
    FROM model_predictions mp
    WHERE mp.model_version = a.model_version
      AND mp.model_name = a.model_name
) p ON true
WHERE a.artifact = 'model';

-- Predictions per model name, version and calendar day.  prediction_time
-- is the seed's TIMESTAMP without time zone (the writer's clock in the
-- server's TimeZone setting); the day is that value's date.
CREATE OR REPLACE VIEW model_prediction_volume_daily AS
SELECT mp.model_name,
       mp.model_version,
       mp.prediction_time::date AS day,
       count(*) AS prediction_count,
       count(*) FILTER (WHERE mp.actual_value IS NOT NULL)
           AS predictions_with_actual,
       avg(abs(mp.predicted_value - mp.actual_value)) AS mean_absolute_error
FROM model_predictions mp
GROUP BY mp.model_name, mp.model_version, mp.prediction_time::date;

-- Registry size per model name: how many versions and artifacts, their
-- original size (total_bytes) and the size as stored after optional zlib
-- compression (stored_bytes).  Neither counts PostgreSQL's own overhead;
-- pg_total_relation_size('model_artifact_chunks') does.
CREATE OR REPLACE VIEW model_storage_summary AS
SELECT a.model_name,
       count(DISTINCT a.model_version) AS versions,
       count(*) AS artifacts,
       count(*) FILTER (WHERE a.chunk_count > 0) AS chunked_artifacts,
       sum(coalesce(a.model_size_bytes, octet_length(a.model_binary)))::bigint
           AS total_bytes,
       sum(coalesce(a.stored_size_bytes, a.model_size_bytes,
                    octet_length(a.model_binary)))::bigint AS stored_bytes,
       max(a.model_version) FILTER (WHERE a.is_production)
           AS production_version,
       max(a.created_at) AS last_push_at
FROM model_artifacts a
GROUP BY a.model_name;

-- The promotion log with what each promoted version was: its type and
-- push-time metrics (NULL once pruned), and whether it is production now.
CREATE OR REPLACE VIEW model_promotion_history AS
SELECT pr.id,
       pr.promoted_at,
       pr.model_name,
       pr.action,
       pr.from_version,
       pr.to_version,
       t.model_type AS to_model_type,
       t.accuracy_score AS to_accuracy_score,
       t.rmse_score AS to_rmse_score,
       t.r2_score AS to_r2_score,
       coalesce(t.is_production, false) AS to_is_production_now,
       (t.id IS NOT NULL) AS to_version_exists,
       pr.reason,
       pr.promoted_by
FROM model_promotions pr
LEFT JOIN model_artifacts t
       ON t.model_name = pr.model_name
      AND t.model_version = pr.to_version
      AND t.artifact = 'model';
