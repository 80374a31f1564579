/**
 * Whether a session reads its connection, and why not: its body's file is behind, the command
 * before is still in progress, or the client is not reading its replies. Reading resumes when
 * no reason is left; while paused, a client's further input waits in its socket and the
 * kernel's buffers, not in our memory.
 */
import type { Logger } from '../log.js';
import type { Connection } from './connection.js';

export type HoldReason = 'body' | 'pending' | 'replies';

const bits: Record<HoldReason, number> = { body: 1, pending: 2, replies: 4 };

/** For the DEBUG log; a body's file being behind is too common to log. */
const logged: Partial<Record<HoldReason, string>> = {
  pending: 'the command before is still in progress',
  replies: 'the client is not reading its replies',
};

export class Reading {
  private holds = 0;

  constructor(
    private readonly connection: Pick<Connection, 'pause' | 'resume'>,
    private readonly log: Logger,
    private readonly client: string,
  ) {}

  hold(reason: HoldReason): void {
    if (this.isHeld(reason)) return;
    if (this.holds === 0) this.connection.pause();
    this.holds |= bits[reason];
    const why = logged[reason];
    if (why !== undefined && this.log.enabled('debug')) this.log.debug(`SMTP ${this.client} input paused: ${why}`);
  }

  /** Whether it was held for that reason. */
  release(reason: HoldReason): boolean {
    if (!this.isHeld(reason)) return false;
    this.holds &= ~bits[reason];
    if (this.holds === 0) this.connection.resume();
    return true;
  }

  isHeld(reason: HoldReason): boolean {
    return (this.holds & bits[reason]) !== 0;
  }
}
