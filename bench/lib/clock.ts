// Wall-clock time with sub-millisecond resolution, comparable across the bench's processes
// (each process's timeOrigin is the same wall clock; performance.now() is monotonic within it).

const origin = performance.timeOrigin;

/** Milliseconds since 1970, fractional. */
export function nowMs(): number {
  return origin + performance.now();
}

/** Whole microseconds since 1970 (fits a double exactly). */
export function nowUs(): number {
  return Math.round((origin + performance.now()) * 1000);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
