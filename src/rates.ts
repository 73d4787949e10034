// The limits' names and default rates, apart from the counters that apply them (rateLimits.ts):
// configuration reads them in every process, and a cluster's primary loads no rate-limit store.

export interface Rate {
  points: number;
  seconds: number;
}

export const DEFAULT_RATES = {
  /** Guarded operations (each one a password check, a mail or an account) per client IP. */
  ipAttempts: { points: 10, seconds: 60 },
  /** Failed sign-ins and bad tokens per client IP: a slow credential-stuffing run. */
  ipFailures: { points: 100, seconds: 24 * 60 * 60 },
  /** Consecutive failed sign-ins for one email from one IP: guessing one account's password. */
  emailIpFailures: { points: 5, seconds: 15 * 60 },
  /** Failed sign-ins for one email from all IPs together: a distributed guess at one account. */
  emailFailures: { points: 20, seconds: 60 * 60 },
  /** Password reset mails per address, so nobody's inbox can be flooded. */
  resetMails: { points: 3, seconds: 60 * 60 },
  /** Token refreshes per client IP; apps behind one NAT refresh every few minutes each. */
  refreshIp: { points: 60, seconds: 60 },
  /** Wrong current passwords in changePassword per user: a stolen session guessing the password. */
  userFailures: { points: 5, seconds: 15 * 60 },
  /** Wrong second-factor answers (codes, passkey assertions) per account, from all IPs together. */
  secondFactorFailures: { points: 5, seconds: 15 * 60 },
  /** Verification mails per address, so nobody's inbox can be flooded through sendVerificationEmail. */
  verificationMails: { points: 3, seconds: 60 * 60 },
  /** Mails one signed-in user sets off (verification links, email changes), whatever the address. */
  userMails: { points: 5, seconds: 60 * 60 },
} satisfies Record<string, Rate>;

export type LimitName = keyof typeof DEFAULT_RATES;
export type Rates = Record<LimitName, Rate>;
