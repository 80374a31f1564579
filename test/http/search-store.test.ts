/**
 * Mailpit's search terms against the real index: two messages come in by SMTP (nodemailer), one is
 * tagged and one read through the API, and each term is asked of `GET /api/v1/search`.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { TestMailServer } from '../../src/index.js';
import { startServer } from '../helpers.js';
import { api, apiJson, send } from './support.js';

let server: TestMailServer;
/** A moment after the order arrived and before the welcome did. */
let between: Date;
/** A size between the two messages'. */
let middleSize: number;

before(async () => {
  server = await startServer({ httpPort: 0 });
  const order = await send(server, {
    from: 'Ann Smith <ann@example.test>',
    to: 'Bob <bob@doh.hi.gov>',
    cc: 'carl@example.test',
    bcc: 'dave@example.test',
    replyTo: 'Help Desk <help@example.test>',
    subject: 'Your order, #42 (shipped)',
    messageId: '<abc.123@shop.example.test>',
    text: 'Thanks for your order of blue shoes',
    attachments: [{ filename: 'invoice.pdf', content: Buffer.alloc(3000, 1), contentType: 'application/pdf' }],
  });
  between = new Date();
  // The next arrival must be at a later millisecond: wait for the clock to move, not for a set time.
  while (Date.now() <= between.getTime()) await new Promise((resolve) => setImmediate(resolve));
  const welcome = await send(server, {
    from: 'app@example.test',
    to: 'eve@example.test',
    subject: 'Welcome',
    text: 'hello eve',
    html: '<p>hello eve</p><img src="cid:logo@app">',
    attachments: [{ filename: 'logo.png', content: Buffer.from('iVBORw0KGgo=', 'base64'), cid: 'logo@app' }],
  });
  await apiJson(server, 'PUT', '/api/v1/tags', { IDs: [order], Tags: ['Work'] });
  await apiJson(server, 'PUT', '/api/v1/messages', { IDs: [welcome], Read: true });
  const sizes = (await (await api(server, '/api/v1/messages')).json()) as { messages: Array<{ Size: number }> };
  middleSize = Math.floor((sizes.messages[0].Size + sizes.messages[1].Size) / 2);
});

after(() => server.close());

async function subjects(query: string): Promise<string[]> {
  const response = await api(server, `/api/v1/search?query=${encodeURIComponent(query)}`);
  const body = (await response.json()) as { messages: Array<{ Subject: string }> };
  return body.messages.map((message) => (message.Subject === 'Welcome' ? 'welcome' : 'order')).reverse();
}

const both = ['order', 'welcome'];
/** `{between}` and `{middle}` stand for the moment and the size found at the start. */
const cases: Array<[string, string[], string?]> = [
  ['to:bob', ['order']],
  ['to:eve@example', ['welcome']],
  ['from:smith', ['order']],
  ['from:app@example.test', ['welcome']],
  ['cc:carl', ['order']],
  ['bcc:dave', ['order']],
  ['reply-to:"help desk"', ['order']],
  ['addressed:dave', ['order']],
  ['addressed:eve', ['welcome']],
  ['subject:"order, #42"', ['order']],
  ['subject:WELCOME', ['welcome']],
  ['message-id:abc.123', ['order']],
  ['tag:work', ['order']],
  ['is:read', ['welcome']],
  ['is:unread', ['order']],
  ['is:tagged', ['order']],
  ['has:attachment', ['order']],
  ['has:inline', ['welcome']],
  ['before:{between}', ['order']],
  ['after:{between}', ['welcome']],
  ['larger:{middle}', ['order']],
  ['smaller:{middle}', ['welcome']],
  ['mailbox:dave@example.test', ['order']],
  ['mailbox:EVE@example.test', ['welcome']],
  ['shoes', ['order']],
  ['shipped', ['order'], 'a word of the subject only'],
  ['smith', ['order'], 'a word of the From name only'],
  ['carl', ['order'], 'a word of the Cc only'],
  ['"blue shoes"', ['order']],
  ['"shoes blue"', []],
  ['hello', ['welcome']],
  ['-shoes', ['welcome']],
  ['!tag:work', ['welcome']],
  ['example.test', both],
];

for (const [query, expected, why] of cases) {
  const found = expected.length === 0 ? 'nothing' : expected.join(' and ');
  test(`on the real index, ${query} finds ${found}${why === undefined ? '' : ` (${why})`}`, async () => {
    const filled = query.replace('{between}', between.toISOString()).replace('{middle}', String(middleSize));
    assert.deepEqual(await subjects(filled), expected);
  });
}
