/**
 * A large MAIL_DIR written directly in MH layout, as a server that ran for a while would leave it:
 * one folder per mailbox under one domain, numbered files each with our trace lines (so every
 * message is an item of its own transaction), an `.mh_sequences` marking them unseen. For the
 * cases that measure a server starting on, and serving, many stored messages.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { traceHeader } from '../../src/mailbox/trace.js';

export interface MailDirSpec {
  readonly messages: number;
  readonly mailboxes: number;
  /** About this many bytes per file, trace lines included. */
  readonly bytes: number;
  readonly domain?: string;
}

export interface BuiltMailDir {
  readonly mailDir: string;
  /** A word in the body of one message in a hundred (and nowhere else), to search for. */
  readonly rareWord: string;
  /** How many messages hold it. */
  readonly rareWordCount: number;
}

const filler = 'lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore';

export function buildMailDir(mailDir: string, spec: MailDirSpec): BuiltMailDir {
  const domain = spec.domain ?? 'bench.test';
  const perBox = Math.ceil(spec.messages / spec.mailboxes);
  const rareWord = 'zanzibar';
  let rareWordCount = 0;
  // Oldest first, a second apart, ending now: arrival order is file order.
  const start = Date.now() - spec.messages * 1000;
  let written = 0;
  for (let box = 0; box < spec.mailboxes && written < spec.messages; box++) {
    const local = `box${String(box).padStart(4, '0')}`;
    const recipient = `${local}@${domain}`;
    const folder = path.join(mailDir, domain, local);
    mkdirSync(folder, { recursive: true, mode: 0o750 });
    const count = Math.min(perBox, spec.messages - written);
    for (let number = 1; number <= count; number++, written++) {
      const id = `BENCH${written.toString(36).toUpperCase()}`;
      const receivedAt = new Date(start + written * 1000);
      const rare = written % 100 === 0;
      if (rare) rareWordCount++;
      const head = traceHeader(
        {
          heloName: 'client.bench.test',
          clientAddress: '127.0.0.1',
          serverName: 'bench',
          protocol: 'ESMTP',
          id,
          receivedAt,
        },
        `sender@${domain}`,
        recipient,
      );
      const headers =
        `From: Sender <sender@${domain}>\r\nTo: <${recipient}>\r\nSubject: Order ${written} for ${local}\r\n` +
        `Message-ID: <${id}@${domain}>\r\nDate: ${receivedAt.toUTCString()}\r\n\r\n`;
      const opening = `Hello ${local}, your order ${written} ${rare ? `ships from ${rareWord}` : 'has shipped'}.\r\n`;
      const room = Math.max(0, spec.bytes - head.length - headers.length - opening.length);
      const body = opening + `${filler} `.repeat(Math.ceil(room / (filler.length + 1))).slice(0, room);
      writeFileSync(path.join(folder, String(number)), Buffer.concat([head, Buffer.from(headers + body)]));
    }
    writeFileSync(path.join(folder, '.mh_sequences'), `unseen: 1-${count}\n`);
  }
  return { mailDir, rareWord, rareWordCount };
}
