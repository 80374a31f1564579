/**
 * Waiting for messages over any MessageSource: those already stored and those arriving later,
 * event-driven (no polling, no sleeps). The source is subscribed to before the stored messages
 * are listed, so a message arriving in between is seen (once) rather than missed.
 */
import { defaults } from '../defaults.js';
import { codedError, type ErrorCode } from '../errors.js';
import { assertFilter, describeFilter, matches, matchesMeta, type MessageFilter } from './filter.js';
import type { MessageMeta, ParsedContent, ParsedMessage } from './message.js';
import { messageKey, type MessageSource } from './source.js';

export interface WaitOptions {
  /** Milliseconds before giving up; default 5000. `Infinity` waits until matched or aborted. */
  readonly timeout?: number;
  /** Stops waiting early: the promise rejects with the signal's reason. */
  readonly signal?: AbortSignal;
}

/** One line of a timeout report. */
export interface ArrivedMessage {
  readonly mailbox: string;
  readonly number: number;
  readonly from: string;
  readonly subject: string;
  readonly receivedAt: Date;
  /** True if it matched the filter (waitForMessages got some, not enough). */
  readonly matched: boolean;
}

/** Thrown when no (or not enough) messages matched in time; its text lists what did arrive. */
export class MailTimeoutError extends Error {
  override readonly name = 'MailTimeoutError';
  readonly code = 'TMS_TIMEOUT' satisfies ErrorCode;

  constructor(
    readonly filter: MessageFilter,
    readonly expected: number,
    readonly timeout: number,
    /** Every message that was stored while waiting (or before), oldest first. */
    readonly arrived: readonly ArrivedMessage[],
  ) {
    super(timeoutText(filter, expected, timeout, arrived));
  }
}

/** How many arrived messages a timeout message names; the rest are counted. */
const listedLimit = 25;

function timeoutText(
  filter: MessageFilter,
  expected: number,
  timeout: number,
  arrived: readonly ArrivedMessage[],
): string {
  const matched = arrived.filter((message) => message.matched).length;
  const wanted =
    expected === 1
      ? `no message matched ${describeFilter(filter)}`
      : `${matched} of ${expected} messages matched ${describeFilter(filter)}`;
  const lines = [`Timed out after ${timeout} ms waiting for mail: ${wanted}.`];
  if (arrived.length === 0) {
    lines.push('No message arrived.');
  } else {
    lines.push(`${arrived.length} message${arrived.length === 1 ? '' : 's'} arrived (mailbox, from, subject):`);
    const shown = arrived.slice(-listedLimit);
    if (shown.length < arrived.length) lines.push(`  ... ${arrived.length - shown.length} earlier not shown`);
    for (const message of shown) {
      lines.push(
        `  ${message.matched ? '* ' : '- '}${message.mailbox} #${message.number}  from ${message.from || '(none)'}  subject ${JSON.stringify(message.subject)}`,
      );
    }
    if (matched > 0) lines.push('  (* matched)');
  }
  return lines.join('\n');
}

const outOfRange = (message: string) => codedError(RangeError, 'TMS_INVALID_ARGUMENT', message);

/**
 * Resolves with the first `count` distinct stored copies matching `filter`, oldest first:
 * already stored ones, then arrivals in the order they are stored. Rejects with a
 * MailTimeoutError after `timeout` ms, or when `signal` aborts.
 */
export function waitForMessages(
  source: MessageSource,
  filter: MessageFilter,
  count: number,
  options: WaitOptions = {},
): Promise<ParsedMessage[]> {
  assertFilter(filter);
  if (!Number.isSafeInteger(count) || count < 1)
    return Promise.reject(outOfRange(`count must be a positive integer, got ${count}`));
  const timeout = options.timeout ?? defaults.waitTimeoutMs;
  if (typeof timeout !== 'number' || Number.isNaN(timeout) || timeout < 0)
    return Promise.reject(outOfRange(`timeout must be a number of milliseconds >= 0, got ${String(timeout)}`));
  const signal = options.signal;
  if (signal?.aborted) return Promise.reject(signal.reason);

  return new Promise<ParsedMessage[]>((resolve, reject) => {
    const seen = new Set<string>();
    const arrived: MessageMeta[] = [];
    const found: ParsedMessage[] = [];
    /** Arrivals while the stored messages are being listed; afterwards undefined. */
    let early: MessageMeta[] | undefined = [];
    /** Messages are judged one after another, in order, while their files load in parallel. */
    let queue: Promise<void> = Promise.resolve();
    let loadsPending = 0;
    let done = false;
    let timer: NodeJS.Timeout | undefined;

    const finish = (settle: () => void) => {
      if (done) return;
      done = true;
      unsubscribe();
      if (timer !== undefined) clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      settle();
    };

    const consider = (meta: MessageMeta) => {
      const key = messageKey(meta);
      if (done || seen.has(key)) return;
      seen.add(key);
      arrived.push(meta);
      if (!matchesMeta(meta, filter)) return;
      // Already parsed and nothing ahead of it in the queue: judged at once, and only a match is
      // loaded (with its flags), which keeps a wait over thousands of stored messages to a quick
      // synchronous scan.
      const ready = loadsPending === 0 ? source.peek?.(meta) : undefined;
      if (ready && !fits(ready)) return;
      const loading = source.load(meta);
      // An unreadable message (deleted, not MIME) matches nothing; it must not break the wait.
      loading.catch(() => {});
      loadsPending++;
      queue = queue.then(async () => {
        const message = await loading.catch(() => undefined);
        loadsPending--;
        if (!done && message !== undefined && (ready !== undefined || fits(message))) accept(message);
      });
    };

    const fits = (message: ParsedContent): boolean => {
      try {
        return matches(message, filter);
      } catch (error) {
        // A predicate threw: the test's bug, reported rather than swallowed.
        finish(() => reject(error));
        return false;
      }
    };

    const accept = (message: ParsedMessage) => {
      found.push(message);
      if (found.length >= count) finish(() => resolve(found));
    };

    const unsubscribe = source.subscribe((meta) => (early ? early.push(meta) : consider(meta)));

    const onAbort = () => finish(() => reject(signal!.reason));
    signal?.addEventListener('abort', onAbort, { once: true });

    const onTimeout = () => {
      if (done) return;
      const matchedKeys = new Set(found.map(messageKey));
      finish(() => {
        void summarize(source, arrived, matchedKeys).then((summary) =>
          reject(new MailTimeoutError(filter, count, timeout, summary)),
        );
      });
    };
    if (Number.isFinite(timeout)) timer = setTimeout(onTimeout, timeout);

    source.list().then(
      (stored) => {
        for (const meta of stored) consider(meta);
        const arrivals = early ?? [];
        early = undefined;
        for (const meta of arrivals) consider(meta);
      },
      (error: unknown) => finish(() => reject(error)),
    );
  });
}

async function summarize(
  source: MessageSource,
  arrived: readonly MessageMeta[],
  matchedKeys: ReadonlySet<string>,
): Promise<ArrivedMessage[]> {
  const shown = new Set(arrived.slice(-listedLimit));
  return Promise.all(
    arrived.map(async (meta) => {
      const message = shown.has(meta) ? await source.load(meta).catch(() => undefined) : undefined;
      const from = message?.from?.address ?? meta.envelope.from;
      return {
        mailbox: meta.mailbox,
        number: meta.number,
        from,
        subject: message?.subject ?? '',
        receivedAt: meta.receivedAt,
        matched: matchedKeys.has(messageKey(meta)),
      };
    }),
  );
}
