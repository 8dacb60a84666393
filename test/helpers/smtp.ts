import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { simpleParser, type ParsedMail } from 'mailparser';

/** A message as a real SMTP server received it: the SMTP envelope and the parsed message (headers, text and HTML parts). */
export interface CaughtMail {
  envelope: { from: string; to: string[] };
  raw: string;
  parsed: ParsedMail;
}

/**
 * A real SMTP server on loopback (smtp-server), no TLS, no auth, recording every message; `failNext(n, code)` makes
 * the next n messages to a recipient fail with an SMTP reply code (4xx: retry later, 5xx: refused).
 */
export async function startSmtpServer() {
  const mails: CaughtMail[] = [];
  const failures = new Map<string, { remaining: number; code: number }>();
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', async () => {
        const failing = session.envelope.rcptTo.map((to) => failures.get(to.address)).find((failure) => failure && failure.remaining > 0);
        if (failing) {
          failing.remaining--;
          const error = new Error(failing.code >= 500 ? 'mailbox unavailable' : 'try again later') as Error & { responseCode: number };
          error.responseCode = failing.code;
          return callback(error);
        }
        const raw = Buffer.concat(chunks).toString('utf8');
        mails.push({
          envelope: { from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', to: session.envelope.rcptTo.map((to) => to.address) },
          raw,
          parsed: await simpleParser(raw),
        });
        callback();
      });
    },
  });
  server.listen(0, '127.0.0.1');
  await once(server.server, 'listening');
  const port = (server.server.address() as AddressInfo).port;
  return {
    url: `smtp://127.0.0.1:${port}`,
    mails,
    /** The next `remaining` messages to `recipient` are refused with `code` (4xx: try later; 5xx: refused). */
    failNext: (recipient: string, remaining: number, code: number) => {
      failures.set(recipient, { remaining, code });
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export type TestSmtpServer = Awaited<ReturnType<typeof startSmtpServer>>;
