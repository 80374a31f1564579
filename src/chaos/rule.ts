/**
 * Fault-injection rules: the type, its validation, and its one-line text form. Nothing here
 * knows about sockets, the command line or HTTP, so every transport shares the same rules and
 * the same error messages (each a single line).
 *
 * Text form (the `--chaos` option, and a future HTTP API):
 *
 *   PHASE [from=PATTERN] [to=PATTERN] [delay=MS] [disconnect] [times=N] [probability=P] [reply=CODE TEXT...]
 *
 * PATTERN is a glob (`*` any run, `?` one character, case-insensitive) or `/regexp/flags`.
 * `reply=` takes the rest of the line, so it comes last.
 */

import { inspect } from 'node:util';
import type { ErrorCode } from '../errors.js';
import { smtpPhases, type Phase } from '../smtp/gate.js';

/** The SMTP session's own phases: a rule can name exactly those. */
export const chaosPhases = smtpPhases;
export type ChaosPhase = Phase;

/**
 * A glob string (`bounce@*`, `?@example.test`; matched case-insensitively against the whole
 * address) or a RegExp (used as given). A string written `/source/flags` is a RegExp too: that
 * is how a RegExp travels as text or JSON (no valid mailbox contains `/`, so no glob is lost).
 */
export type AddressPattern = string | RegExp;

export interface ChaosReply {
  /** Three digits, 200 to 599. */
  readonly code: number;
  /** Sent after the code, e.g. `5.1.1 no such user`. One line. */
  readonly text: string;
}

export interface ChaosRule {
  /** The SMTP phase: the greeting, HELO/EHLO, MAIL, each RCPT, or the end of DATA (after the final "."). */
  readonly on: ChaosPhase;
  /** Matches the envelope sender (at mail, rcpt and data). */
  readonly from?: AddressPattern;
  /** Matches the recipient at rcpt; at data, matches if any recipient matches. */
  readonly to?: AddressPattern;
  /** Sent instead of the server's own reply; the command is not carried out, whatever the code. */
  readonly reply?: ChaosReply;
  /** Waits this long before answering (or before the reply / disconnect of this rule). */
  readonly delayMs?: number;
  /** Drops the connection without a reply. */
  readonly disconnect?: true;
  /** Fires this many times, then stays listed as spent; default: every time. */
  readonly times?: number;
  /** Chance from 0 to 1 that the rule fires when it matches; default 1. */
  readonly probability?: number;
}

/** A rule as JSON can carry it: patterns are strings (`/source/flags` for a RegExp). */
export interface ChaosRuleJson extends Omit<ChaosRule, 'from' | 'to'> {
  readonly from?: string;
  readonly to?: string;
}

/** A rule that is not valid; the message is one line, naming the problem and the bad value. */
export class ChaosRuleError extends Error {
  override name = 'ChaosRuleError';
  readonly code = 'TMS_CHAOS_RULE' satisfies ErrorCode;
}

/** Longest delay accepted: setTimeout's limit (about 24.8 days). */
const maxDelayMs = 2 ** 31 - 1;

const ruleFields = ['on', 'from', 'to', 'reply', 'delayMs', 'disconnect', 'times', 'probability'] as const;

const textKeys = ['from', 'to', 'delay', 'disconnect', 'times', 'probability', 'reply'] as const;

export const chaosGrammar =
  'PHASE [from=PATTERN] [to=PATTERN] [delay=MS] [disconnect] [times=N] [probability=P] [reply=CODE TEXT...]';

/**
 * Checks a rule given as an object (from the library, or parsed JSON) and returns a clean copy.
 * Throws ChaosRuleError with a one-line message.
 */
export function validateChaosRule(input: unknown): ChaosRule {
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    throw new ChaosRuleError(
      'a rule must be an object such as { on: "rcpt", reply: { code: 550, text: "5.1.1 no such user" } }',
    );
  const given = input as Record<string, unknown>;
  for (const key of Object.keys(given)) {
    if (!(ruleFields as readonly string[]).includes(key) && given[key] !== undefined) {
      throw new ChaosRuleError(`unknown field "${key}" (expected ${ruleFields.join(', ')})`);
    }
  }
  const on = given.on;
  if (typeof on !== 'string' || !(chaosPhases as readonly string[]).includes(on))
    throw new ChaosRuleError(`unknown phase ${describe(on)} (use ${phaseList})`);
  const rule: { -readonly [K in keyof ChaosRule]: ChaosRule[K] } = { on: on as ChaosPhase };

  if (given.from !== undefined) rule.from = pattern('from', given.from);
  if (given.to !== undefined) rule.to = pattern('to', given.to);
  if (given.reply !== undefined) rule.reply = replyOf(given.reply);
  if (given.delayMs !== undefined) {
    const delay = given.delayMs;
    if (typeof delay !== 'number' || !Number.isInteger(delay) || delay < 0 || delay > maxDelayMs) {
      throw new ChaosRuleError(
        `delay must be a whole number of milliseconds from 0 to ${maxDelayMs}, not ${describe(delay)}`,
      );
    }
    rule.delayMs = delay;
  }
  if (given.disconnect !== undefined && given.disconnect !== false) {
    if (given.disconnect !== true)
      throw new ChaosRuleError(`disconnect must be true, not ${describe(given.disconnect)}`);
    rule.disconnect = true;
  }
  if (given.times !== undefined) {
    const times = given.times;
    if (typeof times !== 'number' || !Number.isSafeInteger(times) || times < 1)
      throw new ChaosRuleError(`times must be a positive whole number, not ${describe(times)}`);
    rule.times = times;
  }
  if (given.probability !== undefined) {
    const probability = given.probability;
    if (typeof probability !== 'number' || !(probability >= 0 && probability <= 1))
      throw new ChaosRuleError(`probability must be a number from 0 to 1, not ${describe(probability)}`);
    rule.probability = probability;
  }

  if (rule.reply && rule.disconnect)
    throw new ChaosRuleError('disconnect and reply cannot be combined (a dropped connection sends no reply)');
  if (!rule.reply && !rule.disconnect && rule.delayMs === undefined)
    throw new ChaosRuleError('a rule needs a reply, a delay or disconnect');
  if (rule.from !== undefined && (rule.on === 'connect' || rule.on === 'helo'))
    throw new ChaosRuleError(`from applies only at mail, rcpt and data (no sender is known at ${rule.on})`);
  if (rule.to !== undefined && rule.on !== 'rcpt' && rule.on !== 'data')
    throw new ChaosRuleError(`to applies only at rcpt and data (no recipient is known at ${rule.on})`);
  return rule;
}

/**
 * Parses the text form, e.g. `rcpt to=bounce@* reply=550 5.1.1 no such user`.
 * Throws ChaosRuleError with a one-line message.
 */
export function parseChaosRule(text: string): ChaosRule {
  const source = text.trim();
  if (source === '') throw new ChaosRuleError(`empty rule (expected ${chaosGrammar})`);
  const words = /\S+/g;
  const phaseWord = words.exec(source)![0];
  const phase = phaseWord.toLowerCase() === 'ehlo' ? 'helo' : phaseWord.toLowerCase();
  if (!(chaosPhases as readonly string[]).includes(phase))
    throw new ChaosRuleError(`unknown phase "${phaseWord}" (use ${phaseList})`);
  const rule: Record<string, unknown> = { on: phase };
  const seen = new Set<string>();
  let match;
  while ((match = words.exec(source))) {
    const word = match[0];
    const eq = word.indexOf('=');
    const key = (eq < 0 ? word : word.slice(0, eq)).toLowerCase();
    const value = eq < 0 ? undefined : word.slice(eq + 1);
    if (!(textKeys as readonly string[]).includes(key)) {
      throw new ChaosRuleError(
        `unknown word "${word}" (expected from=, to=, delay=, disconnect, times=, probability= or reply=)`,
      );
    }
    if (seen.has(key)) throw new ChaosRuleError(`${key} given twice`);
    seen.add(key);
    if (key === 'disconnect') {
      if (value !== undefined) throw new ChaosRuleError(`disconnect takes no value, not "${word}"`);
      rule.disconnect = true;
      continue;
    }
    if (value === undefined || (value === '' && key !== 'reply')) throw new ChaosRuleError(`${key}= needs a value`);
    if (key === 'reply') {
      // The rest of the line: the code, then the text.
      const rest = source.slice(match.index + eq + 1).trim();
      const replyMatch = /^(\S*)\s*(.*)$/.exec(rest)!;
      const codeText = replyMatch[1];
      if (!/^\d{3}$/.test(codeText))
        throw new ChaosRuleError(`reply code must be three digits from 200 to 599, not "${codeText}"`);
      rule.reply = { code: Number(codeText), text: replyMatch[2] };
      break;
    }
    if (key === 'from' || key === 'to') rule[key] = value;
    else if (key === 'delay') rule.delayMs = delayOf(value);
    else if (key === 'times') {
      if (!/^\d+$/.test(value)) throw new ChaosRuleError(`times must be a positive whole number, not "${value}"`);
      rule.times = Number(value);
    } else {
      if (!/^(\d+(\.\d*)?|\.\d+)$/.test(value))
        throw new ChaosRuleError(`probability must be a number from 0 to 1, not "${value}"`);
      rule.probability = Number(value);
    }
  }
  return validateChaosRule(rule);
}

/** The canonical text form; `parseChaosRule(formatChaosRule(rule))` gives the rule back. */
export function formatChaosRule(rule: ChaosRule): string {
  const parts: string[] = [rule.on];
  if (rule.from !== undefined) parts.push(`from=${patternText(rule.from)}`);
  if (rule.to !== undefined) parts.push(`to=${patternText(rule.to)}`);
  if (rule.delayMs !== undefined) parts.push(`delay=${rule.delayMs}`);
  if (rule.disconnect) parts.push('disconnect');
  if (rule.times !== undefined) parts.push(`times=${rule.times}`);
  if (rule.probability !== undefined) parts.push(`probability=${rule.probability}`);
  if (rule.reply) parts.push(`reply=${rule.reply.code} ${rule.reply.text}`);
  return parts.join(' ');
}

/** The rule with RegExp patterns written `/source/flags`, ready for JSON.stringify. */
export function chaosRuleToJson(rule: ChaosRule): ChaosRuleJson {
  const { from, to, ...rest } = rule;
  return {
    ...rest,
    ...(from !== undefined ? { from: patternText(from) } : {}),
    ...(to !== undefined ? { to: patternText(to) } : {}),
    ...(rule.reply ? { reply: { code: rule.reply.code, text: rule.reply.text } } : {}),
  };
}

/** A predicate for an address; RegExp strings and globs compiled once. */
export function compilePattern(value: AddressPattern): (address: string) => boolean {
  const regex = typeof value === 'string' ? (regexFromText(value) ?? globToRegExp(value)) : value;
  return (address) => {
    // A /g or /y RegExp remembers where it stopped; every address starts afresh.
    regex.lastIndex = 0;
    return regex.test(address);
  };
}

/** `*` is any run of characters, `?` exactly one; everything else literal; whole string, any case. */
export function globToRegExp(glob: string): RegExp {
  const body = [...glob]
    .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\/-]/g, '\\$&')))
    .join('');
  return new RegExp(`^${body}$`, 'is');
}

// ---- helpers ----

const phaseList = 'connect, helo, mail, rcpt or data';

function describe(value: unknown): string {
  if (typeof value === 'string') return `"${value}"`;
  if (value === undefined) return 'nothing';
  try {
    return JSON.stringify(value) ?? inspect(value);
  } catch {
    return inspect(value);
  }
}

function pattern(name: 'from' | 'to', value: unknown): AddressPattern {
  if (value instanceof RegExp) return value;
  if (typeof value !== 'string' || value === '')
    throw new ChaosRuleError(`${name} must be a glob such as bounce@* or a RegExp, not ${describe(value)}`);
  try {
    regexFromText(value);
  } catch (error) {
    throw new ChaosRuleError(`${name} is not a valid regular expression: ${(error as Error).message}`);
  }
  return value;
}

/** `/source/flags` as a RegExp; undefined for anything else (a glob). Throws on a bad RegExp. */
function regexFromText(text: string): RegExp | undefined {
  const match = /^\/(.+)\/([a-z]*)$/s.exec(text);
  return match ? new RegExp(match[1], match[2]) : undefined;
}

function patternText(value: AddressPattern): string {
  return typeof value === 'string' ? value : `/${value.source}/${value.flags}`;
}

function replyOf(value: unknown): ChaosReply {
  if (typeof value !== 'object' || value === null)
    throw new ChaosRuleError(`reply must be { code, text }, not ${describe(value)}`);
  const { code, text } = value as { code?: unknown; text?: unknown };
  if (typeof code !== 'number' || !Number.isInteger(code) || code < 200 || code > 599) {
    throw new ChaosRuleError(`reply code must be three digits from 200 to 599, not ${describe(code)}`);
  }
  if (typeof text !== 'string' || text.trim() === '')
    throw new ChaosRuleError(`reply needs a text after the code, e.g. reply=550 5.1.1 no such user`);
  if (/[\r\n]/.test(text)) throw new ChaosRuleError('reply text must be one line');
  return { code, text };
}

/** `3000`, `3000ms` or `3s`. */
function delayOf(value: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(value);
  const ms = match ? Number(match[1]) * (match[2] === 's' ? 1000 : 1) : NaN;
  if (!Number.isInteger(ms) || ms > maxDelayMs)
    throw new ChaosRuleError(`delay must be a whole number of milliseconds (or seconds with "s"), not "${value}"`);
  return ms;
}
