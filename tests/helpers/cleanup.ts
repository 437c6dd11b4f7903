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

/** The servers and clients a test starts, put in these arrays: after each test the clients are killed, then the servers stopped. */
export function trackServersAndClients(): { servers: { stop(): Promise<void> }[]; clients: { kill(): void }[] } {
  const servers: { stop(): Promise<void> }[] = [];
  const clients: { kill(): void }[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) c.kill();
    for (const s of servers.splice(0)) await s.stop();
  });
  return { servers, clients };
}
