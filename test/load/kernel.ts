/** What the kernel can hold of one TCP connection's data in flight, for sizing floods in tests. */
import { readFileSync } from 'node:fs';

function maximum(file: string): number {
  try {
    return Number(readFileSync(file, 'utf8').trim().split(/\s+/).pop());
  } catch {
    // No /proc (not Linux): assume generous buffers.
    return 32 * 1024 * 1024;
  }
}

/**
 * The most one direction of a loopback connection can absorb while the reader reads nothing:
 * the sender's largest send buffer plus the receiver's largest receive buffer.
 */
export function kernelBufferBytes(): number {
  return maximum('/proc/sys/net/ipv4/tcp_wmem') + maximum('/proc/sys/net/ipv4/tcp_rmem');
}
