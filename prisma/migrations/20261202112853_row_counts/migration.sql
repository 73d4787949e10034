-- Row counts of the tables with a totalCount, kept by triggers, so an unfiltered count reads one row
-- instead of counting the table. SQLite writes one transaction at a time: one slot a table.

-- CreateTable
CREATE TABLE "RowCount" (
    "table" TEXT NOT NULL,
    "slot" INTEGER NOT NULL,
    "rows" BIGINT NOT NULL DEFAULT 0,

    PRIMARY KEY ("table", "slot")
);

INSERT INTO "RowCount" ("table", "slot", "rows") SELECT 'User', 0, COUNT(*) FROM "User";
INSERT INTO "RowCount" ("table", "slot", "rows") SELECT 'AuthEvent', 0, COUNT(*) FROM "AuthEvent";

CREATE TRIGGER "User_row_added" AFTER INSERT ON "User" BEGIN
    UPDATE "RowCount" SET "rows" = "rows" + 1 WHERE "table" = 'User' AND "slot" = 0;
END;
CREATE TRIGGER "User_row_removed" AFTER DELETE ON "User" BEGIN
    UPDATE "RowCount" SET "rows" = "rows" - 1 WHERE "table" = 'User' AND "slot" = 0;
END;
CREATE TRIGGER "AuthEvent_row_added" AFTER INSERT ON "AuthEvent" BEGIN
    UPDATE "RowCount" SET "rows" = "rows" + 1 WHERE "table" = 'AuthEvent' AND "slot" = 0;
END;
CREATE TRIGGER "AuthEvent_row_removed" AFTER DELETE ON "AuthEvent" BEGIN
    UPDATE "RowCount" SET "rows" = "rows" - 1 WHERE "table" = 'AuthEvent' AND "slot" = 0;
END;
