// The bench's bare servers (bench/relay.ts, bench/floors/min-server.ts) read lines the cheapest way:
// the bytes up to a chunk's last LF, with what an earlier chunk left of an unfinished line before them.

import { withPartial } from '../../src/protocol/line-splitter.ts';

/** The complete lines in `chunk` (after `holder`'s unfinished one), as bytes ending in LF, or null; keeps the new unfinished tail. */
export function completeLines(holder: { partial: Uint8Array | null }, chunk: Uint8Array): Uint8Array | null {
  const bytes = withPartial(holder, chunk);
  const last = bytes.lastIndexOf(0x0a);
  if (last < bytes.length - 1) holder.partial = bytes.slice(last + 1);
  return last < 0 ? null : bytes.subarray(0, last + 1);
}
