import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { simpleParser } from 'mailparser';

/**
 * `herald dev`'s SMTP catcher: a local SMTP server (no TLS, no auth, loopback only) that email channels send to, and
 * that prints each message it receives (envelope, subject and plain-text part) instead of delivering it.
 */
export interface SmtpCatcher {
  url: string;
  close: () => Promise<void>;
}

export async function startSmtpCatcher(options: { port: number; print?: (text: string) => void }): Promise<SmtpCatcher> {
  const print = options.print ?? ((text: string) => console.log(text));
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    size: 10 * 1024 * 1024,
    onData(stream, session, callback) {
      simpleParser(stream)
        .then((mail) => {
          const to = session.envelope.rcptTo.map((recipient) => recipient.address).join(', ');
          const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
          const body = (mail.text ?? '').trimEnd().split('\n').map((line) => `  │ ${line}`).join('\n');
          print(`\n📧 mail from ${from} to ${to}\n  Subject: ${mail.subject ?? ''}\n${body}\n`);
          callback();
        })
        .catch((error: Error) => callback(error));
    },
  });
  server.listen(options.port, '127.0.0.1');
  await once(server.server, 'listening');
  const port = (server.server.address() as AddressInfo).port;
  return { url: `smtp://127.0.0.1:${port}`, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}
