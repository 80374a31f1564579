/**
 * The contract between an SMTP session and whatever may interfere with it (fault injection):
 * the phases it asks at, and what the answer may do. No sockets here, so rule code can share
 * the phase list without loading the server.
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
