/**
 * What an SMTP session needs of the mail store, and no more: a port the protocol defines and
 * `MailStore` satisfies as it is. Sessions depend on this, so they run over a fake in tests.
 */
import type { AddressCheck } from '../mailbox/address.js';
import type { Envelope } from '../mailbox/store.js';
import type { Trace } from '../mailbox/trace.js';

/** A message body on its way in (see `MailStore.receive`). */
export interface IncomingBody {
  /** Bytes written so far. */
  readonly size: number;
  /** False when the writer should wait for 'drain' (the body's file is behind). */
  write(chunk: Buffer): boolean;
  once(event: 'drain', listener: () => void): unknown;
  /** Its file failed; it cannot be delivered. */
  on(event: 'error', listener: (error: Error) => void): unknown;
  /** Drops it; resolves once nothing of it stays (its file removed). Also emits 'drain', so a waiting writer goes on. */
  discard(): Promise<void>;
}

export interface MailDelivery {
  /** The mailbox a recipient maps to, or why it is refused. */
  check(address: string): AddressCheck;
  receive(): IncomingBody;
  /**
   * Stores a copy for every recipient: resolves once all are on disk; a rejection means none
   * is stored (all or nothing). (A store's `deliver` takes the body its own `receive` made; methods are compared
   * bivariantly, so `MailStore` fits.)
   */
  deliver(body: IncomingBody, envelope: Envelope, trace: Trace): Promise<unknown>;
}
