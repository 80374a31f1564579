/**
 * The contract between an SMTP session and whatever may interfere with it (fault injection):
 * the phases it asks at, what the answer may do, and how a delay is waited. No sockets here, so
 * rule code can share the phase list without loading the server.
 */

export const smtpPhases = ['connect', 'helo', 'mail', 'rcpt', 'data'] as const;
export type Phase = (typeof smtpPhases)[number];

/** What a gate does instead of (or before) the normal reply. */
export interface GateAction {
  readonly delayMs?: number;
  readonly disconnect?: boolean;
  readonly reply?: { readonly code: number; readonly text: string };
}

/** `to` is the recipient at RCPT, and every recipient at DATA. */
export type Gate = (
  phase: Phase,
  context: { readonly from?: string; readonly to?: readonly string[] },
) => GateAction | undefined;

/**
 * Runs `then` no sooner than `delayMs` of real time from now. A bare setTimeout counts from
 * the loop turn's cached clock, so after a busy turn it fires a few milliseconds early, and a
 * gate's delay is a promise a test may assert on.
 */
export function afterAtLeast(delayMs: number, then: () => void): void {
  const due = performance.now() + delayMs;
  const check = () => {
    const left = due - performance.now();
    if (left > 0) setTimeout(check, Math.ceil(left));
    else then();
  };
  setTimeout(check, delayMs);
}
