import assert from 'node:assert/strict';
import { existsSync, readlinkSync } from 'node:fs';
import { mkdir, readdir, readFile, utimes, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { test } from 'node:test';
import type { Worker } from 'node:worker_threads';
import type { IndexedMessage } from '../../src/mailbox/reader.js';
import { MailStore } from '../../src/mailbox/store.js';
import { addRange, formatSequences, parseSequences, removeNumbers } from '../../src/mailbox/sequences.js';
import { python, RawSmtp, startServer, tempDir, inboxNumbers } from '../helpers.js';
import { deliver, PythonLock, quiet, recipient, trace, WatchedLog } from './support.js';

test('sequences: ranges parse, merge and print as nmh and mailbox.MH write them', () => {
  const parsed = parseSequences('unseen: 1-3 5 7-8\ncur: 4\nflagged: 9\n  10-11\n');
  assert.deepEqual(parsed.get('unseen'), [
    [1, 3],
    [5, 5],
    [7, 8],
  ]);
  assert.deepEqual(parsed.get('flagged'), [[9, 11]]);
  parsed.set('unseen', addRange(parsed.get('unseen')!, 4, 4));
  assert.deepEqual(parsed.get('unseen'), [
    [1, 5],
    [7, 8],
  ]);
  assert.deepEqual(addRange([[1, 2]], 3, 3), [[1, 3]]);
  assert.deepEqual(addRange([[5, 6]], 1, 1), [
    [1, 1],
    [5, 6],
  ]);
  assert.equal(formatSequences(parsed), 'unseen: 1-5 7-8\ncur: 4\nflagged: 9-11\n');
  assert.deepEqual(
    removeNumbers(
      [
        [1, 10],
        [12, 12],
      ],
      [10, 3, 4, 12, 40],
    ),
    [
      [1, 2],
      [5, 9],
    ],
  );
});

test('messages are numbered 1, 2, 3 and join unseen; mailbox.MH reads keys and sequences', async () => {
  const store = await MailStore.open(await tempDir(), quiet);
  const delivered: IndexedMessage[] = [];
  store.on('change', (change) => change.kind === 'added' && delivered.push(change.message));
  await deliver(store, ['bob@Doh.Hi.Gov']);
  await deliver(store, ['bob@doh.hi.gov', 'ann@doh.hi.gov']);
  await deliver(store, ['bob@doh.hi.gov']);
  assert.deepEqual(
    delivered.map((m) => `${m.mailbox}/${m.number}`),
    ['bob@doh.hi.gov/1', 'bob@doh.hi.gov/2', 'ann@doh.hi.gov/1', 'bob@doh.hi.gov/3'],
  );
  assert.deepEqual(delivered[1].envelope, { from: 'a@b.test', to: ['bob@doh.hi.gov', 'ann@doh.hi.gov'] });
  assert.deepEqual(store.mailboxes(), ['ann@doh.hi.gov', 'bob@doh.hi.gov']);
  const folder = path.join(store.mailDir, 'doh.hi.gov', 'bob');
  const out = await python(
    'import mailbox,sys; m=mailbox.MH(sys.argv[1], create=False); print(sorted(m.keys()), m.get_sequences(), m[2]["Subject"], m[2]["Delivered-To"])',
    [folder],
  );
  assert.equal(out.trim(), "[1, 2, 3] {'unseen': [1, 2, 3]} s bob@doh.hi.gov");
});

test('numbers are never reused: deleting the highest message does not free its number', async () => {
  const store = await MailStore.open(await tempDir(), quiet);
  for (let i = 0; i < 3; i++) await deliver(store, ['bob@x.test']);
  await store.remove({ mailbox: 'bob@x.test', folder: 'INBOX' }, [2, 3]);
  assert.deepEqual(inboxNumbers(store, 'bob@x.test'), [1]);
  const [next] = await deliver(store, ['bob@x.test']);
  assert.equal(next.number, 4);
  const sequences = await readFile(path.join(store.mailDir, 'x.test', 'bob', '.mh_sequences'), 'utf8');
  assert.equal(sequences, 'unseen: 1 4\n');
  await store.removeAll();
  assert.deepEqual(inboxNumbers(store, 'bob@x.test'), []);
  assert.equal((await deliver(store, ['bob@x.test']))[0].number, 5);
});

test('a folder written by another tool (no high-water mark) continues after its highest message', async () => {
  const mailDir = await tempDir();
  const folder = path.join(mailDir, 'example.com', 'ben');
  await mkdir(folder, { recursive: true });
  for (const n of [1, 2, 7]) await writeFile(path.join(folder, String(n)), 'Subject: old\n\nold\n');
  const store = await MailStore.open(mailDir, quiet);
  assert.equal((await deliver(store, ['ben@example.com']))[0].number, 8);
});

test('a message added meanwhile by mailbox.MH.add is skipped over, not overwritten', async () => {
  const store = await MailStore.open(await tempDir(), quiet);
  await deliver(store, ['bob@x.test']);
  const folder = path.join(store.mailDir, 'x.test', 'bob');
  await python(
    'import mailbox,sys; m=mailbox.MH(sys.argv[1]); m.add("Subject: from python\\n\\nhi\\n"); m.add("Subject: again\\n\\nhi\\n")',
    [folder],
  );
  const [stored] = await deliver(store, ['bob@x.test']);
  assert.equal(stored.number, 4);
  assert.match(await readFile(path.join(folder, '2'), 'utf8'), /from python/);
});

test('delivery waits while mailbox.MH.lock() holds the folder, then goes on after what Python added under it', async () => {
  const watched = new WatchedLog('debug');
  const store = await MailStore.open(await tempDir(), watched.log);
  await deliver(store, ['bob@x.test']);
  const folder = path.join(store.mailDir, 'x.test', 'bob');
  const python = await PythonLock.hold([folder]);
  try {
    const pending = deliver(store, ['bob@x.test']);
    // Either the store finds the lock taken and says so, or (the lock ignored) the delivery is done first.
    const first = await Promise.race([
      watched.line(/bob\/\.mh_sequences\.lock is held by another process/).then(() => 'waiting'),
      pending.then(() => 'delivered'),
    ]);
    assert.equal(first, 'waiting', 'delivery must wait for the lock');
    // Python adds message 2 while it still holds the lock, then releases: ours can only come after.
    assert.equal(await python.add(), 2);
    await python.unlock();
    const [stored] = await pending;
    assert.equal(stored.number, 3);
  } finally {
    await python.close();
    await store.close();
  }
});

test('a lock naming a process that is gone is broken at once', async () => {
  const store = await MailStore.open(await tempDir(), quiet);
  await deliver(store, ['bob@x.test']);
  const lock = path.join(store.mailDir, 'x.test', 'bob', '.mh_sequences.lock');
  await writeFile(lock, '2147483646\n');
  assert.equal((await deliver(store, ['bob@x.test']))[0].number, 2);
  assert.equal(existsSync(lock), false);
});

test('the dot-lock is our lock token (named by pid and store id, holding the pid) linked in, and nothing is left once delivery is done', async () => {
  const store = await MailStore.open(await tempDir(), quiet);
  await deliver(store, ['bob@x.test']);
  const [token, ...others] = await readdir(path.join(store.mailDir, '.locks'));
  assert.deepEqual(others, []);
  assert.match(token, new RegExp(`^${process.pid}-[0-9a-f]{8}$`));
  assert.equal(await readFile(path.join(store.mailDir, '.locks', token), 'utf8'), `${process.pid}\n`);
  assert.deepEqual((await readdir(path.join(store.mailDir, 'x.test', 'bob'))).sort(), [
    '.mh_highwater',
    '.mh_sequences',
    '.mh_uidvalidity',
    '1',
  ]);
  await store.close();
});

test('a stale lock left by a crashed process (an old, empty one, as Python makes) is broken', async () => {
  const store = await MailStore.open(await tempDir(), quiet);
  await deliver(store, ['bob@x.test']);
  const lock = path.join(store.mailDir, 'x.test', 'bob', '.mh_sequences.lock');
  await writeFile(lock, '');
  const old = new Date(Date.now() - 60_000);
  await utimes(lock, old, old);
  assert.equal((await deliver(store, ['bob@x.test']))[0].number, 2);
  assert.equal(existsSync(lock), false);
});

test('temp files of crashed processes are removed at start; those of running ones are kept', async () => {
  const mailDir = await tempDir();
  const tmp = path.join(mailDir, '.tmp');
  await mkdir(tmp, { recursive: true });
  // PID 2147483646 is not running; our parent (the test runner) is.
  await writeFile(path.join(tmp, '2147483646-1'), 'half a message');
  await writeFile(path.join(tmp, `${process.ppid}-1`), 'in flight elsewhere');
  await MailStore.open(mailDir, quiet);
  assert.deepEqual(await readdir(tmp), [`${process.ppid}-1`]);
});

test('close() lets deliveries in flight finish, then ends the delivery thread with none of its files left open nor its lock token left', async () => {
  const store = await MailStore.open(await tempDir(), quiet);
  await deliver(store, ['bob@x.test']);
  const inFlight = deliver(store, ['bob@x.test', 'ann@x.test']);
  await store.close();
  assert.deepEqual(
    (await inFlight).map((m) => `${m.mailbox}/${m.number}`),
    ['bob@x.test/2', 'ann@x.test/1'],
  );
  assert.deepEqual(await readdir(path.join(store.mailDir, '.locks')), []);
  const openInMailDir = (await readdir('/proc/self/fd')).filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`).startsWith(store.mailDir);
    } catch {
      return false; // the descriptor readdir itself used, closed meanwhile
    }
  });
  assert.deepEqual(openInMailDir, []);
  await assert.rejects(deliver(store, ['bob@x.test']), /closed/);
});

test('two stores of one process on one MAIL_DIR: when one closes, the other still delivers and locks', async () => {
  const mailDir = await tempDir();
  const first = await MailStore.open(mailDir, quiet);
  const firstTokens = await readdir(path.join(mailDir, '.locks'));
  const second = await MailStore.open(mailDir, quiet);
  await deliver(first, ['bob@x.test']);
  await first.close();
  assert.equal((await deliver(second, ['bob@x.test']))[0].number, 2);
  const secondTokens = await readdir(path.join(mailDir, '.locks'));
  assert.equal(secondTokens.length, 1);
  assert.notDeepEqual(secondTokens, firstTokens, 'each store has a token of its own');
  await second.close();
  assert.deepEqual(await readdir(path.join(mailDir, '.locks')), []);
});

test('a delivery thread that dies fails the deliveries it held (nothing stored); the next delivery starts a new one', async () => {
  const store = await MailStore.open(await tempDir(), quiet);
  await deliver(store, ['bob@x.test']);
  const { worker } = (store as unknown as { deliveryThread: { thread: { worker: Worker } } }).deliveryThread.thread;
  const stopped = worker.terminate();
  // Posted to the thread before it is gone: its exit must fail this delivery, not leave it hanging.
  await assert.rejects(deliver(store, ['bob@x.test']), /delivery thread/);
  await stopped;
  const [next] = await deliver(store, ['bob@x.test']);
  assert.equal(next.number, 2);
  assert.deepEqual(inboxNumbers(store, 'bob@x.test'), [1, 2]);
  await store.close();
});

test('the descriptors kept for .mh_highwater and .mh_sequences stay few (32 per thread), however many folders get mail', async () => {
  const store = await MailStore.open(await tempDir(), quiet);
  try {
    await deliver(
      store,
      Array.from({ length: 100 }, (_, i) => `r${i}@x.test`),
    );
    const openInMailDir = (await readdir('/proc/self/fd')).filter((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`).startsWith(store.mailDir);
      } catch {
        return false; // the descriptor readdir itself used, closed meanwhile
      }
    });
    assert.ok(openInMailDir.length <= 32, `${openInMailDir.length} descriptors open in MAIL_DIR`);
  } finally {
    await store.close();
  }
});

test('large bodies stream through a temp file and arrive intact for every recipient', async () => {
  const store = await MailStore.open(await tempDir(), quiet);
  const incoming = store.receive();
  const chunk = Buffer.alloc(256 * 1024, 0x41);
  for (let i = 0; i < 12; i++) incoming.write(chunk);
  const stored = await store.deliver(
    incoming,
    { from: 'a@b.test', to: [recipient(store, 'one@big.test'), recipient(store, 'two@big.test')] },
    trace,
  );
  for (const message of stored) {
    const bytes = (await store.read(message))!;
    assert.equal(bytes.length, message.size);
    assert.ok(bytes.subarray(bytes.length - 12 * chunk.length).equals(Buffer.concat(Array(12).fill(chunk))));
  }
  assert.deepEqual(await readdir(path.join(store.mailDir, '.tmp')), []);
});

test('addresses: domain lowercased, local part kept; unsafe names refused with a reason', async () => {
  const store = await MailStore.open(await tempDir(), quiet);
  assert.deepEqual(store.check('Bob.Smith@Example.COM'), {
    ok: true,
    mailbox: { address: 'Bob.Smith@example.com', local: 'Bob.Smith', domain: 'example.com' },
  });
  for (const [address, reason] of [
    ['@x.test', /empty local part/],
    ['a@', /empty domain/],
    ['..@x.test', /not a folder name/],
    ['a@..', /not a folder name/],
    ['a/b@x.test', /contains/],
    ['a@x\\y', /contains/],
    ['a\u0000@x.test', /contains/],
    [`${'a'.repeat(256)}@x.test`, /longer than 255 bytes/],
    ['a@.tmp', /starts with a dot/],
    ['bob\u202E@x.test', /local part contains U\+202E, an invisible, bidirectional or replacement character/],
    ['a@x\uFEFF.test', /domain contains U\+FEFF/],
    ...['\u200E', '\u200F', '\u202A', '\u2066', '\u2069', '\u200B', '\u200D', '\u2060', '\u00AD', '\u0085'].map(
      (c) => [`a${c}b@x.test`, /an invisible, bidirectional or replacement character/] as const,
    ),
    ['a\uD800@x.test', /contains U\+D800/],
    ['a\uFFFD@x.test', /contains U\+FFFD/],
  ] as const) {
    const check = store.check(address);
    assert.ok(!check.ok && reason.test(check.reason), `${address}: ${JSON.stringify(check)}`);
  }
});

test('over SMTP, a recipient with a bidi control or with bytes that are not UTF-8 is refused at RCPT with 553 and why', async () => {
  const server = await startServer();
  try {
    const smtp = await RawSmtp.connect(server.smtpPort);
    await smtp.reply();
    await smtp.command('EHLO c.test');
    assert.match(await smtp.command('MAIL FROM:<a@b.test> SMTPUTF8'), /^250 /);
    assert.match(await smtp.command('RCPT TO:<moc.\u202Eevil@x.test>'), /^553 5\.1\.3 .*U\+202E/);
    // Bytes that are not UTF-8 never reach the store: the SMTP session refuses the line itself.
    smtp.send(Buffer.concat([Buffer.from('RCPT TO:<bad'), Buffer.from([0xff, 0xfe]), Buffer.from('@x.test>\r\n')]));
    assert.match(await smtp.reply(), /^553 5\.1\.3 .*not valid UTF-8/);
    smtp.close();
  } finally {
    await server.close();
  }
});

test('a folder removed while the server runs is made again, and its numbering starts a new life', async () => {
  const store = await MailStore.open(await tempDir(), quiet);
  await deliver(store, ['bob@x.test']);
  await deliver(store, ['bob@x.test']);
  const { rm } = await import('node:fs/promises');
  await rm(path.join(store.mailDir, 'x.test'), { recursive: true });
  const [stored] = await deliver(store, ['bob@x.test']);
  assert.equal(stored.number, 1);
  assert.deepEqual(inboxNumbers(store, 'bob@x.test'), [1]);
});

test('when one recipient cannot be stored, nothing is: the copy that landed is removed again, its number burned, and none is announced', async () => {
  const store = await MailStore.open(await tempDir(), quiet);
  await deliver(store, ['ok@x.test']);
  // A file where a domain folder should be: that recipient's folder cannot be made.
  await writeFile(path.join(store.mailDir, 'blocked.test'), 'not a folder');
  const announced: string[] = [];
  store.on('change', (change) => {
    if (change.kind === 'added') announced.push(`${change.message.mailbox}/${change.message.number}`);
  });
  await assert.rejects(deliver(store, ['ok@x.test', 'y@blocked.test']), {
    code: 'TMS_DELIVERY_FAILED',
    message:
      /^y@blocked\.test: .*blocked\.test is not a directory; the 1 copy stored for other recipients removed again$/,
  });
  assert.deepEqual(announced, []);
  assert.deepEqual(inboxNumbers(store, 'ok@x.test'), [1]);
  const folder = path.join(store.mailDir, 'x.test', 'ok');
  assert.equal(await readFile(path.join(folder, '.mh_sequences'), 'utf8'), 'unseen: 1\n');
  assert.deepEqual(await readdir(path.join(store.mailDir, '.tmp')), []);
  assert.equal((await deliver(store, ['ok@x.test']))[0].number, 3, 'number 2 was given out once, and is burned');
  await store.close();
});

test('sequences changed by mailbox.MH between deliveries are kept; a .mh_sequences deleted meanwhile is made anew', async () => {
  const store = await MailStore.open(await tempDir(), quiet);
  await deliver(store, ['bob@x.test']);
  await deliver(store, ['bob@x.test']);
  const folder = path.join(store.mailDir, 'x.test', 'bob');
  const sequencesFile = path.join(folder, '.mh_sequences');
  // The user reads message 1 and flags message 2 with Python, as a mail client would.
  await python('import mailbox,sys; m=mailbox.MH(sys.argv[1]); m.set_sequences({"unseen": [2], "flagged": [2]})', [
    folder,
  ]);
  await deliver(store, ['bob@x.test']);
  assert.equal(await readFile(sequencesFile, 'utf8'), 'unseen: 2-3\nflagged: 2\n');
  const { rm } = await import('node:fs/promises');
  await rm(sequencesFile);
  await deliver(store, ['bob@x.test']);
  assert.equal(await readFile(sequencesFile, 'utf8'), 'unseen: 4\n');
  await store.close();
});
