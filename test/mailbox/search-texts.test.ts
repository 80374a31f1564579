/**
 * The store's search texts live in a file of their own under MAIL_DIR/.tmp, not on the heap: they
 * are appended there, found there in bulk, dropped from it when their messages go, and the file
 * goes with the store (or with the next start, after a crash).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { test } from 'node:test';
import type { MessageSummary } from '../../src/mailbox/reader.js';
import { SummaryKeeper } from '../../src/mailbox/kept-summary.js';
import { chunkBytes, encodeSearchTexts, SearchTexts } from '../../src/mailbox/search-texts.js';
import { MailStore } from '../../src/mailbox/store.js';
import { cleanString, summarize } from '../../src/mailbox/summary.js';
import { CliProcess, tempDir } from '../helpers.js';
import { deliver, quiet } from './support.js';

const inbox = { mailbox: 'bob@x.test', folder: 'INBOX' };

function message(subject: string, body: string): string {
  return `From: Ann <ann@x.test>\r\nTo: bob@x.test\r\nSubject: ${subject}\r\n\r\n${body}\r\n`;
}

/** Delivers each message to bob and summarizes it, as a list or a search does. */
async function stored(store: MailStore, messages: readonly string[]): Promise<MessageSummary[]> {
  const summaries: MessageSummary[] = [];
  for (const text of messages) {
    const [copy] = await deliver(store, ['bob@x.test'], text);
    summaries.push((await store.summary(copy))!);
  }
  return summaries;
}

async function tempFiles(mailDir: string): Promise<string[]> {
  return readdir(path.join(mailDir, '.tmp'));
}

/** The one file in .tmp (the search texts, once something was summarized), read whole. */
async function textFile(mailDir: string): Promise<string> {
  const files = await tempFiles(mailDir);
  assert.equal(files.length, 1, `one file in .tmp: ${files.join(', ')}`);
  // The pid and store id first, as start-up cleanup wants them, then what it is.
  assert.match(files[0], /^\d+-[0-9a-f]{8}-search-texts-\d+$/);
  return readFile(path.join(mailDir, '.tmp', files[0]), 'utf8');
}

/** Which of `summaries` hold `word`, by their index. */
function holding(store: MailStore, summaries: readonly MessageSummary[], word: string): number[] {
  const value = cleanString(word);
  const matches = store.textMatcher([value]);
  return summaries.flatMap((summary, i) => (matches(summary, value) ? [i] : []));
}

test('snippets and search texts are appended to a file in MAIL_DIR/.tmp, a line each, and found there', async () => {
  const store = await MailStore.open(await tempDir(), quiet);
  try {
    const summaries = await stored(store, [message('Apples', 'red fruit'), message('Pears', 'green fruit')]);
    assert.deepEqual((await textFile(store.mailDir)).split('\n'), [
      'red fruit',
      'ann ann@x.test bob@x.test a@b.test apples red fruit',
      'green fruit',
      'ann ann@x.test bob@x.test a@b.test pears green fruit',
      '',
    ]);
    assert.deepEqual(holding(store, summaries, 'GREEN'), [1]);
    assert.deepEqual(holding(store, summaries, 'fruit'), [0, 1]);
    assert.deepEqual(holding(store, summaries, 'fruit bob'), []);
  } finally {
    await store.close();
  }
});

test('a removed message no longer matches, and the file is rewritten without its text', async () => {
  const store = await MailStore.open(await tempDir(), quiet);
  try {
    const [long, short] = await stored(store, [message('Long', 'word '.repeat(1000)), message('Short', 'word')]);
    await store.remove(inbox, [1]);
    assert.deepEqual(holding(store, [long, short], 'word'), [1]);
    assert.equal(await textFile(store.mailDir), 'word\nann ann@x.test bob@x.test a@b.test short word\n');
  } finally {
    await store.close();
  }
});

test('snippets are read from the file, the same after it is rewritten without a removed message', async () => {
  const store = await MailStore.open(await tempDir(), quiet);
  try {
    const longText = message('Long', `Grüße ${'word '.repeat(100)}`);
    const [gone, long, short] = await stored(store, [
      message('Gone', 'x '.repeat(5000)),
      longText,
      message('Short', 'one\r\n  two'),
    ]);
    const longSnippet = summarize(Buffer.from(longText)).summary.snippet;
    assert.ok(longSnippet.startsWith('Grüße word') && longSnippet.endsWith('word...'));
    assert.deepEqual([long.snippet, short.snippet], [longSnippet, 'one two']);
    await store.remove(inbox, [1]);
    // A search sweeps the file: the removed message's records outweigh the rest, so it is rewritten.
    assert.deepEqual(holding(store, [gone, long, short], 'two'), [2]);
    assert.doesNotMatch(await textFile(store.mailDir), /x x/);
    assert.deepEqual([long.snippet, short.snippet], [longSnippet, 'one two']);
  } finally {
    await store.close();
  }
});

test('a message whose text holds multi-byte characters matches case-insensitively', async () => {
  const store = await MailStore.open(await tempDir(), quiet);
  try {
    const body =
      'Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nGrüße aus KÖLN, Ærø und Σίσυφος';
    const summaries = await stored(store, [
      `Subject: =?UTF-8?B?${Buffer.from('Straße').toString('base64')}?=\r\n${body}`,
    ]);
    assert.deepEqual(holding(store, summaries, 'köln'), [0]);
    assert.deepEqual(holding(store, summaries, 'ÆRØ'), [0]);
    assert.deepEqual(holding(store, summaries, 'ΣΊΣΥΦΟΣ'), [0]);
    assert.deepEqual(holding(store, summaries, 'STRASSE'), []);
    assert.deepEqual(holding(store, summaries, 'straße'), [0]);
    assert.deepEqual(holding(store, summaries, 'grusse'), []);
  } finally {
    await store.close();
  }
});

test('the file is removed when the store closes', async () => {
  const store = await MailStore.open(await tempDir(), quiet);
  await stored(store, [message('Hello', 'there')]);
  assert.equal((await tempFiles(store.mailDir)).length, 1);
  await store.close();
  assert.deepEqual(await tempFiles(store.mailDir), []);
});

test('the file a killed server left is removed when the next store starts', async () => {
  const mailDir = await tempDir();
  await mkdir(path.join(mailDir, 'x.test', 'bob'), { recursive: true });
  await writeFile(path.join(mailDir, 'x.test', 'bob', '1'), message('Left', 'behind'));
  const { cli } = await CliProcess.listening(mailDir);
  try {
    await cli.waitForLog(/Indexed 1 messages/);
  } finally {
    cli.child.kill('SIGKILL');
  }
  await cli.exited;
  assert.equal(await textFile(mailDir), 'behind\nann ann@x.test bob@x.test left behind\n');
  const store = await MailStore.open(mailDir, quiet);
  try {
    assert.deepEqual(await tempFiles(mailDir), []);
  } finally {
    await store.close();
  }
});

/** SearchTexts over a directory of its own, with the summaries a test says are live. */
function textsIn(dir: string, live: Set<MessageSummary>): SearchTexts {
  let count = 0;
  return new SearchTexts({
    createTemp: () => {
      const file = path.join(dir, String(++count));
      return { file, fd: fs.openSync(file, 'wx') };
    },
    forEachLive: (visit) => live.forEach(visit),
    log: quiet,
  });
}

const someSummary = (): MessageSummary => ({
  from: undefined,
  to: [],
  cc: [],
  bcc: [],
  replyTo: [],
  subject: '',
  date: undefined,
  messageId: '',
  attachments: 0,
  inline: 0,
  snippet: '',
  textRecord: { position: -1, generation: 0 },
});

test('a word across two chunks of the read is found, in the record that holds it', async () => {
  const [first, second, third] = [someSummary(), someSummary(), someSummary()];
  const texts = textsIn(await tempDir(), new Set([first, second, third]));
  const { records } = encodeSearchTexts([
    { snippet: '', text: 'a'.repeat(1000) },
    // Its text starts at byte 1002; "needle" runs over the end of the first chunk.
    { snippet: '', text: `${'b'.repeat(chunkBytes - 1003 - 3)}needle b` },
    { snippet: 'Needle', text: 'c needle' },
  ]);
  texts.add([first, second, third].map((summary, i) => ({ summary, searchText: records[i] })));
  const matches = texts.matcher(['needle', 'a b']);
  assert.deepEqual(
    [first, second, third].map((summary) => matches(summary, 'needle')),
    [false, true, true],
  );
  assert.deepEqual(
    [first, second, third].map((summary) => matches(summary, 'a b')),
    [false, false, false],
  );
  texts.close();
});

test('a summary added after a matcher was made is looked at on its own', async () => {
  const [early, late] = [someSummary(), someSummary()];
  const texts = textsIn(await tempDir(), new Set([early, late]));
  const encoded = (text: string) => encodeSearchTexts([{ snippet: text, text }]).records[0];
  texts.add([{ summary: early, searchText: encoded('early word') }]);
  const matches = texts.matcher(['word']);
  texts.add([{ summary: late, searchText: encoded('late word') }]);
  assert.deepEqual([matches(early, 'word'), matches(late, 'word'), matches(late, 'late')], [true, true, true]);
  texts.close();
});

test('records of different buffers added together are each found where they were put', async () => {
  const [one, two, three] = [someSummary(), someSummary(), someSummary()];
  const texts = textsIn(await tempDir(), new Set([one, two, three]));
  const [a, b] = [
    encodeSearchTexts([
      { snippet: 'One', text: 'one red' },
      { snippet: 'Two', text: 'two blue' },
    ]).records,
    encodeSearchTexts([{ snippet: 'Three', text: 'three red' }]).records,
  ];
  // Not one after the other in one buffer: the second of the first batch is left out.
  texts.add([
    { summary: one, searchText: a[0] },
    { summary: three, searchText: b[0] },
  ]);
  const matches = texts.matcher(['red', 'blue', 'three']);
  assert.deepEqual(
    [one, three].map((summary) => [matches(summary, 'red'), matches(summary, 'blue'), matches(summary, 'three')]),
    [
      [true, false, false],
      [true, false, true],
    ],
  );
  assert.deepEqual([texts.snippetOf(one.textRecord), texts.snippetOf(three.textRecord)], ['One', 'Three']);
  texts.close();
});

test('a snippet is matched by no search: only the text is', async () => {
  const [summary] = [someSummary()];
  const texts = textsIn(await tempDir(), new Set([summary]));
  texts.add([{ summary, searchText: encodeSearchTexts([{ snippet: 'word...', text: 'a word' }]).records[0] }]);
  const matches = texts.matcher(['word...', 'a word']);
  assert.deepEqual([matches(summary, 'word...'), matches(summary, 'a word')], [false, true]);
  texts.close();
});

test('a summary whose records could not be written keeps its snippet on the heap', async () => {
  const texts = new SearchTexts({
    createTemp: () => {
      throw new Error('ENOSPC: no space left on device');
    },
    forEachLive: () => {},
    log: quiet,
  });
  const keeper = new SummaryKeeper((record) => texts.snippetOf(record));
  const scanned = { ...someSummary(), snippet: 'Kept on the heap' };
  texts.add([
    { summary: scanned, searchText: encodeSearchTexts([{ snippet: scanned.snippet, text: 'x' }]).records[0] },
  ]);
  assert.equal(scanned.textRecord.position, -1);
  assert.equal(keeper.keep(scanned).snippet, 'Kept on the heap');
  texts.close();
});

test('a summary kept with its records in the file reads its snippet there', async () => {
  const scanned = { ...someSummary(), snippet: 'From the file' };
  const texts = textsIn(await tempDir(), new Set([scanned]));
  const keeper = new SummaryKeeper((record) => texts.snippetOf(record));
  texts.add([
    { summary: scanned, searchText: encodeSearchTexts([{ snippet: 'From the file', text: 'x' }]).records[0] },
  ]);
  const kept = keeper.keep({ ...scanned, snippet: 'not this one' });
  assert.equal(kept.snippet, 'From the file');
  texts.close();
  assert.equal(kept.snippet, '', 'the file gone with the store');
});
