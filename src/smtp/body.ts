/**
 * A message body as the session receives it (DATA, or a series of BDAT chunks): the size limit,
 * and reading held while the store's file is behind. A refused body is still read to its end,
 * to stay in step with the client, then answered with its refusal.
 */
import type { IncomingBody } from './delivery.js';
import { reply, type Reply } from './replies.js';

/** How a body asks the session to stop reading for a while, and to go on. */
export interface Throttle {
  hold(): void;
  release(): void;
}

export class BodyReceiver {
  /** Set once the body will be refused: its bytes are dropped from then on. */
  refusal: Reply | undefined;
  private behind = false;
  private readonly caughtUp = () => {
    this.behind = false;
    this.throttle.release();
  };

  constructor(
    private readonly incoming: IncomingBody,
    private readonly maxSize: number,
    private readonly throttle: Throttle,
  ) {}

  get size(): number {
    return this.incoming.size;
  }

  write(chunk: Buffer): void {
    if (this.refusal) return;
    if (this.incoming.size + chunk.length > this.maxSize) return this.refuse(reply.tooBig(this.maxSize));
    if (!this.incoming.write(chunk) && !this.behind) {
      this.behind = true;
      this.throttle.hold();
      // A discard emits 'drain' too, so a refused body never leaves reading held.
      this.incoming.once('drain', this.caughtUp);
    }
  }

  /** The body for `deliver`, which owns it from now on. */
  handOver(): IncomingBody {
    return this.incoming;
  }

  discard(): void {
    this.incoming.discard();
  }

  private refuse(refusal: Reply): void {
    this.refusal = refusal;
    this.incoming.discard();
  }
}
