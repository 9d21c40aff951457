#!/usr/bin/env bash
# report_fixture.sh URL CLI - a database that looks like a month of real
# use, for the report's charts: model "price" with four versions
# (v1 promoted 28 days ago, v2 14 days ago, v3 7 days ago, rolled back to
# v2 5 days ago; v4 pushed, never promoted), predictions every day of the
# 30 with actual values for most days (errors that differ by version),
# and model "churn" with one version and 3 days of predictions.
# Idempotent: it starts from an empty schema.
set -euo pipefail
url=${1:?database URL}
cli=${2:?modelstore binary}
tmp=$(mktemp -d /tmp/ms-report-fixture.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
sql() { psql -X -q -v ON_ERROR_STOP=1 -d "$url" "$@"; }

sql -c "DROP TABLE IF EXISTS model_predictions, model_promotions, model_metrics,
        model_runs, model_artifact_chunks, model_artifacts, modelstore_migrations CASCADE" 2>/dev/null
"$cli" --db "$url" migrate >/dev/null
i=0
for v in v1 v2 v3 v4; do
  i=$((i + 1))
  head -c $((i * 700 * 1024 + 12345)) /dev/urandom >"$tmp/$v.bin"
  "$cli" --db "$url" --name price push -q --version "$v" --type GradientBoosting \
    --accuracy "0.8$i" "$tmp/$v.bin" >/dev/null
done
head -c 300000 /dev/urandom >"$tmp/c1.bin"
"$cli" --db "$url" --name churn push -q --version c1 --type LogisticRegression "$tmp/c1.bin" >/dev/null
"$cli" --db "$url" --name churn promote c1 >/dev/null
for v in v1 v2 v3; do "$cli" --db "$url" --name price promote "$v" >/dev/null; done
"$cli" --db "$url" --name price rollback >/dev/null
sql <<'SQL'
-- when each promotion happened: 28, 14, 7 days ago; the rollback 5
UPDATE model_promotions SET promoted_at = now() - interval '28 days' WHERE model_name = 'price' AND to_version = 'v1';
UPDATE model_promotions SET promoted_at = now() - interval '14 days' WHERE model_name = 'price' AND to_version = 'v2' AND action = 'promote';
UPDATE model_promotions SET promoted_at = now() - interval '7 days' WHERE model_name = 'price' AND to_version = 'v3';
UPDATE model_promotions SET promoted_at = now() - interval '5 days' WHERE model_name = 'price' AND action = 'rollback';
UPDATE model_promotions SET promoted_at = now() - interval '3 days' WHERE model_name = 'churn';
-- which version served on day d (d days ago): v1 28..15, v2 14..8, v3 7..6,
-- v2 again 5..0; before v1 (29) no predictions.  Some v4 shadow traffic.
INSERT INTO model_predictions (prediction_id, model_name, model_version,
       input_features, predicted_value, actual_value, prediction_time)
SELECT gen_random_uuid(), 'price', ver, '{"sqft": 1200}',
       p, CASE WHEN d >= 2 AND (k % 5) <> 0 THEN p + err * ((k % 7) - 3) / 3.0 END,
       localtimestamp - make_interval(days => d) - make_interval(mins => k % 600)
  FROM generate_series(0, 28) d,
       LATERAL (SELECT CASE WHEN d >= 15 THEN 'v1' WHEN d >= 8 THEN 'v2'
                            WHEN d >= 6 THEN 'v3' ELSE 'v2' END AS ver) s,
       LATERAL (SELECT CASE ver WHEN 'v1' THEN 21000.0 WHEN 'v2' THEN 12000.0
                                ELSE 30000.0 END + 900 * sin(d) AS err) e,
       generate_series(1, 40 + (d * 37) % 60) k,
       LATERAL (SELECT 250000 + 1000.0 * k AS p) pp;
INSERT INTO model_predictions (prediction_id, model_name, model_version,
       input_features, predicted_value, actual_value, prediction_time)
SELECT gen_random_uuid(), 'price', 'v4', '{}', 260000, 262500 + 100 * k,
       localtimestamp - make_interval(days => d)
  FROM generate_series(1, 3) d, generate_series(1, 10) k;
INSERT INTO model_predictions (prediction_id, model_name, model_version,
       input_features, predicted_value, actual_value, prediction_time)
SELECT gen_random_uuid(), 'churn', 'c1', '{}', (k % 2)::float8,
       CASE WHEN k % 3 = 0 THEN 1 END, localtimestamp - make_interval(days => d)
  FROM generate_series(0, 2) d, generate_series(1, 25) k;
SQL
