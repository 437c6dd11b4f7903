// How eagerly JavaScriptCore compiles while the server starts (B8, the empty server's memory).
//
// Start-up code runs once, but reading 19,000 accounts ran the parser's loop often enough for the
// optimizing JIT to compile it; the compiler's code pages and memory then stayed resident. With the
// tier-up thresholds scaled up, start-up stays in the interpreter: the compiled server's RSS 1 s
// after start went 47.5 -> 41.3 MiB at 19,000 accounts, 41.5 -> 38.5 MiB at 1 (docs/PERFORMANCE.md).
// The serve command scales them back to normal once it listens, so the message path is compiled
// as before (no throughput cost measured).

/** The scale of the tier-up thresholds while a server starts (1 is normal). */
export const START_JIT_POLICY = 1000;

/** Bun.unsafe.setJITPolicy where this Bun has it (1.4.5 does); else nothing. */
export function setJitPolicy(scale: number): void {
  Bun.unsafe.setJITPolicy?.(scale);
}
