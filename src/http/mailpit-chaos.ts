/**
 * Mailpit's chaos triggers (`/api/v1/chaos`: Sender, Recipient, Authentication, each an error
 * code and a percentage) as rules of our Chaos: Sender is a reply at MAIL, Recipient at RCPT.
 * Our SMTP server accepts any credentials and has no AUTH phase to fail, so Authentication can
 * be read but only set to 0%.
 */
import type { Chaos } from '../chaos/chaos.js';
import { HttpError } from './errors.js';

export interface Trigger {
  readonly ErrorCode: number;
  readonly Probability: number;
}

export interface Triggers {
  readonly Sender: Trigger;
  readonly Recipient: Trigger;
  readonly Authentication: Trigger;
}

const defaults: Triggers = {
  Sender: { ErrorCode: 451, Probability: 0 },
  Recipient: { ErrorCode: 451, Probability: 0 },
  Authentication: { ErrorCode: 535, Probability: 0 },
};

const phases = { Sender: 'mail', Recipient: 'rcpt' } as const;

export class MailpitChaos {
  private triggers: Triggers = defaults;
  /** The rules this API added, replaced by the next PUT. */
  private ruleIds: number[] = [];

  constructor(private readonly chaos: Chaos) {}

  get(): Triggers {
    return this.triggers;
  }

  /** Omitted triggers reset to their defaults (0%), as in Mailpit. */
  set(request: Partial<Record<keyof Triggers, Partial<Trigger>>>): Triggers {
    const next = {
      Sender: trigger(request.Sender, defaults.Sender),
      Recipient: trigger(request.Recipient, defaults.Recipient),
      Authentication: trigger(request.Authentication, defaults.Authentication),
    };
    if (next.Authentication.Probability > 0)
      throw new HttpError(
        'TMS_BAD_REQUEST',
        'Authentication triggers are not supported: this server accepts any login',
      );
    for (const id of this.ruleIds) this.chaos.remove(id);
    this.ruleIds = [];
    for (const name of ['Sender', 'Recipient'] as const) {
      const { ErrorCode, Probability } = next[name];
      if (Probability === 0) continue;
      const text = `${Math.floor(ErrorCode / 100)}.0.0 Chaos: ${name.toLowerCase()} refused`;
      this.ruleIds.push(
        this.chaos.add({ on: phases[name], probability: Probability / 100, reply: { code: ErrorCode, text } }),
      );
    }
    this.triggers = next;
    return next;
  }
}

function trigger(given: Partial<Trigger> | undefined, fallback: Trigger): Trigger {
  const ErrorCode = given?.ErrorCode || fallback.ErrorCode;
  const Probability = given?.Probability ?? 0;
  if (!Number.isInteger(ErrorCode) || ErrorCode < 400 || ErrorCode > 599)
    throw new HttpError('TMS_BAD_REQUEST', 'error code must be between 400 and 599');
  if (!Number.isInteger(Probability) || Probability < 0 || Probability > 100)
    throw new HttpError('TMS_BAD_REQUEST', 'probability must be between 0 and 100');
  return { ErrorCode, Probability };
}
