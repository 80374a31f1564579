import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { TestMailServer } from '../../src/index.js';
import { formatReply, reply } from '../../src/smtp/replies.js';
import { RawSmtp, startServer } from '../helpers.js';

/** Stored file minus our three trace header fields (Return-Path, Delivered-To, Received + its 2 folded lines). */
function withoutTrace(stored: Buffer): Buffer {
  const text = stored.toString('latin1');
  const received = text.indexOf('Received: ');
  const end = text.indexOf('\r\n', text.indexOf('\tfor <', received)) + 2;
  return stored.subarray(end);
}

async function files(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).filter((name) => /^\d+$/.test(name)).sort((a, b) => Number(a) - Number(b));
  } catch {
    return [];
  }
}

/** Every file under dir, recursively, relative paths. */
async function allFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => path.relative(dir, path.join(e.parentPath, e.name)));
}

describe('SMTP protocol', () => {
  let server: TestMailServer;
  before(async () => {
    server = await startServer({ maxMessageSize: 10_000, maxRecipients: 5 });
  });
  after(() => server.close());

  async function session(): Promise<RawSmtp> {
    const smtp = await RawSmtp.connect(server.smtpPort);
    assert.match(await smtp.reply(), /^220 /);
    return smtp;
  }

  test('EHLO advertises the extensions, HELO works too', async () => {
    const smtp = await session();
    const ehlo = await smtp.command('EHLO client.test');
    for (const line of [
      'PIPELINING',
      '8BITMIME',
      'SMTPUTF8',
      'SIZE 10000',
      'ENHANCEDSTATUSCODES',
      'CHUNKING',
      'AUTH PLAIN LOGIN CRAM-MD5',
    ]) {
      assert.ok(
        ehlo.split('\n').some((l) => l.slice(4) === line),
        `${line} in ${ehlo}`,
      );
    }
    assert.ok(!ehlo.includes('STARTTLS'), 'no STARTTLS without tls');
    assert.match(await smtp.command('HELO client.test'), /^250 .* greets client\.test$/);
    assert.match(await smtp.command('STARTTLS'), /^502 5\.5\.1 /);
    smtp.close();
  });

  test('NOOP, VRFY, HELP, RSET, QUIT and unknown commands', async () => {
    const smtp = await session();
    assert.equal(await smtp.command('NOOP'), formatReply(reply.ok));
    assert.match(await smtp.command('VRFY bob'), /^252 2\.5\.2 /);
    assert.match(await smtp.command('HELP'), /^214 2\.0\.0 /);
    assert.equal(await smtp.command('RSET'), formatReply(reply.resetOk));
    assert.equal(await smtp.command('FROB'), formatReply(reply.unknownCommand));
    assert.match(await smtp.command('QUIT'), /^221 2\.0\.0 /);
    await smtp.closed;
  });

  test('HELP lists only the commands offered (no STARTTLS without TLS); HELP <verb> gives its syntax', async () => {
    const smtp = await session();
    const help = await smtp.command('HELP');
    assert.match(help, /^214 2\.0\.0 Commands: HELO EHLO MAIL RCPT /);
    assert.ok(!help.includes('STARTTLS'), help);
    assert.ok(!help.includes('EXPN'), help);
    assert.equal(await smtp.command('HELP mail'), formatReply(reply.helpSyntax('MAIL FROM:<address> [parameters]')));
    assert.equal(await smtp.command('HELP STARTTLS'), formatReply(reply.unknownHelpTopic('STARTTLS')));
    assert.match(await smtp.command('MAIL FROM'), /^501 5\.5\.4 Syntax: MAIL FROM:<address> \[parameters\]$/);
    smtp.close();
  });

  test('commands out of sequence get 503, bad syntax 501', async () => {
    const smtp = await session();
    await smtp.command('EHLO c');
    assert.match(await smtp.command('RCPT TO:<a@b.test>'), /^503 5\.5\.1 /);
    assert.match(await smtp.command('DATA'), /^503 5\.5\.1 /);
    assert.match(await smtp.command('MAIL TO:<a@b.test>'), /^501 5\.5\.4 /);
    assert.match(await smtp.command('MAIL FROM:<a@b.test'), /^501 5\.1\.7 /);
    assert.equal(await smtp.command('MAIL FROM:<a@b.test>'), formatReply(reply.senderOk));
    assert.match(await smtp.command('MAIL FROM:<a@b.test>'), /^503 5\.5\.1 /);
    assert.equal(await smtp.command('DATA'), formatReply(reply.noValidRecipients));
    smtp.close();
  });

  test('MAIL parameters: SIZE, BODY=8BITMIME, SMTPUTF8 accepted; unknown ones 555; SIZE over the limit 552', async () => {
    const smtp = await session();
    await smtp.command('EHLO c');
    assert.equal(
      await smtp.command('MAIL FROM:<a@b.test> SIZE=100 BODY=8BITMIME SMTPUTF8'),
      formatReply(reply.senderOk),
    );
    await smtp.command('RSET');
    assert.equal(await smtp.command('MAIL FROM:<a@b.test> RET=FULL'), formatReply(reply.unknownParameter('RET')));
    assert.equal(
      await smtp.command('MAIL FROM:<a@b.test> BODY=BINARYMIME'),
      formatReply(reply.unknownParameter('BODY=BINARYMIME')),
    );
    assert.match(await smtp.command('MAIL FROM:<a@b.test> SIZE=20000'), /^552 5\.3\.4 /);
    assert.equal(await smtp.command('MAIL FROM:<> SIZE=10'), formatReply(reply.senderOk));
    assert.equal(
      await smtp.command('RCPT TO:<null-sender@example.test> NOTIFY=NEVER'),
      formatReply(reply.unknownParameter('NOTIFY')),
    );
    smtp.close();
  });

  test('the null sender <> is accepted and recorded as Return-Path: <>', async () => {
    const smtp = await session();
    await smtp.command('EHLO c');
    await smtp.startData('', ['bounces@null.test']);
    assert.match(await smtp.command('Subject: bounce\r\n\r\nx\r\n.'), /^250 /);
    const stored = await readFile(path.join(server.mailDir, 'null.test', 'bounces', '1'), 'utf8');
    assert.match(stored, /^Return-Path: <>\r\n/);
    smtp.close();
  });

  test('pipelined commands are answered in order, in one round trip', async () => {
    const smtp = await session();
    smtp.send(
      'EHLO pipe.test\r\nMAIL FROM:<a@pipe.test>\r\nRCPT TO:<one@pipe.test>\r\nRCPT TO:<two@pipe.test>\r\nDATA',
    );
    assert.match(await smtp.reply(), /^250-/);
    assert.equal(await smtp.reply(), formatReply(reply.senderOk));
    assert.equal(await smtp.reply(), formatReply(reply.recipientOk));
    assert.equal(await smtp.reply(), formatReply(reply.recipientOk));
    assert.match(await smtp.reply(), /^354 /);
    // The message, the next transaction and QUIT in a single write.
    smtp.send('Subject: p1\r\n\r\none\r\n.\r\nMAIL FROM:<a@pipe.test>\r\nRCPT TO:<one@pipe.test>\r\nDATA');
    assert.match(await smtp.reply(), /^250 2\.0\.0 /);
    assert.equal(await smtp.reply(), formatReply(reply.senderOk));
    assert.equal(await smtp.reply(), formatReply(reply.recipientOk));
    assert.match(await smtp.reply(), /^354 /);
    smtp.send('Subject: p2\r\n\r\ntwo\r\n.\r\nQUIT');
    assert.match(await smtp.reply(), /^250 2\.0\.0 /);
    assert.match(await smtp.reply(), /^221 /);
    assert.deepEqual(await files(path.join(server.mailDir, 'pipe.test', 'one')), ['1', '2']);
    assert.deepEqual(await files(path.join(server.mailDir, 'pipe.test', 'two')), ['1']);
  });

  test('dot-stuffed lines are unstuffed; CRLF and lone dots inside lines are kept', async () => {
    const smtp = await session();
    await smtp.command('EHLO c');
    await smtp.startData('a@dots.test', ['d@dots.test']);
    smtp.send(Buffer.from('Subject: dots\r\n\r\n..leading dot\r\n...two dots\r\nmiddle . dot\r\n'));
    // The terminator split across writes exercises partial reads.
    for (const part of ['.', '\r', '\n']) smtp.send(Buffer.from(part));
    assert.match(await smtp.reply(), /^250 /);
    const stored = withoutTrace(await readFile(path.join(server.mailDir, 'dots.test', 'd', '1')));
    assert.equal(stored.toString(), 'Subject: dots\r\n\r\n.leading dot\r\n..two dots\r\nmiddle . dot\r\n');
    smtp.close();
  });

  test('BDAT chunks (CHUNKING) are stored byte for byte, without dot-unstuffing', async () => {
    const smtp = await session();
    await smtp.command('EHLO c');
    await smtp.envelope('a@bdat.test', ['b@bdat.test']);
    const first = Buffer.from('Subject: chunks\r\n\r\n..stays doubled\r\n');
    const second = Buffer.from('.\r\nend\r\n');
    smtp.send(Buffer.concat([Buffer.from(`BDAT ${first.length}\r\n`), first]));
    assert.equal(await smtp.reply(), formatReply(reply.chunkOk(first.length)));
    // Pipelined: the last chunk and QUIT together.
    smtp.send(Buffer.concat([Buffer.from(`BDAT ${second.length} LAST\r\n`), second, Buffer.from('QUIT\r\n')]));
    assert.match(await smtp.reply(), /^250 2\.0\.0 OK: stored as /);
    assert.match(await smtp.reply(), /^221 /);
    const stored = withoutTrace(await readFile(path.join(server.mailDir, 'bdat.test', 'b', '1')));
    assert.deepEqual(stored, Buffer.concat([first, second]));
  });

  test('BDAT without a transaction is refused and its chunk skipped; DATA during BDAT is refused', async () => {
    const smtp = await session();
    await smtp.command('EHLO c');
    smtp.send('BDAT 5 LAST\r\nxxxxxNOOP');
    assert.match(await smtp.reply(), /^503 5\.5\.1 /);
    assert.equal(await smtp.reply(), formatReply(reply.ok));
    await smtp.envelope('a@bdat.test', ['c@bdat.test']);
    smtp.send(Buffer.from('BDAT 3\r\nabc'));
    assert.match(await smtp.reply(), /^250 /);
    assert.match(await smtp.command('DATA'), /^503 5\.5\.1 BDAT in progress/);
    assert.match(await smtp.command('BDAT 0 LAST'), /^250 2\.0\.0 OK: stored/);
    smtp.close();
  });

  test('traversal and malformed recipients get 553 5.1.3 and nothing is written outside MAIL_DIR', async () => {
    const outsideBefore = await readdir(path.dirname(server.mailDir));
    const smtp = await session();
    await smtp.command('EHLO c');
    await smtp.command('MAIL FROM:<a@b.test>');
    const refused = [
      '../../etc@x.test',
      'a@..',
      '..@x.test',
      '.@x.test',
      'a/b@x.test',
      'a\\b@x.test',
      'a@x/../../y',
      'a@.hidden',
      'a@',
      '@x.test',
      'nodomain',
      'tab\there@x.test',
      'a@x\u0001.test',
    ];
    for (const address of refused) {
      assert.match(await smtp.command(`RCPT TO:<${address}>`), /^(553 5\.1\.3|501 5\.1\.7) /, address);
    }
    assert.equal(await smtp.command('DATA'), formatReply(reply.noValidRecipients));
    smtp.close();
    assert.deepEqual(await readdir(path.dirname(server.mailDir)), outsideBefore);
    assert.ok(!existsSync(path.join(server.mailDir, '..', 'y')));
  });

  test('quoted local parts, source routes and UTF-8 addresses map to folders', async () => {
    const smtp = await session();
    await smtp.command('EHLO c');
    await smtp.command('MAIL FROM:<a@b.test> SMTPUTF8');
    assert.equal(await smtp.command('RCPT TO:<"john doe"@Quoted.TEST>'), formatReply(reply.recipientOk));
    assert.equal(await smtp.command('RCPT TO:<@relay.test:routed@quoted.test>'), formatReply(reply.recipientOk));
    assert.equal(await smtp.command('RCPT TO:<ünïcode@quoted.test>'), formatReply(reply.recipientOk));
    await smtp.command('DATA');
    assert.match(await smtp.command('Subject: q\r\n\r\nq\r\n.'), /^250 /);
    for (const local of ['john doe', 'routed', 'ünïcode'])
      assert.deepEqual(await files(path.join(server.mailDir, 'quoted.test', local)), ['1']);
    smtp.close();
  });

  test('recipient limit: 452 4.5.3 past maxRecipients, the accepted ones still get the message', async () => {
    const smtp = await session();
    await smtp.command('EHLO c');
    await smtp.command('MAIL FROM:<a@many.test>');
    for (let i = 1; i <= 5; i++)
      assert.equal(await smtp.command(`RCPT TO:<r${i}@many.test>`), formatReply(reply.recipientOk));
    assert.match(await smtp.command('RCPT TO:<r6@many.test>'), /^452 4\.5\.3 /);
    await smtp.command('DATA');
    assert.match(await smtp.command('\r\nbody\r\n.'), /^250 /);
    assert.deepEqual(await readdir(path.join(server.mailDir, 'many.test')), ['r1', 'r2', 'r3', 'r4', 'r5']);
    smtp.close();
  });

  test('a message over the size limit gets 552 5.3.4, nothing is stored, and the connection stays usable', async () => {
    const smtp = await session();
    await smtp.command('EHLO c');
    await smtp.startData('a@big.test', ['b@big.test']);
    smtp.send(Buffer.from(`Subject: big\r\n\r\n${'x'.repeat(998)}\r\n`.repeat(12)));
    assert.equal(await smtp.command('.'), formatReply(reply.tooBig(10_000)));
    assert.equal(existsSync(path.join(server.mailDir, 'big.test')), false);
    // Same connection, BDAT over the limit in one chunk, then a small message that fits.
    await smtp.envelope('a@big.test', ['b@big.test']);
    smtp.send(Buffer.concat([Buffer.from('BDAT 12000 LAST\r\n'), Buffer.alloc(12000, 0x61)]));
    assert.match(await smtp.reply(), /^552 5\.3\.4 /);
    await smtp.startData('a@big.test', ['b@big.test']);
    assert.match(await smtp.command('Subject: small\r\n\r\nok\r\n.'), /^250 /);
    assert.deepEqual(await files(path.join(server.mailDir, 'big.test', 'b')), ['1']);
    assert.deepEqual(await readdir(path.join(server.mailDir, '.tmp')), []);
    smtp.close();
  });

  test('an over-long command line gets 500 5.5.2 and the next command works', async () => {
    const smtp = await session();
    smtp.send(`NOOP ${'x'.repeat(10_000)}`);
    assert.match(await smtp.reply(), /^500 5\.5\.2 Line too long/);
    assert.equal(await smtp.command('NOOP'), formatReply(reply.ok));
    smtp.close();
  });

  test('AUTH PLAIN, LOGIN and CRAM-MD5 accept any credentials; bad base64 and cancel are refused', async () => {
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    const plain = await session();
    await plain.command('EHLO c');
    assert.equal(await plain.command(`AUTH PLAIN ${b64('\0user\0secret')}`), formatReply(reply.authOk));
    assert.match(await plain.command('AUTH PLAIN'), /^503 /);
    plain.close();

    const login = await session();
    await login.command('EHLO c');
    assert.equal(await login.command('AUTH LOGIN'), formatReply(reply.authChallenge(b64('Username:'))));
    assert.equal(await login.command(b64('user')), formatReply(reply.authChallenge(b64('Password:'))));
    assert.equal(await login.command(b64('pw')), formatReply(reply.authOk));
    login.close();

    const cram = await session();
    await cram.command('EHLO c');
    assert.match(await cram.command('AUTH CRAM-MD5'), /^334 [A-Za-z0-9+/=]+$/);
    assert.equal(await cram.command(b64('user 0123456789abcdef0123456789abcdef')), formatReply(reply.authOk));
    cram.close();

    const bad = await session();
    await bad.command('EHLO c');
    assert.match(await bad.command('AUTH PLAIN'), /^334/);
    assert.equal(await bad.command('not base64!'), formatReply(reply.authBadEncoding));
    assert.match(await bad.command('AUTH LOGIN'), /^334/);
    assert.equal(await bad.command('*'), formatReply(reply.authCancelled));
    assert.match(await bad.command('AUTH XOAUTH9'), /^504 5\.5\.4 /);
    bad.close();
  });

  test('a client gone mid-DATA leaves nothing on disk', async () => {
    const smtp = await session();
    await smtp.command('EHLO c');
    await smtp.startData('a@gone.test', ['b@gone.test']);
    smtp.send(Buffer.from('Subject: half\r\n\r\nhalf a message'));
    smtp.socket.end();
    await smtp.closed;
    // A NOOP round trip on another connection: the server has processed the close by then.
    const other = await session();
    await other.command('NOOP');
    other.close();
    assert.equal(existsSync(path.join(server.mailDir, 'gone.test')), false);
    assert.deepEqual(await readdir(path.join(server.mailDir, '.tmp')), []);
  });
});

test('the Received line names the HELO name, client IP, protocol, id and recipient', async () => {
  const server = await startServer();
  try {
    const smtp = await RawSmtp.connect(server.smtpPort);
    await smtp.reply();
    await smtp.command('EHLO sender.test');
    await smtp.startData('a@trace.test', ['b@trace.test']);
    const id = /stored as (\S+)/.exec(await smtp.command('Subject: t\r\n\r\nt\r\n.'))![1];
    const stored = await readFile(path.join(server.mailDir, 'trace.test', 'b', '1'), 'utf8');
    const received = new RegExp(
      `^Return-Path: <a@trace\\.test>\\r\\nDelivered-To: b@trace\\.test\\r\\nReceived: from sender\\.test \\(\\[127\\.0\\.0\\.1\\]\\)\\r\\n\\tby \\S+ \\(test-mail-server\\) with ESMTP id ${id}\\r\\n\\tfor <b@trace\\.test>; \\w{3}, \\d{1,2} \\w{3} \\d{4} \\d\\d:\\d\\d:\\d\\d \\+0000\\r\\nSubject: t\\r\\n`,
    );
    assert.match(stored, received);
    smtp.close();
  } finally {
    await server.close();
  }
});

test('with TLS configured, HELP and EHLO offer STARTTLS', async () => {
  const server = await startServer({ tls: true });
  try {
    const smtp = await RawSmtp.connect(server.smtpPort);
    await smtp.reply();
    assert.match(await smtp.command('HELP'), / STARTTLS /);
    assert.match(await smtp.command('EHLO c'), /^250-STARTTLS$/m);
    assert.equal(await smtp.command('HELP STARTTLS'), formatReply(reply.helpSyntax('STARTTLS')));
    smtp.close();
  } finally {
    await server.close();
  }
});

test('idle connections are closed with 421 4.4.2', async () => {
  const server = await startServer({ idleTimeoutMs: 200 });
  try {
    const smtp = await RawSmtp.connect(server.smtpPort);
    await smtp.reply();
    assert.equal(await smtp.reply(), formatReply(reply.idleTimeout));
    await smtp.closed;
  } finally {
    await server.close();
  }
});

test('a failed write (folder not writable) answers 451 4.3.0, logs why, stores nothing, and the server keeps serving', async () => {
  const log: string[] = [];
  const server = await startServer({ logWriter: (line) => log.push(line) });
  try {
    const { mkdir, writeFile } = await import('node:fs/promises');
    // A file where the domain folder should be: mkdir of the mailbox folder fails (ENOTDIR), as root too.
    await mkdir(server.mailDir, { recursive: true });
    await writeFile(path.join(server.mailDir, 'blocked.test'), 'not a folder');
    const smtp = await RawSmtp.connect(server.smtpPort);
    await smtp.reply();
    await smtp.command('EHLO c');
    await smtp.startData('a@ok.test', ['x@blocked.test']);
    assert.equal(await smtp.command('Subject: fail\r\n\r\nx\r\n.'), formatReply(reply.localError));
    assert.match(
      log.join(''),
      /ERROR Storing message \S+ failed: x@blocked\.test: \S+blocked\.test is not a directory/,
    );
    await smtp.startData('a@ok.test', ['x@ok.test']);
    assert.match(await smtp.command('Subject: fine\r\n\r\nx\r\n.'), /^250 /);
    assert.deepEqual(await allFiles(path.join(server.mailDir, '.tmp')), []);
    smtp.close();
  } finally {
    await server.close();
  }
});

test('a message over the limit that had already spilled to disk still gets 552, and the connection goes on', async () => {
  const server = await startServer({ maxMessageSize: 3 * 1024 * 1024 });
  try {
    const smtp = await RawSmtp.connect(server.smtpPort);
    await smtp.reply();
    await smtp.command('EHLO c');
    await smtp.startData('a@spill.test', ['b@spill.test']);
    const line = `${'y'.repeat(998)}\r\n`;
    // 6 MiB in lines that each start with a dot (many small chunks while the temp file is behind).
    for (let i = 0; i < 6 * 1024; i++) smtp.send(Buffer.from(`.${line}`));
    assert.match(await smtp.command('.'), /^552 5\.3\.4 /);
    assert.equal(await smtp.command('NOOP'), formatReply(reply.ok));
    assert.equal(existsSync(path.join(server.mailDir, 'spill.test')), false);
    smtp.close();
  } finally {
    await server.close();
  }
});
