/**
 * A message body as the session receives it (DATA, or a series of BDAT chunks): the size limit,
 * reading held while the store's file is behind, and a file that fails. A refused body is still
 * read to its end, to stay in step with the client, then answered with its refusal.
 */
import type { IncomingBody } from './delivery.js';
import { reply, type Reply } from './replies.js';

/** What a body tells the session: stop reading for a while, go on, or it failed. */
export interface BodyEvents {
  hold(): void;
  release(): void;
  failed(error: Error): void;
}

export class BodyReceiver {
  /** Set once the body will be refused: its bytes are dropped from then on. */
  refusal: Reply | undefined;
  private behind = false;
  private handedOver = false;
  private readonly caughtUp = () => {
    this.behind = false;
    this.events.release();
  };
  /** Once handed over, the store's delivery meets the error itself (it rejects). */
  private readonly failed = (error: Error) => {
    if (this.handedOver || this.refusal) return;
    this.events.failed(error);
    this.refuse(reply.localError);
  };

  constructor(
    private readonly incoming: IncomingBody,
    private readonly maxSize: number,
    private readonly events: BodyEvents,
  ) {
    // Kept for good: an 'error' nobody listens to would crash the server.
    incoming.on('error', this.failed);
  }

  get size(): number {
    return this.incoming.size;
  }

  write(chunk: Buffer): void {
    if (this.refusal) return;
    if (this.incoming.size + chunk.length > this.maxSize) return this.refuse(reply.tooBig(this.maxSize));
    if (!this.incoming.write(chunk) && !this.behind) {
      this.behind = true;
      this.events.hold();
      // A discard emits 'drain' too, so a refused body never leaves reading held.
      this.incoming.once('drain', this.caughtUp);
    }
  }

  /** The body for `deliver`, which owns it from now on. */
  handOver(): IncomingBody {
    this.handedOver = true;
    return this.incoming;
  }

  /** Resolves once nothing of the body is left. */
  discard(): Promise<void> {
    return this.incoming.discard();
  }

  private refuse(refusal: Reply): void {
    this.refusal = refusal;
    void this.incoming.discard();
  }
}
