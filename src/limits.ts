/**
 * How long account fields may be. The domain checks them, and checks whose cost grows with the
 * input (the password similarity check) look only at values within them.
 */
export const MAX_EMAIL_LENGTH = 254;
/** In characters (code points), as Django's `max_length` counts them. */
export const MAX_NAME_LENGTH = 150;

/** Whether a string has more than `max` code points, without walking far past `max`. */
export function longerThan(value: string, max: number): boolean {
  if (value.length <= max) return false;
  if (value.length > 2 * max) return true;
  let count = 0;
  for (const _ of value) if (++count > max) return true;
  return false;
}
