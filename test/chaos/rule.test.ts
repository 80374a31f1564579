/** The rule type without sockets: the text parser, validation messages, globs, JSON form, --chaos options. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chaosRulesFromOptions } from '../../src/chaos/cli.js';
import {
  chaosRuleToJson,
  ChaosRuleError,
  formatChaosRule,
  parseChaosRule,
  validateChaosRule,
  type ChaosRule,
} from '../../src/chaos/index.js';
import { compilePattern, globToRegExp } from '../../src/chaos/rule.js';

test('parseChaosRule reads every field of the grammar; reply= takes the rest of the line', () => {
  assert.deepEqual(parseChaosRule('rcpt to=bounce@* reply=550 5.1.1 no such user'), {
    on: 'rcpt',
    to: 'bounce@*',
    reply: { code: 550, text: '5.1.1 no such user' },
  });
  assert.deepEqual(parseChaosRule('data times=1 reply=451 4.3.0 try again'), {
    on: 'data',
    times: 1,
    reply: { code: 451, text: '4.3.0 try again' },
  });
  assert.deepEqual(parseChaosRule('connect delay=3000'), { on: 'connect', delayMs: 3000 });
  assert.deepEqual(parseChaosRule('connect delay=3s'), { on: 'connect', delayMs: 3000 });
  assert.deepEqual(parseChaosRule('connect delay=250ms'), { on: 'connect', delayMs: 250 });
  assert.deepEqual(parseChaosRule('  MAIL   from=*@spam.test   disconnect probability=0.25  '), {
    on: 'mail',
    from: '*@spam.test',
    disconnect: true,
    probability: 0.25,
  });
  assert.deepEqual(
    parseChaosRule('data from=a@x to=/^vip-\\d+@/i delay=10 times=3 probability=1 reply=250 2.0.0 pretend to=x'),
    {
      on: 'data',
      from: 'a@x',
      to: '/^vip-\\d+@/i',
      delayMs: 10,
      times: 3,
      probability: 1,
      // Everything after reply= is the text, even what looks like another key.
      reply: { code: 250, text: '2.0.0 pretend to=x' },
    },
  );
  assert.deepEqual(parseChaosRule('EHLO reply=421 4.7.0 busy'), {
    on: 'helo',
    reply: { code: 421, text: '4.7.0 busy' },
  });
  assert.deepEqual(parseChaosRule('rcpt TO=b@x REPLY=550 no'), {
    on: 'rcpt',
    to: 'b@x',
    reply: { code: 550, text: 'no' },
  });
});

test('parseChaosRule refuses bad rules with one clear line each', () => {
  const cases: Array<[string, RegExp]> = [
    ['', /^empty rule \(expected PHASE /],
    ['quit reply=550 x', /^unknown phase "quit" \(use connect, helo, mail, rcpt or data\)$/],
    ['rcpt reply=abc no', /^reply code must be three digits from 200 to 599, not "abc"$/],
    ['rcpt reply=600 no', /^reply code must be three digits from 200 to 599, not 600$/],
    ['rcpt reply=199 no', /^reply code must be three digits from 200 to 599, not 199$/],
    ['rcpt reply=5500 no', /^reply code must be three digits/],
    ['rcpt reply=550', /^reply needs a text after the code/],
    ['rcpt reply=', /^reply code must be three digits from 200 to 599, not ""$/],
    ['rcpt times=0 disconnect', /^times must be a positive whole number, not 0$/],
    ['rcpt times=1.5 disconnect', /^times must be a positive whole number, not "1.5"$/],
    ['rcpt times=-1 disconnect', /^times must be a positive whole number, not "-1"$/],
    ['rcpt probability=1.5 disconnect', /^probability must be a number from 0 to 1, not 1.5$/],
    ['rcpt probability=half disconnect', /^probability must be a number from 0 to 1, not "half"$/],
    ['rcpt delay=soon', /^delay must be a whole number of milliseconds/],
    ['rcpt delay=-5', /^delay must be a whole number of milliseconds/],
    ['rcpt to=bounce@*', /^a rule needs a reply, a delay or disconnect$/],
    ['rcpt disconnect reply=550 no', /^disconnect and reply cannot be combined/],
    ['rcpt disconnect=yes', /^disconnect takes no value/],
    ['rcpt to= disconnect', /^to= needs a value$/],
    [
      'rcpt bounce disconnect',
      /^unknown word "bounce" \(expected from=, to=, delay=, disconnect, times=, probability= or reply=\)$/,
    ],
    ['rcpt times=1 times=2 disconnect', /^times given twice$/],
    ['connect from=a@x disconnect', /^from applies only at mail, rcpt and data \(no sender is known at connect\)$/],
    ['helo from=a@x disconnect', /^from applies only at mail, rcpt and data/],
    ['mail to=a@x disconnect', /^to applies only at rcpt and data \(no recipient is known at mail\)$/],
    ['rcpt to=/(/ disconnect', /^to is not a valid regular expression: /],
  ];
  for (const [text, message] of cases) {
    assert.throws(
      () => parseChaosRule(text),
      (error: unknown) =>
        error instanceof ChaosRuleError && message.test(error.message) && !error.message.includes('\n'),
      text,
    );
  }
});

test('validateChaosRule checks library and JSON objects the same way', () => {
  assert.deepEqual(validateChaosRule({ on: 'rcpt', to: /^b/i, reply: { code: 550, text: 'no' } }), {
    on: 'rcpt',
    to: /^b/i,
    reply: { code: 550, text: 'no' },
  });
  const cases: Array<[unknown, RegExp]> = [
    [null, /^a rule must be an object/],
    [
      { on: 'rcpt', disconnect: true, color: 'red' },
      /^unknown field "color" \(expected on, from, to, reply, delayMs, disconnect, times, probability\)$/,
    ],
    [{ disconnect: true }, /^unknown phase nothing/],
    [{ on: 'RCPT', disconnect: true }, /^unknown phase "RCPT"/],
    [{ on: 'rcpt', reply: { code: 55, text: 'x' } }, /^reply code must be three digits from 200 to 599, not 55$/],
    [{ on: 'rcpt', reply: { code: '550', text: 'x' } }, /^reply code must be three digits from 200 to 599, not "550"$/],
    [{ on: 'rcpt', reply: { code: 550, text: 'two\r\nlines' } }, /^reply text must be one line$/],
    [{ on: 'rcpt', reply: '550 no' }, /^reply must be \{ code, text \}/],
    [{ on: 'rcpt', delayMs: 1.5 }, /^delay must be a whole number of milliseconds/],
    [{ on: 'rcpt', disconnect: 'yes' }, /^disconnect must be true, not "yes"$/],
    [{ on: 'rcpt', disconnect: true, times: 0 }, /^times must be a positive whole number, not 0$/],
    [{ on: 'rcpt', disconnect: true, probability: -0.1 }, /^probability must be a number from 0 to 1, not -0.1$/],
    [{ on: 'rcpt', disconnect: true, probability: Number.NaN }, /^probability must be a number from 0 to 1/],
    [{ on: 'rcpt', disconnect: true, to: 42 }, /^to must be a glob such as bounce@\* or a RegExp, not 42$/],
    [{ on: 'rcpt', disconnect: true, from: '' }, /^from must be a glob/],
  ];
  for (const [input, message] of cases) {
    assert.throws(
      () => validateChaosRule(input),
      (error: unknown) => error instanceof ChaosRuleError && message.test(error.message),
      JSON.stringify(input),
    );
  }
});

test('formatChaosRule is the canonical text form: parsing it gives the rule back; JSON carries RegExps as /source/flags', () => {
  const rules: ChaosRule[] = [
    { on: 'rcpt', to: 'bounce@*', reply: { code: 550, text: '5.1.1 no such user' } },
    {
      on: 'data',
      from: '*@x.test',
      to: 'a?c@*',
      delayMs: 5,
      times: 2,
      probability: 0.5,
      reply: { code: 451, text: '4.3.0 try again' },
    },
    { on: 'mail', disconnect: true },
    { on: 'connect', delayMs: 3000 },
  ];
  for (const rule of rules) assert.deepEqual(parseChaosRule(formatChaosRule(rule)), rule);
  assert.equal(formatChaosRule(rules[0]), 'rcpt to=bounce@* reply=550 5.1.1 no such user');

  const withRegExp: ChaosRule = { on: 'rcpt', to: /^vip-\d+@/i, disconnect: true };
  assert.equal(formatChaosRule(withRegExp), 'rcpt to=/^vip-\\d+@/i disconnect');
  const json = JSON.parse(JSON.stringify(chaosRuleToJson(withRegExp))) as unknown;
  assert.deepEqual(json, { on: 'rcpt', to: '/^vip-\\d+@/i', disconnect: true });
  // The JSON form goes back through validation, and matches the same addresses.
  const back = validateChaosRule(json);
  assert.ok(compilePattern(back.to!)('VIP-7@example.test'));
  assert.ok(!compilePattern(back.to!)('vip-x@example.test'));
});

test('globs: * is any run, ? one character, the whole address, any case; RegExps as given', () => {
  const bounce = compilePattern('bounce@*');
  assert.ok(bounce('bounce@example.test'));
  assert.ok(bounce('BOUNCE@Example.Test'));
  assert.ok(!bounce('nobounce@example.test'));
  assert.ok(!bounce('bounce.x@example.test'));
  const one = compilePattern('b?b@x.test');
  assert.ok(one('bob@x.test'));
  assert.ok(!one('boob@x.test'));
  assert.ok(!one('bb@x.test'));
  // Regular-expression characters in a glob are literal.
  assert.ok(compilePattern('a+b@x.test')('a+b@x.test'));
  assert.ok(!compilePattern('a+b@x.test')('aab@x.test'));
  assert.ok(compilePattern('*')(''));
  assert.equal(globToRegExp('*.test').source, '^.*\\.test$');
  // A /g RegExp keeps no state between addresses.
  const global = compilePattern(/bounce/g);
  assert.ok(global('bounce@x.test'));
  assert.ok(global('bounce@x.test'));
  // A RegExp is used as given: case-sensitive unless it says otherwise.
  assert.ok(!compilePattern(/^bounce@/)('Bounce@x.test'));
});

test('--chaos values (repeatable) win over TMS_CHAOS (one rule per line); errors name the rule', () => {
  assert.deepEqual(chaosRulesFromOptions(['rcpt to=b@* reply=550 no', 'connect delay=10'], 'mail disconnect'), [
    { on: 'rcpt', to: 'b@*', reply: { code: 550, text: 'no' } },
    { on: 'connect', delayMs: 10 },
  ]);
  assert.deepEqual(
    chaosRulesFromOptions(undefined, 'mail disconnect\n\n# a comment\r\ndata times=1 reply=451 4.3.0 try again\n'),
    [
      { on: 'mail', disconnect: true },
      { on: 'data', times: 1, reply: { code: 451, text: '4.3.0 try again' } },
    ],
  );
  assert.deepEqual(chaosRulesFromOptions(undefined, undefined), []);
  assert.throws(() => chaosRulesFromOptions(['rcpt reply=abc x'], undefined), {
    message: `--chaos 'rcpt reply=abc x': reply code must be three digits from 200 to 599, not "abc"`,
  });
  assert.throws(() => chaosRulesFromOptions([], 'helo nothing'), {
    message: /^TMS_CHAOS 'helo nothing': unknown word "nothing"/,
  });
});
