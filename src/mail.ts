import type { Transporter } from 'nodemailer';
import type { Logger } from 'pino';
import type { Config } from './config.ts';

export interface Mail {
  to: string;
  subject: string;
  text: string;
  /** An HTML alternative to `text`, for clients that show HTML. */
  html?: string;
}

export interface Mailer {
  send(mail: Mail): Promise<void>;
  close(): void;
}

/**
 * SMTP when SMTP_URL is set; otherwise each mail is written to the log, like Django's console
 * backend, so development needs no mail server.
 */
export function createMailer(config: Pick<Config, 'smtpUrl' | 'mailFrom'>, logger: Logger): Mailer {
  if (!config.smtpUrl) {
    return {
      async send(mail) {
        logger.info({ mail }, 'mail not sent (SMTP_URL is not set); its content follows');
      },
      close() {},
    };
  }
  const smtpUrl = config.smtpUrl;
  // nodemailer loads at the first mail, not at start: it adds ~3 MiB to every serving process, and
  // most of them send no mail for hours.
  let transport: Transporter | null = null;
  return {
    async send(mail) {
      if (!transport) {
        const { default: nodemailer } = await import('nodemailer');
        // Two first mails at once both wait for the import; they share one transport.
        transport ??= nodemailer.createTransport(smtpUrl);
      }
      await transport.sendMail({ from: config.mailFrom, ...mail });
    },
    close: () => transport?.close(),
  };
}
