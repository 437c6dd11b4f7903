// Waiting for a condition instead of sleeping: checks `condition` on each turn of a short timer until
// it holds (resolving with its value) or `ms` pass (rejecting with `what`).

export async function waitFor<T>(condition: () => T | Promise<T>, what: string, ms = 5000): Promise<NonNullable<T>> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await condition();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`gave up waiting after ${ms} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
