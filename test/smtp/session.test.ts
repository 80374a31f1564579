/**
 * Whole SMTP sessions in memory (MemoryConnection, FakeDelivery): the reply to each command in
 * each state, and the session's own duties (what it hands the store, TLS, timeouts, shutdown).
 * The real-socket tests in protocol.test.ts remain the proof that counts.
 */
import assert from 'node:assert/strict';
import * as tls from 'node:tls';
import { describe, test } from 'node:test';
import { mechanisms } from '../../src/smtp/auth.js';
import { formatReply, reply, type Reply } from '../../src/smtp/replies.js';
import { memorySession, serverName, type MemoryOptions, type MemorySession } from './memory.js';

const line = (r: Reply) => formatReply(r).replace(/\r\n/g, '\n');
const b64 = (text: string) => Buffer.from(text).toString('base64');

/** Commands that bring a session into a state; each must be accepted. */
const states = {
  fresh: [],
  greeted: ['EHLO client.test'],
  sender: ['EHLO client.test', 'MAIL FROM:<ann@example.test>'],
  recipient: ['EHLO client.test', 'MAIL FROM:<ann@example.test>', 'RCPT TO:<bob@example.test>'],
  authenticating: ['EHLO client.test', 'AUTH LOGIN'],
  authenticated: ['EHLO client.test', `AUTH PLAIN ${b64('\0ann\0pw')}`],
} as const;

async function sessionIn(state: keyof typeof states, options: MemoryOptions = {}): Promise<MemorySession> {
  const memory = await memorySession(options);
  for (const command of states[state]) assert.match(await memory.client.command(command), /^(250|334|235)[ -]/);
  return memory;
}

const cases: Array<[keyof typeof states, string, Reply]> = [
  ['fresh', 'NOOP', reply.ok],
  ['fresh', 'NOOP with some text', reply.ok],
  ['fresh', 'noop', reply.ok],
  ['fresh', 'RSET', reply.resetOk],
  ['fresh', 'VRFY bob', reply.cannotVerify],
  ['fresh', 'EXPN staff', reply.unsupported('EXPN')],
  ['fresh', 'FROB', reply.unknownCommand],
  ['fresh', 'HELO', reply.syntax('HELO hostname')],
  ['fresh', 'EHLO', reply.syntax('EHLO hostname')],
  ['fresh', 'HELO client.test', reply.helo(serverName, 'client.test')],
  ['fresh', 'MAIL FROM:<ann@example.test>', reply.senderOk],
  ['fresh', 'mail from: <ann@example.test>', reply.senderOk],
  ['fresh', 'MAIL TO:<ann@example.test>', reply.syntax('MAIL FROM:<address> [parameters]')],
  ['fresh', 'MAIL FROM:<ann@example.test', reply.badAddress('MAIL FROM:<address>')],
  ['fresh', 'MAIL FROM:<> SIZE=10', reply.senderOk],
  ['fresh', 'MAIL FROM:<a@b.test> SIZE=ten', reply.syntax('SIZE=<number>')],
  ['fresh', 'MAIL FROM:<a@b.test> SIZE=10001', reply.tooBig(10_000)],
  ['fresh', 'MAIL FROM:<a@b.test> BODY=8BITMIME SMTPUTF8 AUTH=<>', reply.senderOk],
  ['fresh', 'MAIL FROM:<a@b.test> BODY=BINARYMIME', reply.unknownParameter('BODY=BINARYMIME')],
  ['fresh', 'MAIL FROM:<a@b.test> RET=FULL', reply.unknownParameter('RET')],
  ['fresh', 'RCPT TO:<bob@example.test>', reply.badSequence('Need MAIL before RCPT')],
  ['fresh', 'DATA', reply.badSequence('Need MAIL and RCPT before the message')],
  ['fresh', 'DATA now', reply.syntax('DATA')],
  ['fresh', 'BDAT many', reply.syntax('BDAT <size> [LAST]')],
  ['fresh', 'STARTTLS', reply.tlsNotOffered],
  ['fresh', 'AUTH XOAUTH9', reply.unknownMechanism(mechanisms)],
  ['fresh', 'AUTH LOGIN', reply.authChallenge(b64('Username:'))],
  ['fresh', `AUTH PLAIN ${b64('\0ann\0pw')}`, reply.authOk],
  ['fresh', 'AUTH PLAIN', reply.authChallenge('')],
  ['fresh', 'HELP DATA', reply.helpSyntax('DATA')],
  ['fresh', 'HELP FROB', reply.unknownHelpTopic('FROB')],
  ['greeted', 'MAIL FROM:<ann@example.test>', reply.senderOk],
  ['sender', 'MAIL FROM:<ann@example.test>', reply.badSequence('Sender already given (use RSET)')],
  ['sender', 'RCPT TO:<bob@example.test>', reply.recipientOk],
  ['sender', 'RCPT TO:<"bob smith"@Example.TEST>', reply.recipientOk],
  ['sender', 'RCPT FROM:<bob@example.test>', reply.syntax('RCPT TO:<address> [parameters]')],
  ['sender', 'RCPT TO:<bob@example.test> NOTIFY=NEVER', reply.unknownParameter('NOTIFY')],
  [
    'sender',
    'RCPT TO:<../etc@example.test>',
    reply.refusedRecipient('local part contains "/", "\\" or a control character'),
  ],
  ['sender', 'RCPT TO:<nodomain>', reply.refusedRecipient('address has no domain')],
  ['sender', 'DATA', reply.noValidRecipients],
  ['sender', 'AUTH PLAIN', reply.badSequence('AUTH not allowed during a mail transaction')],
  ['recipient', 'DATA', reply.startData],
  ['recipient', 'RSET', reply.resetOk],
  ['recipient', 'EHLO again.test', reply.ehlo(serverName, 'again.test', [])],
  ['authenticating', 'NOOP now', reply.authBadEncoding],
  ['authenticating', '*', reply.authCancelled],
  ['authenticating', b64('ann'), reply.authChallenge(b64('Password:'))],
  ['authenticated', `AUTH PLAIN ${b64('\0ann\0pw')}`, reply.badSequence('Already authenticated')],
];

describe('the reply to each command in each state', () => {
  for (const [state, command, expected] of cases) {
    test(`${state}: ${command} -> ${formatReply(expected).split('\r\n')[0]}`, async () => {
      const { client, session } = await sessionIn(state);
      const answer = await client.command(command);
      // EHLO's keywords have their own test; here only its first line.
      assert.equal(
        expected.more ? answer.split('\n')[0] : answer,
        expected.more ? `250-${expected.text}` : line(expected),
      );
      session.destroy();
    });
  }
});

test('EHLO lists PIPELINING, ENHANCEDSTATUSCODES, 8BITMIME, SMTPUTF8, SIZE, CHUNKING and AUTH, not STARTTLS without TLS', async () => {
  const { client, session } = await memorySession();
  const keywords = (await client.command('EHLO client.test')).split('\n').map((l) => l.slice(4));
  assert.deepEqual(keywords, [
    `${serverName} greets client.test`,
    'PIPELINING',
    'ENHANCEDSTATUSCODES',
    '8BITMIME',
    'SMTPUTF8',
    'SIZE 10000',
    'CHUNKING',
    `AUTH ${mechanisms.join(' ')}`,
  ]);
  session.destroy();
});

test('with TLS configured, STARTTLS is offered until done; after it the client must greet again and it is gone from EHLO and HELP', async () => {
  const { client, session } = await memorySession({ startTls: tls.createSecureContext() });
  assert.match(await client.command('EHLO client.test'), /^250-STARTTLS$/m);
  assert.match(await client.command('HELP'), / STARTTLS /);
  await client.command('MAIL FROM:<ann@example.test>');
  // Pipelined after STARTTLS, in the clear: must not be obeyed.
  client.send('STARTTLS\r\nRCPT TO:<bob@example.test>\r\n');
  assert.equal(await client.reply(), line(reply.startTls));
  assert.equal(client.secure, true);
  assert.deepEqual(client.takeReplies(), []);
  assert.equal(await client.command('RCPT TO:<bob@example.test>'), line(reply.badSequence('Need MAIL before RCPT')));
  assert.doesNotMatch(await client.command('EHLO client.test'), /STARTTLS/);
  assert.doesNotMatch(await client.command('HELP'), /STARTTLS/);
  assert.equal(await client.command('STARTTLS'), line(reply.badSequence('TLS already active')));
  session.destroy();
});

test('a message is handed to the store with its envelope, trace and unstuffed bytes, then 250 with its id', async () => {
  const { client, delivery, session } = await sessionIn('recipient');
  assert.equal(await client.command('RCPT TO:<carol@Example.TEST>'), line(reply.recipientOk));
  assert.equal(await client.command('RCPT TO:<bob@example.test>'), line(reply.recipientOk), 'named twice');
  await client.command('DATA');
  const stored = await client.command('Subject: hi\r\n\r\n..dot\r\nbody\r\n.');
  const [call] = delivery.calls;
  assert.equal(stored, line(reply.queued(call.trace.id)));
  assert.deepEqual(call.envelope, { from: 'ann@example.test', to: ['bob@example.test', 'carol@example.test'] });
  assert.equal(call.bytes.toString(), 'Subject: hi\r\n\r\n.dot\r\nbody\r\n');
  assert.deepEqual(
    { ...call.trace, id: '', receivedAt: undefined },
    {
      heloName: 'client.test',
      clientAddress: '192.0.2.7',
      serverName,
      protocol: 'ESMTP',
      id: '',
      receivedAt: undefined,
    },
  );
  session.destroy();
});

test('the trace protocol says HELO (SMTP) or EHLO (ESMTP), plus A once authenticated', async () => {
  const protocols: string[] = [];
  for (const greeting of ['HELO c', 'EHLO c']) {
    for (const auth of [[], [`AUTH PLAIN ${b64('\0u\0p')}`]]) {
      const { client, delivery, session } = await memorySession();
      for (const command of [greeting, ...auth, 'MAIL FROM:<a@b.test>', 'RCPT TO:<c@d.test>', 'DATA'])
        await client.command(command);
      await client.command('x\r\n.');
      protocols.push(delivery.calls[0].trace.protocol);
      session.destroy();
    }
  }
  assert.deepEqual(protocols, ['SMTP', 'SMTPA', 'ESMTP', 'ESMTPA']);
});

test('BDAT chunks go to the store byte for byte; the chunk of a refused BDAT is skipped', async () => {
  const { client, delivery, session } = await sessionIn('greeted');
  client.send('BDAT 5\r\nxxxxxNOOP\r\n');
  assert.equal(await client.reply(), line(reply.badSequence('Need MAIL and RCPT before the message')));
  assert.equal(await client.reply(), line(reply.ok));
  await client.command('MAIL FROM:<a@b.test>');
  await client.command('RCPT TO:<c@d.test>');
  client.send('BDAT 4\r\n.\r\n.');
  assert.equal(await client.reply(), line(reply.chunkOk(4)));
  assert.equal(await client.command('DATA'), line(reply.badSequence('BDAT in progress, DATA not allowed')));
  client.send('BDAT 3 LAST\r\n\r\n.');
  assert.equal(await client.reply(), line(reply.queued(delivery.calls[0].trace.id)));
  assert.equal(delivery.calls[0].bytes.toString(), '.\r\n.\r\n.');
  session.destroy();
});

test('a body over the size limit is read to its end, refused with 552 and dropped; the session goes on', async () => {
  const { client, delivery, session } = await sessionIn('recipient', { maxMessageSize: 100 });
  await client.command('DATA');
  assert.equal(await client.command(`${'x'.repeat(200)}\r\n.`), line(reply.tooBig(100)));
  assert.equal(delivery.bodies[0].discarded, true);
  assert.equal(await client.command('RCPT TO:<c@d.test>'), line(reply.badSequence('Need MAIL before RCPT')));
  await client.command('MAIL FROM:<a@b.test>');
  await client.command('RCPT TO:<c@d.test>');
  client.send(`BDAT 101\r\n${'y'.repeat(101)}`);
  assert.equal(await client.reply(), line(reply.tooBig(100)));
  assert.equal(await client.command('NOOP'), line(reply.ok));
  assert.deepEqual(delivery.calls, []);
  session.destroy();
});

test('pipelined commands are answered in order, in one write', async () => {
  const { client, session } = await memorySession();
  const before = client.writes;
  client.send('EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nRSET\r\nNOOP\r\n');
  assert.equal(client.writes, before + 1);
  const replies = client.takeReplies();
  assert.deepEqual(replies.slice(1), [reply.senderOk, reply.recipientOk, reply.resetOk, reply.ok].map(line));
  session.destroy();
});

test('input waits while a message is being stored, then the pipelined rest is answered', async () => {
  const { client, delivery, session } = await sessionIn('recipient');
  delivery.hold = true;
  await client.command('DATA');
  const called = delivery.nextCall();
  client.send('x\r\n.\r\nNOOP\r\n');
  const call = await called;
  assert.deepEqual(client.takeReplies(), [], 'NOOP waits for the delivery');
  call.resolve();
  assert.equal(await client.reply(), line(reply.queued(call.trace.id)));
  assert.equal(await client.reply(), line(reply.ok));
  session.destroy();
});

test('a failed delivery answers 451 4.3.0 and logs why; the session goes on', async () => {
  const { client, delivery, log, session } = await sessionIn('recipient');
  delivery.hold = true;
  await client.command('DATA');
  const called = delivery.nextCall();
  client.send('x\r\n.\r\n');
  const call = await called;
  call.reject(new Error('disk on fire'));
  assert.equal(await client.reply(), line(reply.localError));
  assert.ok(
    log.some((l) => l.includes(`ERROR Storing message ${call.trace.id} failed: disk on fire`)),
    log.join(''),
  );
  assert.equal(await client.command('NOOP'), line(reply.ok));
  session.destroy();
});

test('QUIT answers 221 and ends the conversation; the idle timeout answers 421 4.4.2 and lingers', async () => {
  const quitting = await memorySession();
  assert.equal(await quitting.client.command('QUIT'), line(reply.closing(serverName)));
  assert.equal(quitting.client.ended, 'conversation over');
  await quitting.session.closed;

  const idle = await memorySession();
  idle.client.onIdle!();
  assert.equal(await idle.client.reply(), line(reply.idleTimeout));
  assert.equal(idle.client.ended, 'lingering');
  await idle.session.closed;
});

test('shutdown closes an idle session with 421 4.3.2, and a busy one right after its message', async () => {
  const idle = await memorySession();
  idle.session.shutdown();
  assert.equal(await idle.client.reply(), line(reply.shuttingDown));
  await idle.session.closed;

  const busy = await sessionIn('recipient');
  await busy.client.command('DATA');
  busy.session.shutdown();
  assert.equal(busy.client.closed, false);
  const stored = await busy.client.command('x\r\n.');
  assert.equal(stored, line(reply.queued(busy.delivery.calls[0].trace.id)));
  assert.equal(await busy.client.reply(), line(reply.shuttingDown));
  await busy.session.finished;
});

test('a client gone mid-DATA: the body is discarded and nothing is delivered', async () => {
  const { client, delivery, session } = await sessionIn('recipient');
  await client.command('DATA');
  client.send('half a message');
  client.hangUp();
  await session.finished;
  assert.equal(delivery.bodies[0].discarded, true);
  assert.deepEqual(delivery.calls, []);
});

test('a gate can replace a reply, or hang up without one (replies to earlier commands still go out)', async () => {
  const { client, delivery, session } = await sessionIn('recipient', {
    gate: (phase, context) =>
      phase === 'rcpt' && context.to?.[0] === 'no@d.test'
        ? { reply: { code: 550, text: '5.1.1 no such user' } }
        : phase === 'data'
          ? { disconnect: true }
          : undefined,
  });
  assert.equal(await client.command('RCPT TO:<no@d.test>'), '550 5.1.1 no such user');
  client.send('NOOP\r\nDATA\r\n');
  assert.equal(await client.reply(), line(reply.ok));
  assert.equal(await client.reply(), line(reply.startData));
  client.send('x\r\n.\r\n');
  await session.closed;
  assert.equal(client.ended, 'destroyed');
  assert.deepEqual(client.takeReplies(), []);
  assert.deepEqual(delivery.calls, []);
});

test('the body back-pressure: while the store is behind, input pauses; it resumes when it catches up', async () => {
  const { client, delivery, session } = await sessionIn('recipient');
  await client.command('DATA');
  client.send('first line\r\n');
  const body = delivery.bodies[0];
  body.behind = true;
  client.send('second line\r\n');
  assert.equal(client.paused, true);
  client.send('third line\r\n.\r\n');
  assert.equal(client.pending, 'third line\r\n.\r\n'.length, 'not read while the store is behind');
  body.catchUp();
  assert.equal(await client.reply(), line(reply.queued(delivery.calls[0].trace.id)));
  assert.equal(delivery.calls[0].bytes.toString(), 'first line\r\nsecond line\r\nthird line\r\n');
  session.destroy();
});

test('while a delivery is held, the session reads no further input: 49 MB sent meanwhile stay with the client', async () => {
  const { client, delivery, session } = await sessionIn('recipient', { maxMessageSize: 64 * 1024 * 1024 });
  delivery.hold = true;
  await client.command('DATA');
  const called = delivery.nextCall();
  client.send('first\r\n.\r\n');
  const call = await called;
  const read = client.delivered;
  // The next message, pipelined, in the 64 KiB chunks a socket hands over.
  client.send('MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\n');
  const chunk = Buffer.alloc(64 * 1024, 'x');
  const chunks = 784;
  for (let i = 0; i < chunks; i++) client.send(chunk);
  client.send('\r\n.\r\n');
  assert.equal(client.paused, true, 'input paused while the delivery is held');
  assert.ok(client.delivered - read <= 64, `${client.delivered - read} bytes read while held`);
  assert.ok(client.pending >= chunks * chunk.length);
  const second = delivery.nextCall();
  call.resolve();
  assert.equal(await client.reply(), line(reply.queued(call.trace.id)));
  const next = await second;
  assert.equal(next.bytes.length, chunks * chunk.length + 2);
  next.resolve();
  assert.deepEqual(
    (await Promise.all([client.reply(), client.reply(), client.reply(), client.reply()])).slice(0, 3),
    [reply.senderOk, reply.recipientOk, reply.startData].map(line),
  );
  assert.equal(client.pending, 0);
  session.destroy();
});

test('a client that pipelines without reading its replies is not read further until it reads: 200k NOOPs', async () => {
  const capacity = 16 * 1024;
  const { client, session } = await memorySession({ capacity });
  const chunk = Buffer.from('NOOP\r\n'.repeat((64 * 1024) / 6));
  const count = Math.ceil(200_000 / (chunk.length / 6));
  for (let i = 0; i < count; i++) client.send(chunk);
  const total = count * (chunk.length / 6);
  // What one chunk of NOOPs is answered with: the most that can be written past the capacity.
  const bound = capacity + (chunk.length / 6) * `${formatReply(reply.ok)}\r\n`.length;
  assert.equal(client.paused, true);
  assert.ok(client.unread <= bound, `${client.unread} bytes of replies unread`);
  assert.ok(client.delivered <= 2 * chunk.length, `${client.delivered} bytes read`);
  let answered = 0;
  while (answered < total) {
    assert.ok(client.unread <= bound, `${client.unread} bytes of replies unread`);
    client.read();
    await new Promise(setImmediate);
    answered += client.takeReplies().length;
  }
  assert.equal(answered, total);
  assert.equal(client.pending, 0);
  session.destroy();
});

describe('HTTP request lines and header fields get 421 4.7.0 and a hang-up, before anything else they carry runs', () => {
  for (const request of [
    'GET / HTTP/1.1',
    'POST /form HTTP/1.1',
    'HEAD / HTTP/1.0',
    'PUT /x HTTP/1.1',
    'OPTIONS * HTTP/1.1',
    'CONNECT mx.test:25 HTTP/1.1',
    'PRI * HTTP/2.0',
    'Host: 127.0.0.1:8025',
    'User-Agent: Mozilla/5.0',
    'Content-Type: text/plain',
  ]) {
    test(request, async () => {
      const { client, log } = await memorySession();
      client.send(`${request}\r\nMAIL FROM:<page@evil.test>\r\n`);
      assert.equal(await client.reply(), line(reply.httpRefused));
      assert.deepEqual(client.takeReplies(), []);
      assert.equal(client.ended, 'lingering');
      assert.ok(log.some((l) => l.includes(`WARNING SMTP 192.0.2.7 sent an HTTP request ("${request}")`)));
    });
  }
});

test('three unrecognized commands in a row end the session with 421 4.7.0; a recognized one in between resets the count', async () => {
  const { client, log } = await memorySession();
  client.send('FROB\r\nFROB\r\nNOOP\r\nFROB\r\nFROB\r\n');
  assert.deepEqual(
    client.takeReplies(),
    [reply.unknownCommand, reply.unknownCommand, reply.ok, reply.unknownCommand, reply.unknownCommand].map(line),
  );
  assert.equal(client.ended, undefined);
  client.send(`${'x'.repeat(5000)}\r\nNOOP\r\n`);
  assert.deepEqual(client.takeReplies(), [line(reply.tooManyUnrecognized)]);
  assert.equal(client.ended, 'lingering');
  assert.ok(log.some((l) => l.includes('INFO SMTP 192.0.2.7: 3 unrecognized commands in a row; closing')));
});

test('refused arguments of known commands do not count as unrecognized', async () => {
  const { client, session } = await sessionIn('sender');
  for (let i = 0; i < 10; i++) assert.match(await client.command('RCPT TO:<a/b@c.test>'), /^553 5\.1\.3 /);
  assert.equal(await client.command('NOOP'), line(reply.ok));
  session.destroy();
});

test('a body whose file fails mid-DATA is read to its end, answered 451 4.3.0 and logged; the session goes on', async () => {
  const { client, delivery, log, session } = await sessionIn('recipient');
  await client.command('DATA');
  client.send('first line\r\n');
  delivery.bodies[0].emit('error', new Error('ENOSPC: no space left on device'));
  assert.equal(await client.command('second line\r\n.'), line(reply.localError));
  assert.ok(
    log.some((l) => l.includes('ERROR SMTP 192.0.2.7: the message could not be received: ENOSPC')),
    log.join(''),
  );
  assert.equal(delivery.bodies[0].discarded, true);
  assert.deepEqual(delivery.calls, []);
  assert.equal(await client.command('NOOP'), line(reply.ok));
  session.destroy();
});
