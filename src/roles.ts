/** Role names. The applications around the service give them meaning; this service only stores them. */
export const ROLE_PATTERN = /^[a-z][a-z0-9_:.-]{0,63}$/;
/** Roles a user may have: each travels in every access token (`roles` and `scope`). */
export const MAX_ROLES = 20;

/** Problems with a set of roles; at most one message per role, and none that quotes more than a role's length. */
export function rolesProblems(roles: readonly string[] | null | undefined): string[] {
  if (roles == null) return [];
  if (new Set(roles).size > MAX_ROLES) return [`Ensure this list has at most ${MAX_ROLES} roles.`];
  return [...new Set(roles)]
    .filter((role) => !ROLE_PATTERN.test(role))
    .map(
      (role) =>
        `${JSON.stringify(role.length > 64 ? `${role.slice(0, 64)}…` : role)} is not a valid role: a lower-case letter, then up to 63 lower-case letters, digits, or _ : . -`,
    );
}

/**
 * The set as stored and shown: each role once, sorted by code point (in JavaScript, as database
 * collations differ: PostgreSQL's may ignore punctuation).
 */
export function roleSet(roles: readonly string[]): string[] {
  return [...new Set(roles)].sort();
}
