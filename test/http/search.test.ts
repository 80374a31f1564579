/** Mailpit's search syntax, term by term, against in-memory messages (their search texts in a map). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { MailReader, MessageSummary } from '../../src/mailbox/reader.js';
import { cleanString } from '../../src/mailbox/summary.js';
import { compileSearch, parseDate, parseSearch, sizeToBytes, type Searchable } from '../../src/http/search.js';

function summary(fields: Partial<MessageSummary> = {}): MessageSummary {
  return {
    from: { name: 'Ann Smith', address: 'ann@example.test' },
    to: [{ name: 'Bob', address: 'bob@doh.hi.gov' }],
    cc: [{ name: '', address: 'carl@example.test' }],
    bcc: [],
    replyTo: [{ name: 'Help Desk', address: 'help@example.test' }],
    subject: 'Your order, #42 (shipped)',
    date: new Date('2026-03-01T10:00:00Z'),
    messageId: 'abc.123@shop.example.test',
    attachments: 1,
    inline: 0,
    snippet: 'Thanks for your order',
    textRecord: { position: -1, generation: 0 },
    ...fields,
  };
}

const searchTexts = new Map<MessageSummary, string>();
/** The store's part of a search: which summaries' texts hold each word. */
const reader: Pick<MailReader, 'textMatcher'> = {
  textMatcher: () => (summary, value) => searchTexts.get(summary)!.includes(value),
};

function withText(summary: MessageSummary, text: string): MessageSummary {
  searchTexts.set(summary, cleanString(text));
  return summary;
}

const order: Searchable = {
  summary: withText(
    summary(),
    'Ann Smith <ann@example.test> Your order, #42 (shipped) Bob <bob@doh.hi.gov> carl@example.test Thanks for your order of blue shoes',
  ),
  bcc: [{ name: '', address: 'dave@example.test' }],
  receivedAt: new Date('2026-03-01T10:00:05Z'),
  size: 3000,
  read: false,
  tags: ['Work'],
  mailboxes: ['bob@doh.hi.gov', 'carl@example.test', 'dave@example.test'],
};

const plain: Searchable = {
  summary: withText(
    summary({
      from: undefined,
      to: [{ name: '', address: 'eve@example.test' }],
      cc: [],
      replyTo: [],
      subject: 'Welcome',
      messageId: 'w1@app.example.test',
      attachments: 0,
      inline: 2,
    }),
    'eve@example.test Welcome hello eve',
  ),
  bcc: [],
  receivedAt: new Date('2026-03-02T00:00:00Z'),
  size: 900,
  read: true,
  tags: [],
  mailboxes: ['eve@example.test'],
};

/** Which of the two messages a query selects. */
function selected(query: string, options = {}): string[] {
  const matches = compileSearch(query, reader, options);
  return [
    ['order', order],
    ['plain', plain],
  ]
    .filter(([, subject]) => matches(subject as Searchable))
    .map(([name]) => name as string);
}

const both = ['order', 'plain'];
const cases: Array<[string, string[]]> = [
  ['', both],
  ['   ', both],
  ['to:bob', ['order']],
  ['to:BOB@DOH', ['order']],
  ['to:eve', ['plain']],
  ['from:ann', ['order']],
  ['from:smith', ['order']],
  ['cc:carl', ['order']],
  ['bcc:dave', ['order']],
  ['reply-to:help', ['order']],
  ['reply-to:"help desk"', ['order']],
  ['addressed:dave', ['order']],
  ['addressed:help@example.test', ['order']],
  ['addressed:eve', ['plain']],
  ['subject:order', ['order']],
  ['subject:"order, #42"', ['order']],
  ['subject:WELCOME', ['plain']],
  ['message-id:abc.123', ['order']],
  ['message-id:<w1@app.example.test>', ['plain']],
  ['tag:work', ['order']],
  ['tag:Work', ['order']],
  ['tag:home', []],
  ['is:read', ['plain']],
  ['is:unread', ['order']],
  ['is:tagged', ['order']],
  ['has:attachment', ['order']],
  ['has:attachments', ['order']],
  ['has:inline', ['plain']],
  ['has:inlines', ['plain']],
  ['after:2026-03-01T12:00:00Z', ['plain']],
  ['before:2026-03-01T12:00:00Z', ['order']],
  ['after:"2026-03-01 10:00:05"', both],
  ['larger:1kb', ['order']],
  ['smaller:1kb', ['plain']],
  ['larger:2999', ['order']],
  ['larger:3000', []],
  ['smaller:1.5m', both],
  ['mailbox:dave@example.test', ['order']],
  ['mailbox:DAVE@EXAMPLE.TEST', ['order']],
  ['mailbox:dave', []],
  ['blue', ['order']],
  ['SHOES', ['order']],
  ['"blue shoes"', ['order']],
  ['"shoes blue"', []],
  ['hello', ['plain']],
  ['order blue', ['order']],
  ['order hello', []],
  ['-blue', ['plain']],
  ['!blue', ['plain']],
  ['-is:read', ['order']],
  ['!tag:work', ['plain']],
  ['-mailbox:eve@example.test', ['order']],
  ['-has:attachment', ['plain']],
  ['-larger:1kb', ['plain']],
  ['-"blue shoes"', ['plain']],
  ['-', []],
  ['to:', both],
  ['after:not-a-date', both],
  ['larger:0', []],
];

for (const [query, expected] of cases) {
  test(`the query ${JSON.stringify(query)} selects ${expected.length === 0 ? 'nothing' : expected.join(' and ')}`, () =>
    assert.deepEqual(selected(query), expected));
}

test('a phrase in double quotes is one term, its quotes dropped', () =>
  assert.deepEqual(parseSearch('subject:"big sale" "blue shoes"'), [
    { kind: 'subject', value: 'big sale', negated: false },
    { kind: 'text', value: 'blue shoes', negated: false },
  ]));

test('prefixes are case-insensitive', () =>
  assert.deepEqual(parseSearch('TO:Bob Is:Unread'), [
    { kind: 'address', field: 'to', value: 'bob', negated: false },
    { kind: 'is', value: 'unread', negated: false },
  ]));

test('a size Mailpit cannot read is searched as a word, as Mailpit does', () =>
  assert.deepEqual(parseSearch('larger:lots'), [{ kind: 'text', value: 'larger:lots', negated: false }]));

test('an unreadable date is ignored, as Mailpit ignores it', () =>
  assert.deepEqual(parseSearch('after:yesterday-ish'), []));

test('before: and after: read a date in the given time zone', () => {
  // 10:00 in Auckland on 1 March 2026 (daylight saving, UTC+13) is 21:00 UTC the day before.
  assert.deepEqual(parseDate('2026-03-01 10:00', 'Pacific/Auckland'), new Date('2026-02-28T21:00:00Z'));
  assert.deepEqual(parseDate('2026-07-01', 'Pacific/Auckland'), new Date('2026-06-30T12:00:00Z'));
  assert.deepEqual(selected('before:"2026-03-01 23:00"', { timeZone: 'Pacific/Auckland' }), []);
  assert.deepEqual(selected('after:"2026-03-01 23:00"', { timeZone: 'Pacific/Auckland' }), both);
});

test('an unknown time zone is ignored and the server zone used, as Mailpit does', () =>
  assert.deepEqual(parseSearch('after:2026-03-01', { timeZone: 'Mars/Olympus' }), parseSearch('after:2026-03-01')));

test('a date without a zone is read in the server zone by default', () =>
  assert.deepEqual(parseDate('2026-03-01 10:00'), new Date(2026, 2, 1, 10, 0)));

test('sizes take k, kb, m and mb in any case, and plain bytes', () =>
  assert.deepEqual(
    ['2kb', '2K', '1.5m', '4MB', '100', '3 kb', '1g', 'x'].map(sizeToBytes),
    [2048, 2048, 1572864, 4194304, 100, 3072, 0, 0],
  ));

test('cleanString turns punctuation Mailpit ignores into single spaces and lowercases', () =>
  assert.equal(cleanString(' Ann  <Ann@X.test>,\t"Bob" (b);\r\nend\uFEFF'), 'ann ann@x.test bob b end'));
