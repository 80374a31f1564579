/** Shared by the HTTP tests: a library server with its HTTP API on a free port, real SMTP clients, and fetch. */
import * as path from 'node:path';
import type { TestContext } from 'node:test';
import nodemailer from 'nodemailer';
import type Mail from 'nodemailer/lib/mailer/index.js';
import type { TestMailServer, TestMailServerOptions } from '../../src/index.js';
import { python, startServer } from '../helpers.js';

/** A server with SMTP and HTTP on free ports and its own MAIL_DIR, closed after the test. */
export async function startHttp(t: TestContext, options: TestMailServerOptions = {}): Promise<TestMailServer> {
  const server = await startServer({ httpPort: 0, ...options });
  t.after(() => server.close());
  return server;
}

/** Sends with nodemailer; resolves with the transaction id the 250 reply names (the Mailpit ID of the message). */
export async function send(server: TestMailServer, message: Mail.Options): Promise<string> {
  const transport = nodemailer.createTransport({ host: server.host, port: server.smtpPort, ignoreTLS: true });
  try {
    const info = (await transport.sendMail({ from: 'App <app@example.test>', ...message })) as { response: string };
    return /stored as (\S+)/.exec(info.response)![1];
  } finally {
    transport.close();
  }
}

/**
 * Sends with Python's smtplib; `build` is Python code that sets `msg` (an EmailMessage). The
 * envelope comes from its From, To, Cc and Bcc, as `send_message` takes it (Bcc then removed).
 * Resolves with the transaction id the 250 reply names.
 */
export async function sendWithPython(server: TestMailServer, build: string): Promise<string> {
  const script = [
    'import smtplib, sys',
    'from email.message import EmailMessage',
    'from email.utils import getaddresses',
    build,
    "rcpts = [a for _, a in getaddresses(msg.get_all('To', []) + msg.get_all('Cc', []) + msg.get_all('Bcc', []))]",
    "sender = getaddresses([msg['From']])[0][1]",
    "del msg['Bcc']",
    'with smtplib.SMTP("127.0.0.1", int(sys.argv[1])) as smtp:',
    '    smtp.ehlo("python.test")',
    '    smtp.mail(sender)',
    '    for rcpt in rcpts: smtp.rcpt(rcpt)',
    '    print(smtp.data(msg.as_bytes())[1].decode())',
  ].join('\n');
  const reply = await python(script, [String(server.smtpPort)]);
  return /stored as (\S+)/.exec(reply)![1];
}

/** fetch against the server's HTTP API. */
export function api(server: TestMailServer, path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${server.httpUrl}${path}`, init);
}

/** fetch with a JSON body. */
export function apiJson(server: TestMailServer, method: string, path: string, body: unknown): Promise<Response> {
  return api(server, path, { method, body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
}

/** A mailbox's MH folder on disk: tests may look where the store writes. */
export function folderOf(server: TestMailServer, mailbox: string): string {
  const at = mailbox.lastIndexOf('@');
  return path.join(server.mailDir, mailbox.slice(at + 1).toLowerCase(), mailbox.slice(0, at));
}

/** What Python's mailbox.MH reads in a mailbox: its message numbers and sequences. */
export async function readWithPython(
  server: TestMailServer,
  mailbox: string,
): Promise<{ keys: number[]; sequences: Record<string, number[]> }> {
  const output = await python(
    'import json, mailbox, sys\n' +
      'box = mailbox.MH(sys.argv[1], create=False)\n' +
      'print(json.dumps({"keys": sorted(box.keys()), "sequences": box.get_sequences()}))',
    [folderOf(server, mailbox)],
  );
  return JSON.parse(output) as { keys: number[]; sequences: Record<string, number[]> };
}
