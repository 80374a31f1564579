/**
 * A minimal SMTP sender for the load tests, over a raw socket: one transaction at a time,
 * every reply awaited, and a closed connection reported as such (never waited on forever).
 * Plus the marked messages it sends and the checks of a mailbox full of them.
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import * as net from 'node:net';
import * as path from 'node:path';
import { ConnectionClosedError, RawSmtp } from '../helpers.js';

export class LoadClient {
  private constructor(private readonly raw: RawSmtp) {}

  get socket(): net.Socket {
    return this.raw.socket;
  }

  static async connect(port: number): Promise<LoadClient> {
    return new LoadClient(await RawSmtp.connect(port));
  }

  /** The next reply, or undefined once the connection is closed. */
  reply(): Promise<string | undefined> {
    return this.raw.reply().catch((error: unknown) => {
      if (error instanceof ConnectionClosedError) return undefined;
      throw error;
    });
  }

  async command(line: string): Promise<string | undefined> {
    if (this.socket.destroyed) return undefined;
    this.raw.send(line);
    return this.reply();
  }

  /** Greeting and EHLO; throws unless both are accepted. */
  async greet(name = 'load.test'): Promise<void> {
    assert.match((await this.reply()) ?? 'closed', /^220 /);
    assert.match((await this.command(`EHLO ${name}`)) ?? 'closed', /^250 /m);
  }

  /**
   * One transaction. Returns the reply to the end of DATA (a 250 means stored), or the first
   * refusal, or undefined when the connection closed before a reply.
   */
  async send(from: string, to: string, message: Buffer): Promise<string | undefined> {
    const mail = await this.command(`MAIL FROM:<${from}>`);
    if (!mail?.startsWith('250')) return mail;
    const rcpt = await this.command(`RCPT TO:<${to}>`);
    if (!rcpt?.startsWith('250')) return rcpt;
    const data = await this.command('DATA');
    if (!data?.startsWith('354')) return data;
    if (this.socket.destroyed) return undefined;
    this.socket.write(Buffer.concat([dotStuff(message), Buffer.from('.\r\n')]));
    return this.reply();
  }

  async quit(): Promise<void> {
    await this.command('QUIT');
    this.socket.destroy();
  }
}

/** Connects, greets, and opens a transaction that is left in DATA (354 received). */
export async function inData(port: number, from: string, to: string): Promise<LoadClient> {
  const client = await LoadClient.connect(port);
  await client.greet();
  assert.match((await client.command(`MAIL FROM:<${from}>`)) ?? 'closed', /^250 /);
  assert.match((await client.command(`RCPT TO:<${to}>`)) ?? 'closed', /^250 /);
  assert.match((await client.command('DATA')) ?? 'closed', /^354 /);
  return client;
}

/** Doubles each leading dot (the message must end with CRLF). */
export function dotStuff(message: Buffer): Buffer {
  return Buffer.from(message.toString('latin1').replace(/^\./gm, '..'), 'latin1');
}

/**
 * A message that names its marker in the Subject and in its last line; the lines in between
 * vary in number (so sizes differ) and some start with dots (so they are stuffed on the wire).
 */
export function markedMessage(marker: string, seed: number): Buffer {
  const lines = [
    `From: load@example.test`,
    `To: sink@example.test`,
    `Subject: ${marker}`,
    `Message-ID: <${marker}@load.test>`,
    '',
  ];
  const count = 5 + (seed % 37);
  for (let i = 0; i < count; i++)
    lines.push(`${i % 7 === 0 ? '.' : ''}${marker} line ${i} ${'abcdefghij'.repeat(1 + ((seed + i) % 9))}`);
  lines.push(`END ${marker}`, '');
  return Buffer.from(lines.join('\r\n'), 'latin1');
}

export function markerOf(message: Buffer): string {
  const match = /^Subject: (\S+)\r$/m.exec(message.toString('latin1'));
  assert.ok(match, 'stored message has a Subject marker');
  return match[1];
}

/** The message bytes after our trace lines (Return-Path, Delivered-To, folded Received). */
export function afterTrace(file: Buffer): Buffer {
  const text = file.toString('latin1');
  const match =
    /^Return-Path: <[^\r\n]*>\r\nDelivered-To: [^\r\n]*\r\nReceived: [^\r\n]*(?:\r\n[ \t][^\r\n]*)*\r\n/.exec(text);
  assert.ok(match, `stored file does not start with our trace lines:\n${text.slice(0, 300)}`);
  return file.subarray(match[0].length);
}

/**
 * Reads every numbered file of a folder and checks each is exactly one of the `expected`
 * messages, intact, and none twice. Returns message number by marker.
 */
export async function readMarkedFolder(
  folder: string,
  expected: ReadonlyMap<string, Buffer>,
): Promise<{ numbers: number[]; byMarker: Map<string, number> }> {
  const numbers = (await readdir(folder))
    .filter((name) => /^[1-9]\d*$/.test(name))
    .map(Number)
    .sort((a, b) => a - b);
  const byMarker = new Map<string, number>();
  await Promise.all(
    numbers.map(async (n) => {
      const message = afterTrace(await readFile(path.join(folder, String(n))));
      const marker = markerOf(message);
      const original = expected.get(marker);
      assert.ok(original, `file ${n} holds unknown marker ${marker}`);
      assert.ok(message.equals(original), `file ${n} (${marker}) is not the message as sent`);
      assert.equal(byMarker.get(marker), undefined, `${marker} stored twice (files ${byMarker.get(marker)} and ${n})`);
      byMarker.set(marker, n);
    }),
  );
  return { numbers, byMarker };
}

/** 1..n */
export function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i + 1);
}
