-- Password reset tokens move into one table of single-use mailed links, which verification and
-- email-change links share. Pending reset links keep working.

-- CreateTable
CREATE TABLE "EmailToken" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "userId" INTEGER NOT NULL,
    "purpose" TEXT NOT NULL,
    "email" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expiresAt" DATETIME NOT NULL,
    CONSTRAINT "EmailToken_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateIndex
CREATE INDEX "EmailToken_userId_purpose_idx" ON "EmailToken"("userId", "purpose");

-- CreateIndex
CREATE INDEX "EmailToken_expiresAt_idx" ON "EmailToken"("expiresAt");

-- Pending reset links
INSERT INTO "EmailToken" ("id", "userId", "purpose", "email", "createdAt", "expiresAt")
SELECT t."id", t."userId", 'PASSWORD_RESET', u."email", t."createdAt", t."expiresAt"
FROM "PasswordResetToken" t JOIN "User" u ON u."id" = t."userId";

-- DropTable
DROP TABLE "PasswordResetToken";
