-- 004_partitioning: the functions that partition model_predictions by day
-- of prediction_time, keep partitions created ahead, and drop old ones.
--
-- Nothing changes until an operator asks: this migration only installs
-- functions and one bookkeeping table.  `modelstore partitions enable`
-- (docs/operations.md, "Partitioning the prediction log") converts an
-- existing table in place in three steps, only the last of which blocks
-- writers, and for a few milliseconds whatever the table's size:
--
--   1. modelstore_partition_prepare(cutoff)   ADD CONSTRAINT ... NOT VALID,
--      then ALTER TABLE ... VALIDATE CONSTRAINT (reads the table, writers
--      go on);
--   2. CREATE UNIQUE INDEX CONCURRENTLY on (id, prediction_time) and
--      (prediction_id, prediction_time) (writers go on);
--   3. modelstore_partition_swap(days_ahead)  renames the table to
--      model_predictions_legacy, creates the partitioned parent under the
--      old name and attaches the old table, unmoved, as the partition for
--      every time before the cutoff; the validated constraint spares the
--      scan.  Daily partitions follow from the cutoff on, and a DEFAULT
--      partition catches any time no partition covers.
--
-- Uniqueness.  A unique index of a partitioned table must contain the
-- partition key, so the parent enforces (prediction_id, prediction_time).
-- The logger fixes a row's prediction_time when the row is logged and
-- keeps it with the row through every retry and spool replay, so one
-- prediction_id always comes with one prediction_time and the pair's
-- uniqueness is the id's: a replayed row conflicts and is skipped by
-- INSERT ... ON CONFLICT DO NOTHING exactly as before.
--
-- Identifiers below are built with format('%I') from dates and fixed
-- names only; no caller-supplied text reaches SQL text.

CREATE TABLE IF NOT EXISTS modelstore_partition_plan (
    id BOOLEAN PRIMARY KEY DEFAULT true CHECK (id),
    cutoff TIMESTAMP NOT NULL,
    prepared_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    swapped_at TIMESTAMPTZ
);

CREATE OR REPLACE FUNCTION modelstore_predictions_partitioned()
RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT c.relkind = 'p' FROM pg_class c
    WHERE c.oid = 'model_predictions'::regclass
$$;

-- The daily partitions: name, the day it starts, and its upper bound.
CREATE OR REPLACE FUNCTION modelstore_partition_days()
RETURNS TABLE (name text, day date)
LANGUAGE sql STABLE AS $$
    SELECT c.relname::text,
           to_date(substr(c.relname, 19), 'YYYYMMDD')
    FROM pg_inherits i
    JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'model_predictions'::regclass
      AND c.relname ~ '^model_predictions_[0-9]{8}$'
    ORDER BY 2
$$;

-- Step 1: the constraint that lets step 3 attach the table without a
-- scan.  Rows after `cutoff` are refused by the table until the swap, so
-- the cutoff is a day boundary far enough ahead for the steps to finish
-- (modelstore partitions enable uses two days).
CREATE OR REPLACE FUNCTION modelstore_partition_prepare(cutoff timestamp)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF modelstore_predictions_partitioned() THEN
        RAISE EXCEPTION 'model_predictions is partitioned already'
            USING ERRCODE = '55000';
    END IF;
    IF cutoff <= localtimestamp THEN
        RAISE EXCEPTION 'partition cutoff % is not in the future', cutoff
            USING ERRCODE = '22023';
    END IF;
    IF date_trunc('day', cutoff) <> cutoff THEN
        RAISE EXCEPTION 'partition cutoff % is not a day boundary', cutoff
            USING ERRCODE = '22023';
    END IF;
    ALTER TABLE model_predictions
        DROP CONSTRAINT IF EXISTS model_predictions_legacy_range;
    EXECUTE format('ALTER TABLE model_predictions ADD CONSTRAINT '
                   'model_predictions_legacy_range CHECK (prediction_time '
                   'IS NOT NULL AND prediction_time < %L::timestamp) '
                   'NOT VALID', cutoff);
    DELETE FROM modelstore_partition_plan;
    INSERT INTO modelstore_partition_plan (cutoff) VALUES (cutoff);
END
$$;

-- Partitions from the last one (or the cutoff) to `days_ahead` days after
-- today.  A day whose rows went to the DEFAULT partition meanwhile gets
-- them moved into its new partition in the same transaction.  Returns
-- how many partitions it created.
CREATE OR REPLACE FUNCTION modelstore_partitions_ensure(days_ahead integer)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    d date;
    last_day date;
    start_day date;
    part text;
    made integer := 0;
    has_default boolean;
BEGIN
    IF days_ahead < 0 OR days_ahead > 3660 THEN
        RAISE EXCEPTION 'days ahead must be 0 to 3660, not %', days_ahead
            USING ERRCODE = '22023';
    END IF;
    IF NOT modelstore_predictions_partitioned() THEN
        RAISE EXCEPTION 'model_predictions is not partitioned'
            USING ERRCODE = '55000',
                  HINT = 'run `modelstore partitions enable` first';
    END IF;
    SELECT max(day) INTO last_day FROM modelstore_partition_days();
    SELECT greatest(p.cutoff::date, localtimestamp::date)
        INTO start_day FROM modelstore_partition_plan p;
    IF start_day IS NULL THEN
        start_day := localtimestamp::date;
    END IF;
    IF last_day IS NOT NULL AND last_day + 1 > start_day THEN
        start_day := last_day + 1;
    END IF;
    has_default := to_regclass('model_predictions_default') IS NOT NULL;
    d := start_day;
    WHILE d <= localtimestamp::date + days_ahead LOOP
        part := 'model_predictions_' || to_char(d, 'YYYYMMDD');
        IF has_default AND EXISTS (
                SELECT 1 FROM model_predictions_default
                WHERE prediction_time >= d AND prediction_time < d + 1) THEN
            EXECUTE format('CREATE TABLE %I (LIKE model_predictions '
                           'INCLUDING DEFAULTS)', part);
            EXECUTE format('WITH moved AS (DELETE FROM '
                           'model_predictions_default WHERE prediction_time'
                           ' >= %L::date AND prediction_time < %L::date '
                           'RETURNING *) INSERT INTO %I SELECT * FROM moved',
                           d, d + 1, part);
            EXECUTE format('ALTER TABLE model_predictions ATTACH PARTITION '
                           '%I FOR VALUES FROM (%L) TO (%L)', part, d, d + 1);
        ELSE
            EXECUTE format('CREATE TABLE %I PARTITION OF model_predictions '
                           'FOR VALUES FROM (%L) TO (%L)', part, d, d + 1);
        END IF;
        made := made + 1;
        d := d + 1;
    END LOOP;
    RETURN made;
END
$$;

-- Step 3, in the caller's transaction; the caller then re-creates the
-- monitoring views (002) so that they read the new parent.
CREATE OR REPLACE FUNCTION modelstore_partition_swap(days_ahead integer)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    plan_cutoff timestamp;
    g record;
BEGIN
    IF modelstore_predictions_partitioned() THEN
        RAISE EXCEPTION 'model_predictions is partitioned already'
            USING ERRCODE = '55000';
    END IF;
    SELECT p.cutoff INTO plan_cutoff FROM modelstore_partition_plan p;
    IF plan_cutoff IS NULL OR NOT EXISTS (
            SELECT 1 FROM pg_constraint
            WHERE conrelid = 'model_predictions'::regclass
              AND conname = 'model_predictions_legacy_range'
              AND convalidated) THEN
        RAISE EXCEPTION 'model_predictions is not prepared for partitioning'
            USING ERRCODE = '55000',
                  HINT = 'run `modelstore partitions enable`';
    END IF;
    IF plan_cutoff <= localtimestamp THEN
        RAISE EXCEPTION 'the partition cutoff % has passed; prepare again',
            plan_cutoff USING ERRCODE = '55000';
    END IF;
    IF to_regclass('model_predictions_legacy_id_time') IS NULL
       OR to_regclass('model_predictions_legacy_pid_time') IS NULL THEN
        RAISE EXCEPTION 'the (id, prediction_time) and (prediction_id, '
                        'prediction_time) indexes are missing'
            USING ERRCODE = '55000',
                  HINT = 'run `modelstore partitions enable`';
    END IF;

    LOCK TABLE model_predictions IN ACCESS EXCLUSIVE MODE;
    ALTER TABLE model_predictions RENAME TO model_predictions_legacy;
    ALTER INDEX IF EXISTS model_predictions_prediction_id
        RENAME TO model_predictions_legacy_prediction_id;
    ALTER INDEX IF EXISTS model_predictions_version_time
        RENAME TO model_predictions_legacy_version_time;
    -- The validated CHECK proves NOT NULL: no scan.
    ALTER TABLE model_predictions_legacy
        ALTER COLUMN prediction_time SET NOT NULL;
    ALTER TABLE model_predictions_legacy
        DROP CONSTRAINT model_predictions_pkey;
    ALTER TABLE model_predictions_legacy
        ADD CONSTRAINT model_predictions_legacy_pkey
        PRIMARY KEY USING INDEX model_predictions_legacy_id_time;
    ALTER TABLE model_predictions_legacy
        ADD CONSTRAINT model_predictions_legacy_pid_time
        UNIQUE USING INDEX model_predictions_legacy_pid_time;

    CREATE TABLE model_predictions (LIKE model_predictions_legacy
                                    INCLUDING DEFAULTS)
        PARTITION BY RANGE (prediction_time);
    ALTER TABLE model_predictions
        ADD CONSTRAINT model_predictions_pkey PRIMARY KEY (id, prediction_time);
    ALTER TABLE model_predictions
        ADD CONSTRAINT model_predictions_pid_time
        UNIQUE (prediction_id, prediction_time);
    CREATE INDEX model_predictions_version_time
        ON ONLY model_predictions (model_version, prediction_time);
    ALTER SEQUENCE IF EXISTS model_predictions_id_seq
        OWNED BY model_predictions.id;

    EXECUTE format('ALTER TABLE model_predictions ATTACH PARTITION '
                   'model_predictions_legacy FOR VALUES FROM (MINVALUE) '
                   'TO (%L)', plan_cutoff);
    ALTER INDEX model_predictions_version_time
        ATTACH PARTITION model_predictions_legacy_version_time;
    CREATE TABLE model_predictions_default
        PARTITION OF model_predictions DEFAULT;

    -- Views read the table they were created on, which is now the legacy
    -- partition: point each at the parent again (the only way their text
    -- can name the legacy table is by this name).
    FOR g IN
        SELECT DISTINCT v.oid::regclass AS view, v.oid AS oid
        FROM pg_depend d
        JOIN pg_rewrite w ON w.oid = d.objid
        JOIN pg_class v ON v.oid = w.ev_class
        WHERE d.refobjid = 'model_predictions_legacy'::regclass
          AND v.relkind = 'v'
    LOOP
        EXECUTE format('CREATE OR REPLACE VIEW %s AS %s', g.view,
                       regexp_replace(pg_get_viewdef(g.oid),
                                      '\mmodel_predictions_legacy\M',
                                      'model_predictions', 'g'));
    END LOOP;

    -- The grants the old table had, on the new parent (the partitions are
    -- reached through it).
    FOR g IN
        SELECT a.privilege_type,
               CASE WHEN a.grantee = 0 THEN 'PUBLIC'
                    ELSE quote_ident(r.rolname) END AS grantee
        FROM pg_class c
        CROSS JOIN LATERAL aclexplode(c.relacl) a
        LEFT JOIN pg_roles r ON r.oid = a.grantee
        WHERE c.oid = 'model_predictions_legacy'::regclass
    LOOP
        EXECUTE format('GRANT %s ON model_predictions TO %s',
                       g.privilege_type, g.grantee);
    END LOOP;

    UPDATE modelstore_partition_plan SET swapped_at = now();
    RETURN modelstore_partitions_ensure(days_ahead);
END
$$;

-- Retention: drop every daily partition that ends on or before `before`,
-- and the legacy partition once its cutoff has passed it.  The DEFAULT
-- partition is never dropped.  Returns the names dropped (or that would
-- be, when dry_run).
CREATE OR REPLACE FUNCTION modelstore_partitions_drop(before timestamp,
                                                      dry_run boolean)
RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    r record;
    plan_cutoff timestamp;
BEGIN
    IF NOT modelstore_predictions_partitioned() THEN
        RAISE EXCEPTION 'model_predictions is not partitioned'
            USING ERRCODE = '55000',
                  HINT = 'run `modelstore partitions enable` first';
    END IF;
    FOR r IN SELECT name, day FROM modelstore_partition_days()
             WHERE day + 1 <= before ORDER BY day LOOP
        IF NOT dry_run THEN
            EXECUTE format('DROP TABLE %I', r.name);
        END IF;
        RETURN NEXT r.name;
    END LOOP;
    SELECT p.cutoff INTO plan_cutoff FROM modelstore_partition_plan p;
    IF plan_cutoff IS NOT NULL AND plan_cutoff <= before
       AND to_regclass('model_predictions_legacy') IS NOT NULL THEN
        IF NOT dry_run THEN
            DROP TABLE model_predictions_legacy;
        END IF;
        RETURN NEXT 'model_predictions_legacy';
    END IF;
END
$$;

-- Undo step 1 of a conversion that will not be finished: the range
-- constraint would otherwise refuse every row logged after the cutoff.
-- The indexes of step 2 stay (harmless, and a later conversion reuses
-- them).  A no-op on a partitioned table or when nothing was prepared.
CREATE OR REPLACE FUNCTION modelstore_partition_abort()
RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    IF modelstore_predictions_partitioned() THEN
        RETURN false;
    END IF;
    DELETE FROM modelstore_partition_plan;
    IF EXISTS (SELECT 1 FROM pg_constraint
               WHERE conrelid = 'model_predictions'::regclass
                 AND conname = 'model_predictions_legacy_range') THEN
        ALTER TABLE model_predictions
            DROP CONSTRAINT model_predictions_legacy_range;
        RETURN true;
    END IF;
    RETURN false;
END
$$;
