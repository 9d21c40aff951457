#!/usr/bin/env bash
# report_dom.sh CLI STATE BUILD_DIR - `report --html` as a person sees it:
# headless Chromium renders the page of tests/report_fixture.sh's data;
# the DOM it produced must hold every chart and, per chart, one element
# per row of the view it draws (counted in SQL here); the page must name
# no external asset; a screenshot is kept as BUILD_DIR/report.png (a CI
# artifact: look at it).
set -euo pipefail
cli=${1:?modelstore binary}
state=${2:?harness state file}
build=${3:?build directory}
here=$(cd "$(dirname "$0")" && pwd)
browser=$(command -v chromium || command -v chromium-browser || true)
[ -n "$browser" ] || { echo "report_dom: no chromium (scripts/deps.sh installs it)" >&2; exit 1; }
# shellcheck disable=SC1090
. "$state"
admin="postgresql://postgres@127.0.0.1:$PGPORT/postgres"
url="postgresql://postgres@127.0.0.1:$PGPORT/report_dom"
psql -X -q -d "$admin" -c "DROP DATABASE IF EXISTS report_dom WITH (FORCE)" -c "CREATE DATABASE report_dom"
"$here/report_fixture.sh" "$url" "$cli"
q() { psql -X -At -d "$url" -c "$1"; }
fail=0
check() { # what got want
  if [ "$2" != "$3" ]; then echo "FAIL $1: $2 in the DOM, want $3" >&2; fail=1
  else echo "ok   $1: $2"; fi
}
count() { grep -o "$1" "$2" | wc -l | tr -d ' '; }
render() { # html -> dom
  timeout 120 "$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --dump-dom "file://$1" 2>/dev/null >"$2"
  grep -q '</html>' "$2" || { echo "report_dom: chromium produced no DOM" >&2; exit 1; }
}

html="$build/report.html"
dom="$build/report.dom.html"
"$cli" --db "$url" report --html "$html" >/dev/null
render "$html" "$dom"
check "charts" "$(count 'data-chart="' "$dom")" 8
check "volume bars (rows of model_prediction_volume_daily)" \
  "$(count 'data-kind="volume"' "$dom")" "$(q 'SELECT count(*) FROM model_prediction_volume_daily')"
check "MAE points (rows with a MAE)" "$(count 'data-kind="mae"' "$dom")" \
  "$(q 'SELECT count(*) FROM model_prediction_volume_daily WHERE mean_absolute_error IS NOT NULL')"
check "RMSE points" "$(count 'data-kind="rmse"' "$dom")" \
  "$(q 'SELECT count(*) FROM model_prediction_volume_daily WHERE mean_absolute_error IS NOT NULL')"
check "promotion and rollback markers" "$(count 'data-kind="event"' "$dom")" \
  "$(q 'SELECT count(*) FROM model_promotion_history')"
check "rollback markers" "$(count 'data-action="rollback"' "$dom")" \
  "$(q "SELECT count(*) FROM model_promotion_history WHERE action = 'rollback'")"
check "volume-error points (production days with a MAE)" "$(count 'data-kind="volume-error"' "$dom")" \
  "$(q 'SELECT count(*) FROM model_prediction_volume_daily d JOIN model_artifacts a USING (model_name, model_version) WHERE a.is_production AND d.mean_absolute_error IS NOT NULL')"
check "size bars (versions)" "$(count 'data-kind="size"' "$dom")" \
  "$(q "SELECT count(*) FROM model_version_performance")"
# the data behind a point is the view's: v2's volume on the rollback day
day=$(q "SELECT to_char(promoted_at::timestamp, 'YYYY-MM-DD') FROM model_promotions WHERE action = 'rollback'")
want=$(q "SELECT prediction_count FROM model_prediction_volume_daily WHERE model_name = 'price' AND model_version = 'v2' AND day = '$day'")
check "v2 on $day" "$(grep -o "data-kind=\"volume\" data-version=\"v2\" data-day=\"$day\" data-count=\"[0-9]*\"" "$dom" | grep -o '[0-9]*"$' | tr -d '"')" "$want"
# no external asset, no script
check "external references" "$(grep -Eo '(src|href)="[^"#]|url\(|<script|<link' "$html" | wc -l | tr -d ' ')" 0

# --name and --since: one model, the last 7 days
"$cli" --db "$url" --name price report --since 7 --html "$build/report-price-7d.html" >/dev/null
render "$build/report-price-7d.html" "$build/report-price-7d.dom.html"
check "--name price --since 7: charts" "$(count 'data-chart="' "$build/report-price-7d.dom.html")" 4
check "--name price --since 7: volume bars" "$(count 'data-kind="volume"' "$build/report-price-7d.dom.html")" \
  "$(q "SELECT count(*) FROM model_prediction_volume_daily WHERE model_name = 'price' AND day >= current_date - 7")"

rm -f "$build/report.png"
timeout 120 "$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars \
  --screenshot="$build/report.png" --window-size=1280,2000 "file://$html" >/dev/null 2>&1
[ -s "$build/report.png" ] || { echo "FAIL no screenshot" >&2; fail=1; }
echo "screenshot: $build/report.png"
exit $fail
