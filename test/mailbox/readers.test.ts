/**
 * The store's reader side against a real MAIL_DIR: other processes (Python's mailbox.MH) change
 * it while the store watches, and the store's own changes are what MH tools read.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { test } from 'node:test';
import { createLogger } from '../../src/log.js';
import { FolderError, FolderNameError } from '../../src/mailbox/errors.js';
import type { FolderRef, StoreChange } from '../../src/mailbox/reader.js';
import { MailStore } from '../../src/mailbox/store.js';
import type { Trace } from '../../src/mailbox/trace.js';
import { inboxNumbers, python, tempDir } from '../helpers.js';

const quiet = createLogger('error');
const bob: FolderRef = { mailbox: 'bob@x.test', folder: 'INBOX' };
let queueIds = 0;

async function openStore(mailDir?: string): Promise<MailStore> {
  const store = await MailStore.open(mailDir ?? (await tempDir()), quiet);
  await store.indexed;
  return store;
}

async function deliver(store: MailStore, to: string[], body = 'Subject: s\r\n\r\nbody\r\n') {
  const incoming = store.receive();
  incoming.write(Buffer.from(body));
  const trace: Trace = {
    heloName: 'c.test',
    clientAddress: '127.0.0.1',
    serverName: 'here',
    protocol: 'ESMTP',
    id: `Q${++queueIds}`,
    receivedAt: new Date(),
  };
  const recipients = to.map((address) => {
    const check = store.check(address);
    assert.ok(check.ok);
    return check.mailbox;
  });
  return store.deliver(incoming, { from: 'a@b.test', to: recipients }, trace);
}

/** The changes the store announces from now on, and a way to wait for the next that matches. */
function recordChanges(store: MailStore) {
  const seen: StoreChange[] = [];
  const waiting: Array<{ match: (change: StoreChange) => boolean; resolve: (change: StoreChange) => void }> = [];
  const watch = store.watch('all', (change) => {
    seen.push(change);
    for (const waiter of [...waiting]) {
      if (!waiter.match(change)) continue;
      waiting.splice(waiting.indexOf(waiter), 1);
      waiter.resolve(change);
    }
  });
  return {
    seen,
    snapshot: watch.snapshot,
    next(match: (change: StoreChange) => boolean): Promise<StoreChange> {
      const already = seen.find(match);
      if (already) return Promise.resolve(already);
      return new Promise((resolve) => waiting.push({ match, resolve }));
    },
    close: () => watch.close(),
  };
}

const folderOf = (store: MailStore, ref: FolderRef) =>
  path.join(store.mailDir, ref.mailbox.split('@')[1], ref.mailbox.split('@')[0]);

test('Python adding, re-flagging and removing messages while the store watches: the index and the change stream follow', async () => {
  const store = await openStore();
  try {
    await deliver(store, ['bob@x.test']);
    const changes = recordChanges(store);
    const folder = folderOf(store, bob);
    await python(
      'import mailbox,sys; m=mailbox.MH(sys.argv[1]); m.add(b"From: py@x.test\\nSubject: from python\\n\\nhi\\n")',
      [folder],
    );
    const added = await changes.next((c) => c.kind === 'added');
    assert.ok(added.kind === 'added' && added.external);
    assert.equal(added.message.number, 2);
    assert.equal((await store.summary(added.message))?.subject, 'from python');
    assert.deepEqual(inboxNumbers(store, 'bob@x.test'), [1, 2]);

    await python(
      'import mailbox,sys; m=mailbox.MH(sys.argv[1]); m.set_sequences({"unseen": [2], "flagged": [1], "work": [1, 2]})',
      [folder],
    );
    const flags = await changes.next((c) => c.kind === 'flags');
    assert.ok(flags.kind === 'flags' && flags.external);
    assert.deepEqual(store.message({ ...bob, number: 1 })?.flags, ['\\Seen', '\\Flagged', 'work']);
    assert.deepEqual(store.message({ ...bob, number: 2 })?.flags, ['work']);

    await python('import mailbox,sys; m=mailbox.MH(sys.argv[1]); m.remove(1)', [folder]);
    const expunged = await changes.next((c) => c.kind === 'expunged');
    assert.deepEqual(expunged.kind === 'expunged' && [expunged.numbers, expunged.external], [[1], true]);
    assert.deepEqual(inboxNumbers(store, 'bob@x.test'), [2]);
    changes.close();
  } finally {
    await store.close();
  }
});

test('a mailbox another tool makes appears in the index with its folder and messages', async () => {
  const store = await openStore();
  try {
    const changes = recordChanges(store);
    const folder = path.join(store.mailDir, 'new.test', 'carl');
    await python(
      'import mailbox,os,sys; os.makedirs(os.path.dirname(sys.argv[1])); mailbox.MH(sys.argv[1]).add(b"Subject: hello carl\\n\\nx\\n")',
      [folder],
    );
    const added = await changes.next((c) => c.kind === 'added');
    assert.equal(added.kind === 'added' && added.message.mailbox, 'carl@new.test');
    assert.ok(
      changes.seen.some((c) => c.kind === 'folder' && c.change === 'created' && c.folder.mailbox === 'carl@new.test'),
    );
    assert.deepEqual(store.mailboxes(), ['carl@new.test']);
    changes.close();
  } finally {
    await store.close();
  }
});

test('flags the store sets are MH sequences Python reads, and flags Python sets are IMAP flags the store reads', async () => {
  const store = await openStore();
  try {
    for (let i = 0; i < 3; i++) await deliver(store, ['bob@x.test']);
    await store.setFlags(bob, [1, 2], 'add', ['\\Seen', '\\Flagged', '$Forwarded']);
    await store.setFlags(bob, [2], 'remove', ['\\Flagged']);
    const folder = folderOf(store, bob);
    const sequences = await python(
      'import mailbox,sys,json; print(json.dumps(mailbox.MH(sys.argv[1]).get_sequences(), sort_keys=True))',
      [folder],
    );
    assert.deepEqual(JSON.parse(sequences), { $Forwarded: [1, 2], flagged: [1], unseen: [3] });
    // Python's MHMessage speaks of the same flags: R(ead) = not unseen, F(lagged), A(nswered) = replied.
    await python(
      'import mailbox,sys; m=mailbox.MH(sys.argv[1]); msg=m[3]; msg.add_sequence("replied"); msg.remove_sequence("unseen"); m[3]=msg',
      [folder],
    );
    await store.refresh();
    assert.deepEqual(store.message({ ...bob, number: 3 })?.flags, ['\\Seen', '\\Answered']);
    await assert.rejects(store.setFlags(bob, [1], 'add', ['two words']), { code: 'TMS_FLAG_NAME' });
  } finally {
    await store.close();
  }
});

test('a file written with bare LF is served with CRLF and the size that goes with it; ours byte for byte', async () => {
  const store = await openStore();
  try {
    const [ours] = await deliver(store, ['bob@x.test'], 'Subject: crlf\r\n\r\nline\r\n');
    await python('import mailbox,sys; mailbox.MH(sys.argv[1]).add(b"Subject: lf\\n\\nline one\\nline two\\n")', [
      folderOf(store, bob),
    ]);
    await store.refresh();
    const lf = { ...bob, number: 2 };
    const raw = (await store.read(lf))!;
    assert.equal(raw.toString(), 'Subject: lf\n\nline one\nline two\n');
    const served = (await store.read(lf, { crlf: true }))!;
    assert.equal(served.toString(), 'Subject: lf\r\n\r\nline one\r\nline two\r\n');
    assert.equal(await store.servedSize(lf), served.length);
    assert.equal((await store.read(lf, { crlf: true, range: { start: 15, end: 25 } }))!.toString(), 'line one\r\n');
    const ourBytes = await readFile(path.join(folderOf(store, bob), '1'));
    assert.deepEqual(await store.read(ours, { crlf: true }), ourBytes);
    assert.equal(await store.servedSize(ours), ourBytes.length);
    const chunks: Buffer[] = [];
    for await (const chunk of (await store.stream(lf, { crlf: true }))!) chunks.push(chunk as Buffer);
    assert.deepEqual(Buffer.concat(chunks), served);
  } finally {
    await store.close();
  }
});

test('a folder removed and made again gets a new UIDVALIDITY, and its numbers start afresh', async () => {
  const store = await openStore();
  try {
    await deliver(store, ['bob@x.test']);
    await store.createFolder({ mailbox: 'bob@x.test', folder: 'Sent' });
    const sent = { mailbox: 'bob@x.test', folder: 'Sent' };
    await store.append(sent, Buffer.from('Subject: a\r\n\r\nb\r\n'));
    const before = store.folder(sent)!.uidValidity;
    await rm(path.join(folderOf(store, bob), 'Sent'), { recursive: true });
    await store.refresh();
    assert.equal(store.folder(sent), undefined);
    await python('import mailbox,sys; mailbox.MH(sys.argv[1]).add_folder("Sent").add(b"Subject: again\\n\\nx\\n")', [
      folderOf(store, bob),
    ]);
    await store.refresh();
    const after = store.folder(sent)!;
    assert.ok(after.uidValidity > before, `${after.uidValidity} > ${before}`);
    assert.deepEqual(
      store.messages(sent).map((m) => m.number),
      [1],
    );

    // The same when the store's own delivery makes the INBOX again after an rm -rf.
    const inboxBefore = store.folder(bob)!.uidValidity;
    await rm(path.join(store.mailDir, 'x.test'), { recursive: true });
    const [again] = await deliver(store, ['bob@x.test']);
    assert.equal(again.number, 1);
    assert.ok(store.folder(bob)!.uidValidity > inboxBefore);
    assert.deepEqual(inboxNumbers(store, 'bob@x.test'), [1]);
  } finally {
    await store.close();
  }
});

test('another tool reusing a number the folder held (mailbox.MH.add after a removal) changes the UIDVALIDITY', async () => {
  const store = await openStore();
  try {
    for (let i = 0; i < 3; i++) await deliver(store, ['bob@x.test']);
    const before = store.folder(bob)!.uidValidity;
    const changes = recordChanges(store);
    await python('import mailbox,sys; mailbox.MH(sys.argv[1]).remove(3)', [folderOf(store, bob)]);
    await changes.next((c) => c.kind === 'expunged');
    await python('import mailbox,sys; mailbox.MH(sys.argv[1]).add(b"Subject: reused\\n\\nx\\n")', [
      folderOf(store, bob),
    ]);
    await changes.next((c) => c.kind === 'folder' && c.change === 'recreated');
    assert.ok(store.folder(bob)!.uidValidity > before);
    await changes.next((c) => c.kind === 'added' && c.message.number === 3);
    assert.equal((await store.summary({ ...bob, number: 3 }))?.subject, 'reused');
    changes.close();
  } finally {
    await store.close();
  }
});

test('folder names that try to leave the mailbox are refused, and nothing is created outside', async () => {
  const root = await tempDir();
  const mailDir = path.join(root, 'mail');
  const store = await openStore(mailDir);
  try {
    await deliver(store, ['bob@x.test']);
    const before = await readdir(root, { recursive: true });
    for (const folder of [
      '../escape',
      '../../escape',
      'a/../../b',
      '/etc',
      '.hidden',
      'a\u0000b',
      '..',
      'INBOX/x',
      '5',
      'x\u202Egnp.exe',
    ]) {
      await assert.rejects(store.createFolder({ mailbox: 'bob@x.test', folder }), FolderNameError, folder);
      await assert.rejects(store.append({ mailbox: 'bob@x.test', folder }, Buffer.from('x')), FolderNameError, folder);
    }
    await assert.rejects(store.createFolder({ mailbox: '../x@y', folder: 'Sent' }), FolderNameError);
    assert.deepEqual((await readdir(root, { recursive: true })).sort(), before.sort());
    assert.equal(existsSync(path.join(root, 'escape')), false);
  } finally {
    await store.close();
  }
});

test('folders: create (with parents), list, rename (INBOX moves its messages), delete; INBOX cannot go', async () => {
  const store = await openStore();
  try {
    await deliver(store, ['bob@x.test']);
    await store.createFolder({ mailbox: 'bob@x.test', folder: 'Lists/Work' });
    await assert.rejects(store.createFolder({ mailbox: 'bob@x.test', folder: 'Lists' }), { code: 'TMS_FOLDER_EXISTS' });
    assert.deepEqual(
      store.folders('bob@x.test').map((f) => f.folder),
      ['INBOX', 'Lists', 'Lists/Work'],
    );
    const listed = await python(
      'import mailbox,sys; m=mailbox.MH(sys.argv[1]); print(m.list_folders(), m.get_folder("Lists").list_folders())',
      [folderOf(store, bob)],
    );
    assert.equal(listed.trim(), "['Lists'] ['Work']");
    await store.renameFolder({ mailbox: 'bob@x.test', folder: 'Lists' }, 'Archive');
    assert.deepEqual(
      store.folders('bob@x.test').map((f) => f.folder),
      ['INBOX', 'Archive', 'Archive/Work'],
    );
    await store.renameFolder(bob, 'Old');
    assert.deepEqual(inboxNumbers(store, 'bob@x.test'), []);
    assert.equal(store.messages({ mailbox: 'bob@x.test', folder: 'Old' }).length, 1);
    await assert.rejects(store.deleteFolder({ mailbox: 'bob@x.test', folder: 'Archive' }), {
      code: 'TMS_FOLDER_HAS_CHILDREN',
    });
    await store.deleteFolder({ mailbox: 'bob@x.test', folder: 'Archive/Work' });
    await store.deleteFolder({ mailbox: 'bob@x.test', folder: 'Archive' });
    await assert.rejects(
      store.deleteFolder(bob),
      (error: unknown) => error instanceof FolderError && error.code === 'TMS_INBOX',
    );
    assert.deepEqual(
      store.folders('bob@x.test').map((f) => f.folder),
      ['INBOX', 'Old'],
    );
  } finally {
    await store.close();
  }
});

test('append keeps the flags and the date given; copy keeps flags and date; move removes the original; expunge removes only \\Deleted', async () => {
  const store = await openStore();
  try {
    const when = new Date('2020-02-02T10:00:00Z');
    const appended = await store.append(bob, Buffer.from('Subject: draft\r\n\r\nx\r\n'), {
      flags: ['\\Seen', '\\Draft'],
      receivedAt: when,
    });
    assert.deepEqual([appended.number, appended.flags, appended.receivedAt], [1, ['\\Seen', '\\Draft'], when]);
    await deliver(store, ['bob@x.test']);
    const archive = { mailbox: 'bob@x.test', folder: 'Archive' };
    await store.createFolder(archive);
    assert.deepEqual(await store.copy(bob, [1, 2], archive), [1, 2]);
    assert.deepEqual(
      store.messages(archive).map((m) => [m.number, m.flags, m.receivedAt.getTime() === when.getTime()]),
      [
        [1, ['\\Seen', '\\Draft'], true],
        [2, [], false],
      ],
    );
    assert.deepEqual(await store.move(archive, [2], bob), [3]);
    assert.deepEqual(
      store.messages(archive).map((m) => m.number),
      [1],
    );
    await store.setFlags(bob, [1, 3], 'add', ['\\Deleted']);
    assert.deepEqual(await store.expunge(bob, [3, 2]), [3]);
    assert.deepEqual(await store.expunge(bob), [1]);
    assert.deepEqual(inboxNumbers(store, 'bob@x.test'), [2]);
    assert.deepEqual(await store.remove(bob, [2, 99]), [2]);
    // The next store reads the same dates and flags back from the files.
    await store.close();
    const again = await openStore(store.mailDir);
    try {
      const copy = again.message({ ...archive, number: 1 })!;
      assert.deepEqual([copy.flags, copy.receivedAt.getTime()], [['\\Seen', '\\Draft'], when.getTime()]);
    } finally {
      await again.close();
    }
  } finally {
    await store.close();
  }
});

test('a watch gives the messages stored before it and every one after, none twice, while deliveries run', async () => {
  const store = await openStore();
  try {
    const deliveries: Array<Promise<unknown>> = [];
    for (let i = 0; i < 40; i++) deliveries.push(deliver(store, ['bob@x.test']));
    // Opened in the middle of the burst.
    await deliveries[10];
    const seen: number[] = [];
    const watch = store.watch(bob, (change) => {
      if (change.kind === 'added') seen.push(change.message.number);
    });
    await Promise.all(deliveries);
    const all = [...watch.snapshot.map((m) => m.number), ...seen].sort((a, b) => a - b);
    assert.deepEqual(
      all,
      Array.from({ length: 40 }, (_, i) => i + 1),
    );
    watch.close();
  } finally {
    await store.close();
  }
});

test('a store over a MAIL_DIR written by an earlier run indexes it all, with summaries and trace envelopes', async () => {
  const mailDir = await tempDir();
  const first = await openStore(mailDir);
  await deliver(
    first,
    ['ann@x.test', 'bob@x.test'],
    'From: Ann <ann@x.test>\r\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\nMessage-ID: <m1@x>\r\n\r\nHello   there\r\n',
  );
  await first.close();
  await mkdir(path.join(mailDir, 'x.test', 'dave'));
  await writeFile(path.join(mailDir, 'x.test', 'dave', '1'), 'Subject: by hand\n\nbody\n');
  const second = await openStore(mailDir);
  try {
    assert.deepEqual(second.mailboxes(), ['ann@x.test', 'bob@x.test', 'dave@x.test']);
    const [ann] = second.messages({ mailbox: 'ann@x.test', folder: 'INBOX' });
    assert.deepEqual(ann.envelope, { from: 'a@b.test', to: ['ann@x.test', 'bob@x.test'] });
    assert.equal(second.transaction(ann.transaction!).length, 2);
    const summary = ann.summary!;
    assert.deepEqual(
      [summary.subject, summary.messageId, summary.snippet, summary.from],
      ['Grüße', 'm1@x', 'Hello there', { name: 'Ann', address: 'ann@x.test' }],
    );
    const [dave] = second.messages({ mailbox: 'dave@x.test', folder: 'INBOX' });
    assert.deepEqual(
      [dave.transaction, dave.envelope, dave.summary?.subject],
      [undefined, { from: '', to: ['dave@x.test'] }, 'by hand'],
    );
  } finally {
    await second.close();
  }
});

test('the first scan finds folders out of arrival order, and the index lists every message in arrival order', async () => {
  const mailDir = await tempDir();
  const start = Date.parse('2026-01-01T00:00:00Z');
  // ann's messages arrived at 0, 2, 4 s, bob's at 1, 3, 5 s: read folder by folder, they interleave.
  for (const [box, user] of ['ann', 'bob'].entries()) {
    const folder = path.join(mailDir, 'x.test', user);
    await mkdir(folder, { recursive: true });
    for (const n of [1, 2, 3]) {
      const file = path.join(folder, String(n));
      await writeFile(file, `Subject: ${user} ${n}\n\nbody\n`);
      const at = new Date(start + ((n - 1) * 2 + box) * 1000);
      await utimes(file, at, at);
    }
  }
  const store = await openStore(mailDir);
  try {
    await store.indexed;
    assert.deepEqual(
      store.allMessages().map(({ mailbox, number }) => `${mailbox.split('@')[0]} ${number}`),
      ['ann 1', 'bob 1', 'ann 2', 'bob 2', 'ann 3', 'bob 3'],
    );
    // A removal keeps the rest in order.
    await store.remove({ mailbox: 'ann@x.test', folder: 'INBOX' }, [2]);
    assert.deepEqual(
      store.allMessages().map(({ receivedAt }) => (receivedAt.getTime() - start) / 1000),
      [0, 1, 3, 4, 5],
    );
  } finally {
    await store.close();
  }
});

test('a watch opened while the first scan runs hears of no stored message as added, only of what comes after', async () => {
  const mailDir = await tempDir();
  for (let box = 0; box < 300; box++) {
    const folder = path.join(mailDir, 'x.test', `user${box}`);
    await mkdir(folder, { recursive: true });
    for (const n of [1, 2, 3]) await writeFile(path.join(folder, String(n)), `Subject: old ${box}/${n}\n\nbody\n`);
  }
  // Not openStore: that waits for the first scan, and this watch must begin during it.
  const store = await MailStore.open(mailDir, quiet);
  const added: string[] = [];
  let late: () => void;
  const lateSeen = new Promise<void>((resolve) => (late = resolve));
  const watch = store.watch('all', (change) => {
    if (change.kind !== 'added') return;
    added.push(change.message.mailbox);
    if (change.message.mailbox === 'late@x.test') late();
  });
  try {
    assert.equal(watch.complete, false, 'begun while the first scan runs');
    await store.indexed;
    assert.equal(store.allMessages().length, 900);
    const after = store.watch('all', () => {});
    assert.deepEqual([after.complete, after.snapshot.length], [true, 900]);
    after.close();
    // Written once the index is complete: the one message a watcher may hear of.
    await mkdir(path.join(mailDir, 'x.test', 'late'));
    await writeFile(path.join(mailDir, 'x.test', 'late', '1'), 'Subject: new\n\nbody\n');
    await lateSeen;
    assert.deepEqual(added, ['late@x.test']);
  } finally {
    watch.close();
    await store.close();
  }
});

test('messages the index keeps alike (the same flags, sender and envelope) stay independent when one of them changes', async () => {
  const mailDir = await tempDir();
  const first = await openStore(mailDir);
  const body = 'From: Ann <ann@x.test>\r\nDate: Tue, 01 Dec 2026 10:00:00 +0000\r\nSubject: s\r\n\r\nbody\r\n';
  for (let i = 0; i < 3; i++) await deliver(first, ['bob@x.test'], body);
  await first.close();
  // Read back from the files, as a restart does: the copies are alike in every kept field.
  const second = await openStore(mailDir);
  try {
    await second.setFlags(bob, [2], 'add', ['\\Flagged', '\\Seen']);
    const messages = second.messages(bob);
    assert.deepEqual(
      messages.map((m) => m.flags),
      [[], ['\\Seen', '\\Flagged'], []],
    );
    await second.setFlags(bob, [1], 'add', ['work']);
    assert.deepEqual(
      second.messages(bob).map((m) => m.flags),
      [['work'], ['\\Seen', '\\Flagged'], []],
    );
    for (const message of messages) {
      assert.deepEqual(message.summary?.from, { name: 'Ann', address: 'ann@x.test' });
      assert.deepEqual(message.envelope, { from: 'a@b.test', to: ['bob@x.test'] });
      assert.equal(message.summary?.date?.toISOString(), '2026-12-01T10:00:00.000Z');
      assert.equal(message.receivedAt.getTime(), message.receivedMs);
    }
  } finally {
    await second.close();
  }
});
