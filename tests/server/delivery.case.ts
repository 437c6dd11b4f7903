// The Delivery contract: what handlers may count on whichever way users are reached (a single node's
// sessions, or a cluster's). Each implementation's test file gives `setup()`: a state whose users
// `log in` on fake connections that record what they were sent.

import { expect, test } from 'bun:test';
import type { Session } from '../../src/server/session.ts';
import type { ServerState } from '../../src/server/state.ts';

export interface DeliveryRig {
  readonly state: ServerState;
  /** Makes `user` online; returns the lines written to it so far (a live array). */
  login(user: string): Promise<string[]>;
  logout(user: string): Promise<void>;
  /** Runs the end-of-turn work (stores, presence) and waits for it. */
  settle(): Promise<void>;
}

export function deliveryContract(name: string, setup: () => Promise<DeliveryRig>): void {
  test(`${name}: MSG-1 a direct message to an online user is written to it; delivered after its ack`, async () => {
    const rig = await setup();
    const leia = await rig.login('leia');
    const fates: string[] = [];
    rig.state.delivery.direct({ id: 7, from: 'hans', to: 'leia', at: 1, body: 'hello there' }, (code, id) => fates.push(`${code} ${id}`));
    await rig.settle();
    expect(leia.some((l) => l.includes('"body":"hello there"'))).toBe(true);
    expect(fates).toEqual([]);
    const { acknowledge } = await import('../../src/server/messaging.ts');
    await acknowledge(rig.state, rig.state.sessions.get('leia') as Session, 7);
    expect(fates).toEqual(['delivered 7']);
  });

  test(`${name}: OFF-1 a direct message to an offline user is stored, and only then the sender hears stored`, async () => {
    const rig = await setup();
    const fates: string[] = [];
    rig.state.delivery.direct({ id: 8, from: 'hans', to: 'yoda', at: 1, body: 'later' }, (code, id) => fates.push(`${code} ${id}`));
    expect(fates).toEqual([]);
    await rig.settle();
    expect(fates).toEqual(['stored 8']);
    expect((await rig.state.store.messagesFor('yoda')).map((m) => m.body)).toEqual(['later']);
  });

  test(`${name}: BCAST-1 a broadcast reaches all but the sender and those who block it, and counts the skipped`, async () => {
    const rig = await setup();
    await rig.login('hans');
    const leia = await rig.login('leia');
    const vader = await rig.login('vader');
    rig.state.blockSet('vader').add('hans');
    expect(rig.state.delivery.broadcast('hans', 9, 1, 'all hands')).toEqual({ reached: 1, skipped: 1 });
    await rig.settle();
    expect(leia.some((l) => l.includes('all hands'))).toBe(true);
    expect(vader.some((l) => l.includes('all hands'))).toBe(false);
  });

  test(`${name}: PRES-1/2/3 who is online, who was, and presence told to others but those the user blocks`, async () => {
    const rig = await setup();
    const leia = await rig.login('leia');
    const vader = await rig.login('vader');
    rig.state.blockSet('hans').add('vader');
    await rig.login('hans');
    await rig.settle();
    expect([...rig.state.delivery.online()].sort()).toEqual(['hans', 'leia', 'vader']);
    expect(rig.state.delivery.isOnline('hans')).toBe(true);
    expect(leia.some((l) => l.includes('"presence"') && l.includes('"hans"'))).toBe(true);
    expect(vader.some((l) => l.includes('"hans"'))).toBe(false);
    await rig.logout('hans');
    await rig.settle();
    expect(rig.state.delivery.isOnline('hans')).toBe(false);
    expect([...rig.state.delivery.lastSeen()].map(([user]) => user)).toEqual(['hans']);
  });

  test(`${name}: P2P-2 askPrivate puts a request to an online user who takes private chats, and refuses otherwise`, async () => {
    const rig = await setup();
    const leia = await rig.login('leia');
    await rig.login('vader');
    (rig.state.sessions.get('leia') as Session).p2pPort = 40000;
    expect(await rig.state.delivery.askPrivate('hans', 'leia')).toBeUndefined();
    expect((await rig.state.delivery.askPrivate('hans', 'yoda'))?.code).toBe('offline');
    expect((await rig.state.delivery.askPrivate('hans', 'vader'))?.code).toBe('peer-unavailable');
    await rig.settle();
    expect(leia.filter((l) => l.includes('private-request'))).toHaveLength(1);
  });

  test(`${name}: P2P-4 privateNotice reaches the user it is for, once, and is dropped for an offline one`, async () => {
    const rig = await setup();
    const leia = await rig.login('leia');
    (rig.state.sessions.get('leia') as Session).privatePeers.add('hans');
    rig.state.delivery.privateNotice({ kind: 'closed', from: 'hans', to: 'leia', reason: 'stopped' });
    rig.state.delivery.privateNotice({ kind: 'closed', from: 'hans', to: 'leia', reason: 'stopped' });
    rig.state.delivery.privateNotice({ kind: 'closed', from: 'hans', to: 'yoda', reason: 'stopped' });
    await rig.settle();
    expect(leia.filter((l) => l.includes('private-closed'))).toHaveLength(1);
  });

  test(`${name}: P2P-2 an acceptance that finds its requester gone closes the chat on the accepter's side at once`, async () => {
    const rig = await setup();
    const leia = await rig.login('leia');
    (rig.state.sessions.get('leia') as Session).privatePeers.add('hans');
    rig.state.delivery.privateNotice({ kind: 'accepted', from: 'leia', to: 'hans', host: '127.0.0.1', port: 40000, token: 'ab'.repeat(16) });
    await rig.settle();
    expect(leia.filter((l) => l.includes('private-closed') && l.includes('"hans"'))).toHaveLength(1);
    expect((rig.state.sessions.get('leia') as Session).privatePeers.size).toBe(0);
  });
}
