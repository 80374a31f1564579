/**
 * A MAIL_DIR already holding many messages, as an earlier run of the server would have left it:
 * MH folders of ~1 KiB messages with our trace lines, `.mh_sequences` and `.mh_highwater`. Written
 * directly (no server), once per shape per bench run; cases only read it.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { traceHeader } from '../../src/mailbox/trace.js';

export interface StoredMailShape {
  readonly messages: number;
  readonly mailboxes: number;
}

/** Words the bodies are made of; `needle` appears in one message in `needleEvery`, for searches. */
const words = [
  'order',
  'invoice',
  'welcome',
  'password',
  'reset',
  'confirm',
  'account',
  'shipping',
  'receipt',
  'newsletter',
];
export const needle = 'zebracorn';
export const needleEvery = 1000;
export const storedDomain = 'stored.test';

/** The folder of mailbox `i` (`user<i>@stored.test`). */
export function storedMailbox(i: number): string {
  return `user${i}@${storedDomain}`;
}

function message(n: number, mailbox: string, receivedAt: Date): Buffer {
  const trace = traceHeader(
    {
      heloName: 'app.test',
      clientAddress: '127.0.0.1',
      serverName: 'bench',
      protocol: 'ESMTP',
      id: `BENCH${n.toString(36).toUpperCase()}`,
      receivedAt,
    },
    'app@example.test',
    mailbox,
  );
  const bodyWords = Array.from({ length: 130 }, (_, i) => words[(n * 7 + i) % words.length]);
  if (n % needleEvery === 0) bodyWords[60] = needle;
  const lines = [];
  for (let i = 0; i < bodyWords.length; i += 13) lines.push(bodyWords.slice(i, i + 13).join(' '));
  const headers = [
    `From: App <app@example.test>`,
    `To: <${mailbox}>`,
    `Subject: Message ${n}: your ${words[n % words.length]}`,
    `Date: ${receivedAt.toUTCString().replace('GMT', '+0000')}`,
    `Message-ID: <bench-${n}@example.test>`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
  ];
  return Buffer.concat([trace, Buffer.from(`${headers.join('\r\n')}\r\n\r\n${lines.join('\r\n')}\r\n`)]);
}

/**
 * The MAIL_DIR for `shape` under `root`, made on first call: messages spread evenly over the
 * mailboxes, arriving one second apart in the past.
 */
export function storedMailDir(root: string, shape: StoredMailShape): string {
  const mailDir = path.join(root, `stored-${shape.messages}-${shape.mailboxes}`);
  if (existsSync(path.join(mailDir, '.complete'))) return mailDir;
  const perMailbox = Math.ceil(shape.messages / shape.mailboxes);
  const start = Date.now() - shape.messages * 1000;
  let n = 0;
  for (let box = 0; box < shape.mailboxes && n < shape.messages; box++) {
    const mailbox = storedMailbox(box);
    const folder = path.join(mailDir, storedDomain, mailbox.split('@')[0]);
    mkdirSync(folder, { recursive: true });
    let count = 0;
    while (count < perMailbox && n < shape.messages) {
      n++;
      count++;
      writeFileSync(path.join(folder, String(count)), message(n, mailbox, new Date(start + n * 1000)));
    }
    writeFileSync(path.join(folder, '.mh_sequences'), `unseen: 1-${count}\n`);
    writeFileSync(path.join(folder, '.mh_highwater'), `${count}\n`);
  }
  writeFileSync(path.join(mailDir, '.complete'), '');
  return mailDir;
}
