// Runs in piscina worker threads: bcrypt is pure CPU, and on the main thread it would stall every
// other request for the length of a hash.
import bcrypt from 'bcryptjs';

export function hash({ password, cost }) {
  return bcrypt.hashSync(password, cost);
}

export function verify({ password, hash }) {
  return bcrypt.compareSync(password, hash);
}
