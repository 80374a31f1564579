/** Shared by the test/testing suites: a library server per test and real clients. */
import { test, type TestContext, type TestOptions } from 'node:test';
import nodemailer from 'nodemailer';
import type Mail from 'nodemailer/lib/mailer/index.js';
import { connect, startTestMailServer, type MailClient, type TestMailServerOptions } from '../../src/index.js';
import { python, RawSmtp } from '../helpers.js';

/** Where a test sends its mail. */
type SmtpTarget = { readonly host: string; readonly smtpPort: number };

/** Sends one message with nodemailer over a fresh connection. */
export async function send(mail: SmtpTarget, message: Mail.Options): Promise<void> {
  const transport = nodemailer.createTransport({
    host: mail.host,
    port: mail.smtpPort,
    secure: false,
    ignoreTLS: true,
  });
  try {
    await transport.sendMail({ from: 'App <app@example.test>', ...message });
  } finally {
    transport.close();
  }
}

/**
 * Sends with Python's smtplib: `build` is Python code that sets `msg` (an email.message.EmailMessage,
 * `EmailMessage` is imported); `send_message` takes the envelope from its headers (Bcc included, then stripped).
 */
export async function sendWithPython(mail: SmtpTarget, build: string): Promise<void> {
  const script = [
    'import smtplib, sys',
    'from email.message import EmailMessage',
    build,
    'with smtplib.SMTP("127.0.0.1", int(sys.argv[1])) as smtp:',
    '    smtp.send_message(msg)',
  ].join('\n');
  await python(script, [String(mail.smtpPort)]);
}

/** Sends raw bytes through a raw SMTP conversation; resolves once the server has answered the final dot. */
export async function sendRaw(mail: SmtpTarget, from: string, to: string[], message: string | Buffer): Promise<void> {
  const smtp = await RawSmtp.connect(mail.smtpPort);
  try {
    await smtp.reply();
    await smtp.command('EHLO client.test');
    await smtp.command(`MAIL FROM:<${from}>`);
    for (const recipient of to) await smtp.command(`RCPT TO:<${recipient}>`);
    await smtp.command('DATA');
    const bytes = typeof message === 'string' ? Buffer.from(message) : message;
    // The body ends with a line break before the final dot line; add one unless there is one.
    smtp.send(bytes.subarray(-2).toString() === '\r\n' ? bytes : Buffer.concat([bytes, Buffer.from('\r\n')]));
    const reply = await smtp.command('.');
    if (!reply.startsWith('250 ')) throw new Error(`DATA refused: ${reply}`);
    await smtp.command('QUIT');
  } finally {
    smtp.close();
  }
}

/** Settles after `promise` or reports `'pending'` when it has not settled by the next macrotask turns. */
export async function isPending(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setImmediate(resolve));
  return !settled;
}

/** What the toolkit suite uses of a server: the MailClient, and where to send mail. */
export interface ToolkitServer extends MailClient {
  readonly host: string;
  readonly smtpPort: number;
  readonly mailDir: string;
  close(): Promise<void>;
}

/** The two kinds of client the toolkit suite runs against: the handle itself, and `connect()` over HTTP. */
export const clientKinds: ReadonlyArray<{
  readonly label: string;
  start(options?: TestMailServerOptions): Promise<ToolkitServer>;
}> = [
  { label: 'in process', start: (options) => startTestMailServer(options) },
  {
    label: 'over HTTP',
    async start(options) {
      const server = await startTestMailServer({ ...options, httpPort: 0 });
      const client = await connect(server.httpUrl!);
      return {
        ...client,
        host: server.host,
        smtpPort: server.smtpPort,
        mailDir: server.mailDir,
        async close() {
          await client.close();
          await server.close();
        },
      };
    },
  },
];

/** Registers the test once per kind of client, each run with a server of its own, closed whatever happens. */
export function testEachClient(
  name: string,
  body: (mail: ToolkitServer, t: TestContext) => Promise<void>,
  options: TestOptions = {},
): void {
  for (const kind of clientKinds) {
    test(`${name} [${kind.label}]`, options, async (t) => {
      const mail = await kind.start();
      try {
        await body(mail, t);
      } finally {
        await mail.close();
      }
    });
  }
}
