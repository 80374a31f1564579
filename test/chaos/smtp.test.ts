/**
 * Chaos rules against real clients over real sockets: nodemailer and Python's smtplib see
 * exactly the rule's code and text, refused recipients get nothing stored, the others do.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TestMailServer } from '../../src/index.js';
import { ConnectionClosedError, RawSmtp, startServer, withServer, inboxNumbers } from '../helpers.js';
import { nodemailerSend, smtplibSend } from './clients.js';

const sender = 'app@example.test';

/**
 * A lower bound, so not a flaky timing assertion: the answer cannot come before the delay.
 * Clients start their clock before connecting or sending, so before the server starts its
 * own, and the server waits the delay in real time (not by the loop's cached clock).
 */
function assertWaited(elapsedMs: number, delayMs: number, what: string): void {
  assert.ok(elapsedMs >= delayMs, `${what} after ${elapsedMs.toFixed(1)} ms, expected at least ${delayMs} ms`);
}

async function stored(server: TestMailServer, mailbox: string): Promise<string[]> {
  const messages: string[] = [];
  for (const number of inboxNumbers(server.store, mailbox))
    messages.push((await server.store.read({ mailbox, folder: 'INBOX', number }))!.toString('utf8'));
  return messages;
}

/** A raw session up to the point where `phase` is asked; returns the reply to that step. */
async function rawUpTo(
  port: number,
  phase: 'connect' | 'helo' | 'mail' | 'rcpt' | 'data',
): Promise<{ smtp: RawSmtp; reply: string; elapsedMs: number }> {
  // The greeting's clock starts before connecting: the server's delay starts when it accepts.
  let started = performance.now();
  const smtp = await RawSmtp.connect(port);
  const step = async (line: string): Promise<string> => {
    started = performance.now();
    return smtp.command(line);
  };
  let reply = await smtp.reply();
  if (phase !== 'connect') {
    reply = await step('EHLO client.test');
    if (phase !== 'helo') {
      reply = await step(`MAIL FROM:<${sender}>`);
      if (phase !== 'mail') {
        reply = await step('RCPT TO:<ok@example.test>');
        if (phase !== 'rcpt') {
          assert.match(await smtp.command('DATA'), /^354 /);
          reply = await step('Subject: raw\r\n\r\nbody\r\n.');
        }
      }
    }
  }
  return { smtp, reply, elapsedMs: performance.now() - started };
}

test('every RCPT to bounce@* gets 550 5.1.1 no such user; nothing is stored for it, the other recipients get theirs (nodemailer)', async () => {
  await withServer(async (server) => {
    server.chaos.add({ on: 'rcpt', to: 'bounce@*', reply: { code: 550, text: '5.1.1 no such user' } });
    const outcome = await nodemailerSend(server.smtpPort, sender, [
      'ok@example.test',
      'bounce@example.test',
      'other@example.test',
    ]);
    assert.equal(outcome.ok, true);
    assert.deepEqual(outcome.accepted, ['ok@example.test', 'other@example.test']);
    assert.deepEqual(outcome.rejected, ['bounce@example.test']);
    assert.deepEqual(outcome.rejectedResponses, ['550 5.1.1 no such user']);
    assert.deepEqual(inboxNumbers(server.store, 'bounce@example.test'), []);
    assert.deepEqual(server.store.mailboxes(), ['ok@example.test', 'other@example.test']);
    for (const mailbox of ['ok@example.test', 'other@example.test']) {
      const [message] = await stored(server, mailbox);
      assert.match(message, /Hello from nodemailer/);
      assert.match(message, new RegExp(`^Delivered-To: ${mailbox}\r$`, 'm'));
    }
    // Every time, not just once.
    const again = await nodemailerSend(server.smtpPort, sender, ['bounce@example.test']);
    assert.equal(again.ok, false);
    assert.equal(again.code, 'EENVELOPE');
    assert.equal(again.responseCode, 550);
    assert.equal(again.response, '550 5.1.1 no such user');
    assert.deepEqual(inboxNumbers(server.store, 'bounce@example.test'), []);
    assert.equal(server.chaos.list()[0].fired, 2);
  });
});

test('every RCPT to bounce@* gets 550 5.1.1 no such user; the other recipients get theirs (Python smtplib)', async () => {
  await withServer(async (server) => {
    server.chaos.add('rcpt to=bounce@* reply=550 5.1.1 no such user');
    const outcome = await smtplibSend(server.smtpPort, sender, ['ok@example.test', 'Bounce@Example.TEST']);
    assert.deepEqual(outcome, {
      greetingSeconds: outcome.greetingSeconds,
      refused: { 'Bounce@Example.TEST': [550, '5.1.1 no such user'] },
    });
    assert.deepEqual(inboxNumbers(server.store, 'Bounce@example.test'), []);
    assert.deepEqual(inboxNumbers(server.store, 'ok@example.test'), [1]);
    assert.match((await stored(server, 'ok@example.test'))[0], /Hello from smtplib/);

    const alone = await smtplibSend(server.smtpPort, sender, ['bounce@example.test']);
    assert.equal(alone.error, 'SMTPRecipientsRefused');
    assert.deepEqual(alone.refused, { 'bounce@example.test': [550, '5.1.1 no such user'] });
  });
});

test('the next DATA gets 451 4.3.0 try again, and is not stored; the one after goes through (nodemailer and smtplib)', async () => {
  await withServer(async (server) => {
    server.chaos.add({ on: 'data', times: 1, reply: { code: 451, text: '4.3.0 try again' } });
    const refused = await nodemailerSend(server.smtpPort, sender, ['ok@example.test']);
    assert.equal(refused.ok, false);
    assert.equal(refused.code, 'EMESSAGE');
    assert.equal(refused.responseCode, 451);
    assert.equal(refused.response, '451 4.3.0 try again');
    assert.deepEqual(inboxNumbers(server.store, 'ok@example.test'), []);
    assert.equal((await nodemailerSend(server.smtpPort, sender, ['ok@example.test'])).ok, true);
    assert.deepEqual(inboxNumbers(server.store, 'ok@example.test'), [1]);

    server.chaos.add('data times=1 reply=451 4.3.0 try again');
    assert.deepEqual(
      await smtplibSend(server.smtpPort, sender, ['ok@example.test']).then(({ greetingSeconds: _, ...rest }) => rest),
      {
        error: 'SMTPDataError',
        code: 451,
        text: '4.3.0 try again',
      },
    );
    assert.deepEqual(inboxNumbers(server.store, 'ok@example.test'), [1]);
    assert.deepEqual((await smtplibSend(server.smtpPort, sender, ['ok@example.test'])).refused, {});
    assert.deepEqual(inboxNumbers(server.store, 'ok@example.test'), [1, 2]);
  });
});

test('a reply at each phase reaches nodemailer and smtplib exactly; nothing is stored', async () => {
  const cases = [
    {
      on: 'connect',
      code: 554,
      text: '5.3.2 no service here',
      nodemailer: { code: 'EPROTOCOL', command: 'CONN' },
      python: 'SMTPConnectError',
    },
    {
      on: 'helo',
      code: 550,
      text: '5.7.1 who are you',
      nodemailer: { code: 'EPROTOCOL', command: 'HELO' },
      python: 'SMTPHeloError',
    },
    {
      on: 'mail',
      code: 553,
      text: '5.7.1 sender not allowed',
      nodemailer: { code: 'EENVELOPE', command: 'MAIL FROM' },
      python: 'SMTPSenderRefused',
    },
    {
      on: 'rcpt',
      code: 450,
      text: '4.2.1 mailbox busy',
      nodemailer: { code: 'EENVELOPE', command: 'RCPT TO' },
      python: 'SMTPRecipientsRefused',
    },
    {
      on: 'data',
      code: 554,
      text: '5.6.0 content rejected',
      nodemailer: { code: 'EMESSAGE', command: 'DATA' },
      python: 'SMTPDataError',
    },
  ] as const;
  for (const c of cases) {
    await withServer(async (server) => {
      server.chaos.add({ on: c.on, reply: { code: c.code, text: c.text } });
      const viaNodemailer = await nodemailerSend(server.smtpPort, sender, ['ok@example.test']);
      assert.equal(viaNodemailer.ok, false, c.on);
      assert.equal(viaNodemailer.code, c.nodemailer.code, c.on);
      assert.equal(viaNodemailer.command, c.nodemailer.command, c.on);
      assert.equal(viaNodemailer.responseCode, c.code, c.on);
      assert.equal(viaNodemailer.response, `${c.code} ${c.text}`, c.on);

      const viaPython = await smtplibSend(server.smtpPort, sender, ['ok@example.test']);
      assert.equal(viaPython.error, c.python, c.on);
      if (c.on === 'rcpt') assert.deepEqual(viaPython.refused, { 'ok@example.test': [c.code, c.text] });
      else assert.deepEqual([viaPython.code, viaPython.text], [c.code, c.text], c.on);

      assert.deepEqual(server.store.mailboxes(), [], c.on);
    });
  }
});

test('the raw conversation: the reply line is exactly CODE TEXT, and a refused greeting closes the connection', async () => {
  await withServer(async (server) => {
    for (const phase of ['helo', 'mail', 'rcpt', 'data'] as const) {
      const id = server.chaos.add({ on: phase, reply: { code: 421, text: `4.3.0 no ${phase} today` } });
      const { smtp, reply } = await rawUpTo(server.smtpPort, phase);
      assert.equal(reply, `421 4.3.0 no ${phase} today`);
      // Any refusal but the greeting's leaves the connection usable.
      assert.equal(await smtp.command('NOOP'), '250 2.0.0 OK');
      smtp.close();
      server.chaos.remove(id);
    }
    server.chaos.add('connect reply=554 5.3.2 go away');
    const { smtp, reply } = await rawUpTo(server.smtpPort, 'connect');
    assert.equal(reply, '554 5.3.2 go away');
    await smtp.closed;
  });
});

test('connections wait before the banner: the greeting arrives no earlier than the delay (raw, nodemailer, smtplib)', async () => {
  const delayMs = 400;
  await withServer(async (server) => {
    server.chaos.add(`connect delay=${delayMs}`);
    const { smtp, reply, elapsedMs } = await rawUpTo(server.smtpPort, 'connect');
    assert.match(reply, /^220 /);
    assertWaited(elapsedMs, delayMs, 'raw greeting');
    smtp.close();

    const started = performance.now();
    const outcome = await nodemailerSend(server.smtpPort, sender, ['ok@example.test']);
    assert.equal(outcome.ok, true);
    assertWaited(performance.now() - started, delayMs, 'nodemailer delivery');

    const viaPython = await smtplibSend(server.smtpPort, sender, ['ok@example.test']);
    assert.deepEqual(viaPython.refused, {});
    assertWaited(viaPython.greetingSeconds! * 1000, delayMs, 'smtplib greeting');
    assert.deepEqual(inboxNumbers(server.store, 'ok@example.test'), [1, 2]);
  });
});

test('delayMs holds at every other phase too, alone (then the normal reply) and before a reply', async () => {
  const delayMs = 250;
  await withServer(async (server) => {
    const normal = { helo: /^250-/, mail: /^250 2\.1\.0/, rcpt: /^250 2\.1\.5/, data: /^250 2\.0\.0 OK: stored/ };
    for (const phase of ['helo', 'mail', 'rcpt', 'data'] as const) {
      const id = server.chaos.add({ on: phase, delayMs });
      const { smtp, reply, elapsedMs } = await rawUpTo(server.smtpPort, phase);
      assert.match(reply, normal[phase]);
      assertWaited(elapsedMs, delayMs, `${phase} reply`);
      smtp.close();
      server.chaos.remove(id);
    }
    assert.deepEqual(inboxNumbers(server.store, 'ok@example.test'), [1]);

    server.chaos.add({ on: 'rcpt', delayMs, reply: { code: 452, text: '4.2.2 slow and full' } });
    const started = performance.now();
    const outcome = await nodemailerSend(server.smtpPort, sender, ['ok@example.test']);
    assertWaited(performance.now() - started, delayMs, 'nodemailer refusal');
    assert.equal(outcome.response, '452 4.2.2 slow and full');
  });
});

test('disconnect at each phase: the client sees the connection drop with no reply, nothing is stored', async () => {
  for (const phase of ['connect', 'helo', 'mail', 'rcpt', 'data'] as const) {
    await withServer(async (server) => {
      server.chaos.add({ on: phase, disconnect: true });
      const viaNodemailer = await nodemailerSend(server.smtpPort, sender, ['ok@example.test']);
      assert.equal(viaNodemailer.ok, false, phase);
      assert.equal(viaNodemailer.code, 'ECONNECTION', phase);
      assert.equal(viaNodemailer.response, undefined, phase);

      const viaPython = await smtplibSend(server.smtpPort, sender, ['ok@example.test']);
      assert.equal(viaPython.error, 'SMTPServerDisconnected', phase);

      // Step by step (each earlier reply awaited), then the command of the phase gets no reply at all.
      const raw = await RawSmtp.connect(server.smtpPort);
      const steps = [
        'EHLO client.test',
        `MAIL FROM:<${sender}>`,
        'RCPT TO:<ok@example.test>',
        'DATA',
        'Subject: x\r\n\r\nbody\r\n.',
      ];
      const last = { connect: -1, helo: 0, mail: 1, rcpt: 2, data: 4 }[phase];
      if (last >= 0) {
        assert.match(await raw.reply(), /^220 /);
        for (const line of steps.slice(0, last)) assert.match(await raw.command(line), /^(250|354)/);
        raw.send(steps[last]);
      }
      await assert.rejects(raw.reply(), ConnectionClosedError, phase);
      assert.deepEqual(server.store.mailboxes(), [], phase);
      assert.equal(server.chaos.list()[0].fired, 3, phase);
    });
  }
});

test('times: a rule fires N times, then stops and stays listed as spent', async () => {
  await withServer(async (server) => {
    server.chaos.add({ on: 'rcpt', times: 2, reply: { code: 550, text: '5.1.1 twice only' } });
    const smtp = await RawSmtp.connect(server.smtpPort);
    await smtp.reply();
    await smtp.command('EHLO client.test');
    await smtp.command(`MAIL FROM:<${sender}>`);
    assert.equal(await smtp.command('RCPT TO:<a@example.test>'), '550 5.1.1 twice only');
    assert.equal(await smtp.command('RCPT TO:<b@example.test>'), '550 5.1.1 twice only');
    assert.equal(await smtp.command('RCPT TO:<c@example.test>'), '250 2.1.5 Recipient OK');
    assert.equal(await smtp.command('RCPT TO:<d@example.test>'), '250 2.1.5 Recipient OK');
    assert.match(await smtp.command('DATA'), /^354 /);
    assert.match(await smtp.command('Subject: t\r\n\r\nx\r\n.'), /^250 /);
    smtp.close();
    assert.deepEqual(server.store.mailboxes(), ['c@example.test', 'd@example.test']);
    const [entry] = server.chaos.list();
    assert.equal(entry.fired, 2);
    assert.equal(entry.remaining, 0);

    // With nodemailer and smtplib: one refusal each, then normal service.
    server.chaos.add('mail times=1 reply=421 4.7.0 not now');
    assert.equal((await nodemailerSend(server.smtpPort, sender, ['e@example.test'])).response, '421 4.7.0 not now');
    assert.equal((await nodemailerSend(server.smtpPort, sender, ['e@example.test'])).ok, true);
    server.chaos.add('mail times=1 reply=421 4.7.0 not now');
    assert.deepEqual([(await smtplibSend(server.smtpPort, sender, ['e@example.test'])).code], [421]);
    assert.deepEqual((await smtplibSend(server.smtpPort, sender, ['e@example.test'])).refused, {});
    assert.deepEqual(inboxNumbers(server.store, 'e@example.test'), [1, 2]);
  });
});

test('probability 0 never fires, probability 1 always does', async () => {
  await withServer(async (server) => {
    const never = server.chaos.add({ on: 'rcpt', probability: 0, reply: { code: 550, text: '5.0.0 never' } });
    for (let i = 0; i < 3; i++)
      assert.equal((await nodemailerSend(server.smtpPort, sender, ['ok@example.test'])).ok, true);
    assert.deepEqual(inboxNumbers(server.store, 'ok@example.test'), [1, 2, 3]);
    assert.equal(server.chaos.list()[0].fired, 0);
    server.chaos.remove(never);

    server.chaos.add('rcpt probability=1 reply=550 5.0.0 always');
    for (let i = 0; i < 3; i++) {
      const outcome = await smtplibSend(server.smtpPort, sender, ['ok@example.test']);
      assert.deepEqual(outcome.refused, { 'ok@example.test': [550, '5.0.0 always'] });
    }
    assert.deepEqual(inboxNumbers(server.store, 'ok@example.test'), [1, 2, 3]);
    assert.equal(server.chaos.list()[0].fired, 3);
  });
});

test('from and to: globs (* and ?) and RegExps pick the sender and the recipients; at data, any recipient matches', async () => {
  await withServer(async (server) => {
    server.chaos.add({ on: 'mail', from: '*@spam.test', reply: { code: 550, text: '5.7.1 spammer' } });
    server.chaos.add({ on: 'rcpt', to: /^vip-\d+@/, reply: { code: 450, text: '4.2.1 vip is away' } });
    server.chaos.add({ on: 'rcpt', to: 'b?b@*', reply: { code: 550, text: '5.1.1 no b?b' } });
    server.chaos.add({
      on: 'rcpt',
      from: /^boss@/i,
      to: 'intern@*',
      reply: { code: 550, text: '5.7.1 not from the boss' },
    });
    server.chaos.add('data to=/^audit@/ reply=554 5.7.0 audited');

    assert.equal(
      (await nodemailerSend(server.smtpPort, 'eve@SPAM.test', ['ok@example.test'])).response,
      '550 5.7.1 spammer',
    );
    assert.equal((await nodemailerSend(server.smtpPort, 'eve@spam.test.example', ['ok@example.test'])).ok, true);

    const mixed = await smtplibSend(server.smtpPort, sender, [
      'vip-1@example.test',
      'vip-x@example.test',
      'bob@example.test',
      'boob@example.test',
      'intern@example.test',
    ]);
    assert.deepEqual(mixed.refused, {
      'vip-1@example.test': [450, '4.2.1 vip is away'],
      'bob@example.test': [550, '5.1.1 no b?b'],
    });
    assert.deepEqual(inboxNumbers(server.store, 'vip-x@example.test'), [1]);
    assert.deepEqual(inboxNumbers(server.store, 'boob@example.test'), [1]);
    assert.deepEqual(inboxNumbers(server.store, 'intern@example.test'), [1]);

    const fromBoss = await nodemailerSend(server.smtpPort, 'Boss@example.test', [
      'intern@example.test',
      'ok@example.test',
    ]);
    assert.deepEqual(fromBoss.rejected, ['intern@example.test']);
    assert.deepEqual(fromBoss.rejectedResponses, ['550 5.7.1 not from the boss']);
    assert.deepEqual(inboxNumbers(server.store, 'intern@example.test'), [1]);

    // The data rule sees every recipient: one match refuses the whole message, for everyone.
    const audited = await nodemailerSend(server.smtpPort, sender, ['ok@example.test', 'audit@example.test']);
    assert.equal(audited.response, '554 5.7.0 audited');
    assert.deepEqual(inboxNumbers(server.store, 'audit@example.test'), []);
    assert.deepEqual(inboxNumbers(server.store, 'ok@example.test'), [1, 2]);

    assert.deepEqual(
      server.chaos.list().map((entry) => entry.fired),
      [1, 1, 1, 1, 1],
    );
  });
});

test('list, remove and clear; the first matching rule wins; initial rules from the options; bad rules throw', async () => {
  const server = await startServer({ chaos: ['rcpt to=first@* reply=550 5.1.1 first'] });
  try {
    const second = server.chaos.add({ on: 'rcpt', to: '*', reply: { code: 550, text: '5.1.1 catch-all' } });
    const third = server.chaos.add('connect delay=1');
    assert.deepEqual(server.chaos.list(), [
      {
        id: 1,
        rule: { on: 'rcpt', to: 'first@*', reply: { code: 550, text: '5.1.1 first' } },
        text: 'rcpt to=first@* reply=550 5.1.1 first',
        fired: 0,
        remaining: undefined,
      },
      {
        id: second,
        rule: { on: 'rcpt', to: '*', reply: { code: 550, text: '5.1.1 catch-all' } },
        text: 'rcpt to=* reply=550 5.1.1 catch-all',
        fired: 0,
        remaining: undefined,
      },
      { id: third, rule: { on: 'connect', delayMs: 1 }, text: 'connect delay=1', fired: 0, remaining: undefined },
    ]);
    assert.deepEqual((JSON.parse(JSON.stringify(server.chaos.list())) as unknown[])[1], {
      id: second,
      rule: { on: 'rcpt', to: '*', reply: { code: 550, text: '5.1.1 catch-all' } },
      text: 'rcpt to=* reply=550 5.1.1 catch-all',
      fired: 0,
    });

    const both = await smtplibSend(server.smtpPort, sender, ['first@example.test', 'other@example.test']);
    assert.equal(both.error, 'SMTPRecipientsRefused');
    assert.deepEqual(both.refused, {
      'first@example.test': [550, '5.1.1 first'],
      'other@example.test': [550, '5.1.1 catch-all'],
    });

    assert.equal(server.chaos.remove(second), true);
    assert.equal(server.chaos.remove(second), false);
    assert.deepEqual(
      server.chaos.list().map((entry) => entry.id),
      [1, third],
    );
    assert.deepEqual(
      (await smtplibSend(server.smtpPort, sender, ['first@example.test', 'other@example.test'])).refused,
      { 'first@example.test': [550, '5.1.1 first'] },
    );
    assert.deepEqual(inboxNumbers(server.store, 'other@example.test'), [1]);

    server.chaos.clear();
    assert.deepEqual(server.chaos.list(), []);
    assert.equal((await nodemailerSend(server.smtpPort, sender, ['first@example.test'])).ok, true);
    // Ids are not reused after clear.
    assert.equal(server.chaos.add('helo delay=1'), third + 1);

    assert.throws(() => server.chaos.add({ on: 'rcpt', reply: { code: 700, text: 'x' } }), {
      name: 'ChaosRuleError',
      message: 'reply code must be three digits from 200 to 599, not 700',
    });
    assert.throws(() => server.chaos.add('rcpt sometimes'), { name: 'ChaosRuleError' });
    assert.equal(server.chaos.list().length, 1);
  } finally {
    await server.close();
  }
  await assert.rejects(startServer({ chaos: ['rcpt reply=99 no'] }), { name: 'ChaosRuleError' });
});
