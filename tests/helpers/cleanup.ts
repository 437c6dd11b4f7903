// What a test starts and must stop: clients, processes, proxies. Each file calls trackKillables()
// once; whatever it tracks is killed after each test, in the order it was started.

import { afterEach } from 'bun:test';

export function trackKillables(): <T extends { kill(): void }>(thing: T) => T {
  const things: { kill(): void }[] = [];
  afterEach(() => {
    for (const thing of things.splice(0)) thing.kill();
  });
  return (thing) => {
    things.push(thing);
    return thing;
  };
}
