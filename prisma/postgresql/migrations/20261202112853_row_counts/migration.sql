-- Row counts of the tables with a totalCount, kept by triggers, so an unfiltered count reads a few
-- rows instead of counting the table (~100 ms for a million rows).
--
-- Slot 0 holds a table's count. Each connection adds what its statements insert and delete to a
-- row of its own (slot = its backend pid), so writers never wait on one another and a transaction
-- that writes several counted tables cannot deadlock with another over their counts. The service
-- folds those rows into slot 0 from time to time (src/rowCounts.ts).
--
-- In one transaction, with writes to both tables held off, so the first counts and the triggers
-- miss no row (Prisma does not wrap a PostgreSQL migration in a transaction by itself).
BEGIN;

LOCK TABLE "User", "AuthEvent" IN SHARE ROW EXCLUSIVE MODE;

-- CreateTable
CREATE TABLE "RowCount" (
    "table" TEXT NOT NULL,
    "slot" INTEGER NOT NULL,
    "rows" BIGINT NOT NULL DEFAULT 0,

    CONSTRAINT "RowCount_pkey" PRIMARY KEY ("table","slot")
);

INSERT INTO "RowCount" ("table", "slot", "rows")
SELECT 'User', 0, COUNT(*) FROM "User"
UNION ALL SELECT 'AuthEvent', 0, COUNT(*) FROM "AuthEvent";

-- One function for every trigger below. The rows a statement inserted or deleted are its
-- transition table, "changed". A TRUNCATE empties the table, and so its count.
CREATE FUNCTION "count_changed_rows"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    delta BIGINT;
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM "RowCount" WHERE "table" = TG_TABLE_NAME AND "slot" <> 0;
        UPDATE "RowCount" SET "rows" = 0 WHERE "table" = TG_TABLE_NAME AND "slot" = 0;
        RETURN NULL;
    END IF;
    SELECT COUNT(*) INTO delta FROM changed;
    IF delta > 0 THEN
        INSERT INTO "RowCount" ("table", "slot", "rows")
        VALUES (TG_TABLE_NAME, pg_backend_pid(), CASE TG_OP WHEN 'INSERT' THEN delta ELSE -delta END)
        ON CONFLICT ("table", "slot") DO UPDATE SET "rows" = "RowCount"."rows" + EXCLUDED."rows";
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER "User_rows_added" AFTER INSERT ON "User"
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION "count_changed_rows"();
CREATE TRIGGER "User_rows_removed" AFTER DELETE ON "User"
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION "count_changed_rows"();
CREATE TRIGGER "User_emptied" AFTER TRUNCATE ON "User"
    FOR EACH STATEMENT EXECUTE FUNCTION "count_changed_rows"();
CREATE TRIGGER "AuthEvent_rows_added" AFTER INSERT ON "AuthEvent"
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION "count_changed_rows"();
CREATE TRIGGER "AuthEvent_rows_removed" AFTER DELETE ON "AuthEvent"
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION "count_changed_rows"();
CREATE TRIGGER "AuthEvent_emptied" AFTER TRUNCATE ON "AuthEvent"
    FOR EACH STATEMENT EXECUTE FUNCTION "count_changed_rows"();

COMMIT;
