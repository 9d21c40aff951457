-- 005_notify_only_production: the production-notify trigger runs its
-- function only for rows that are production.
--
-- modelstore: compatible
-- modelstore: optional
--
-- The trigger called modelstore_notify_production() for every inserted
-- row, and the function tested NEW.is_production itself, so a
-- connection's first INSERT into model_artifacts compiled the PL/pgSQL
-- function whatever the row: 9.7 against 6.3 ms for a fresh connection's
-- first INSERT, 3.4 ms of every `modelstore push` (docs/schema.md, "The
-- notify trigger").  With WHEN (NEW.is_production) the function runs
-- only for the rows it notified for anyway.  What listeners receive is
-- unchanged, so libraries that do not know this migration use the
-- database as before (compatible), and this library works without it
-- (optional).  CREATE OR REPLACE TRIGGER swaps the definition in one
-- statement: no moment without the trigger.
CREATE OR REPLACE TRIGGER model_artifacts_production_notify
    AFTER INSERT OR UPDATE OF is_production ON model_artifacts
    FOR EACH ROW WHEN (NEW.is_production)
    EXECUTE FUNCTION modelstore_notify_production();
