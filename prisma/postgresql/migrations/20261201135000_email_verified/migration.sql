-- AlterTable
ALTER TABLE "User" ADD COLUMN     "emailVerified" BOOLEAN NOT NULL DEFAULT false;

-- Accounts made before verification existed count as verified: they were let in under the earlier
-- rules, and turning on REQUIRE_VERIFIED_EMAIL must not lock them (or the staff) out.
UPDATE "User" SET "emailVerified" = true;
