import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FolderNameError } from '../../src/mailbox/errors.js';
import { folderComponents } from '../../src/mailbox/folder-name.js';
import { bareLineFeeds, withCrlf } from '../../src/mailbox/served.js';
import { parseTrace, traceHeader } from '../../src/mailbox/trace.js';

test('folder names map to MH sub-folders; INBOX is the mailbox folder itself, in any case', () => {
  assert.deepEqual(folderComponents('INBOX'), []);
  assert.deepEqual(folderComponents('inbox'), []);
  assert.deepEqual(folderComponents('Sent'), ['Sent']);
  assert.deepEqual(folderComponents('Lists/Work'), ['Lists', 'Work']);
  assert.deepEqual(folderComponents('Entwürfe'), ['Entwürfe']);
});

test('folder names that could leave the mailbox, hide, or pass for a message are refused', () => {
  const bad = [
    '..',
    '../x',
    'a/../b',
    '/abs',
    'a//b',
    'a/',
    '.hidden',
    'a/.mh_sequences',
    '123',
    'a/7',
    'a\u0000b',
    'tab\there',
    'a\\b',
    'INBOX/Sub',
    'x\u202Eevil',
    'zero\u200Bwidth',
    '',
    'x'.repeat(1025),
  ];
  for (const name of bad) assert.throws(() => folderComponents(name), FolderNameError, JSON.stringify(name));
  assert.equal(new FolderNameError('x', 'why').code, 'TMS_FOLDER_NAME');
});

test('bare LF files are served with CRLF and the matching size; CRLF files byte for byte', () => {
  const lf = Buffer.from('Subject: a\n\nline\nline2\n');
  assert.equal(bareLineFeeds(lf), 4);
  assert.equal(withCrlf(lf).toString(), 'Subject: a\r\n\r\nline\r\nline2\r\n');
  const crlf = Buffer.from('Subject: a\r\n\r\nbody\r\n');
  assert.equal(withCrlf(crlf), crlf);
  const mixed = Buffer.from('a\r\nb\nc\r\n');
  assert.equal(withCrlf(mixed).toString(), 'a\r\nb\r\nc\r\n');
  assert.equal(withCrlf(mixed).length, mixed.length + bareLineFeeds(mixed));
});

test('the trace lines the store writes are read back: sender, recipient, queue id and time', () => {
  const receivedAt = new Date('2026-11-24T09:05:03Z');
  const head = Buffer.concat([
    traceHeader(
      { heloName: 'laptop', clientAddress: '127.0.0.1', serverName: 'here', protocol: 'ESMTP', id: 'Q1D', receivedAt },
      'ann@example.com',
      'bob@doh.hi.gov',
    ),
    Buffer.from('Received: from elsewhere by other; Mon, 1 Jan 2001 00:00:00 +0000\r\nSubject: x\r\n\r\nbody'),
  ]);
  assert.deepEqual(parseTrace(head), {
    sender: 'ann@example.com',
    recipient: 'bob@doh.hi.gov',
    id: 'Q1D',
    receivedAt,
    heloName: 'laptop',
  });
  assert.deepEqual(
    parseTrace(Buffer.from('Return-Path: <>\nReceived: from x by y; Mon, 1 Jan 2001 00:00:00 +0000\n\n')),
    {
      sender: '',
      recipient: undefined,
      id: undefined,
      receivedAt: undefined,
      heloName: undefined,
    },
  );
  assert.equal(parseTrace(Buffer.from('Return-Path: <z\u00c3\u00b6e@x.test>\r\n\r\n', 'latin1')).sender, 'zöe@x.test');
});
