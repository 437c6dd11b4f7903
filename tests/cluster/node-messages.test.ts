import { describe, expect, test } from 'bun:test';
import { decodeEntry, encodeEntry, type NodeMessage } from '../../src/cluster/node-messages.ts';

const samples: NodeMessage[] = [
  { type: 'deliver', origin: 'n1:42', key: 901, from: 'hans', to: 'yoda', at: 1_700_000_000_000, body: 'hi 🙂 "quoted" \\ {x}', replyTo: 'n1#abc' },
  // From a node before keys (CLU-3): no key, still a message.
  { type: 'deliver', origin: 'n1:43', from: 'hans', to: 'yoda', at: 1_700_000_000_000, body: 'old', replyTo: 'n1#abc' },
  { type: 'delivered', origins: ['n1:1', 'n1:2'] },
  { type: 'delivered', origins: [] },
  { type: 'refused', origin: 'n1:3', reason: 'offline' },
  { type: 'refused', origin: 'n1:4', reason: 'blocked' },
  { type: 'backlog', user: 'yoda' },
  { type: 'login', user: 'yoda', owner: 'n2#e1', at: 5 },
  { type: 'logout', user: 'yoda', owner: 'n2#e1', at: 6 },
  { type: 'broadcasts', items: [{ from: 'hans', at: 7, body: 'all of you' }, { key: 12, from: 'hans', at: 8, body: 'with a key' }] },
  { type: 'broadcasts', node: 'n1', items: [{ key: 13, from: 'hans', at: 9, body: 'from node n1' }] },
  { type: 'blocks', blocker: 'yoda' },
  { type: 'blocks', blocker: 'yoda', blocked: 'vader', on: true },
  { type: 'blocks', blocker: 'yoda', blocked: 'vader', on: false },
  { type: 'private', notice: { kind: 'accepted', from: 'yoda', to: 'hans', host: '::1', port: 42000, token: 'ab'.repeat(16) } },
  { type: 'private', notice: { kind: 'declined', from: 'yoda', to: 'hans' } },
  { type: 'private', notice: { kind: 'lapsed', from: 'yoda', to: 'hans', reason: 'no answer' } },
  { type: 'private', notice: { kind: 'closed', from: 'yoda', to: 'hans', reason: 'stopped' } },
  { type: 'private-ask', id: '7', from: 'hans', to: 'yoda', replyTo: 'n1' },
  { type: 'private-answer', id: '7' },
  { type: 'private-answer', id: '8', refusal: { code: 'offline', text: 'yoda is not online' } },
];

describe('node messages', () => {
  test('every kind survives encode then decode unchanged', () => {
    for (const m of samples) expect(decodeEntry(encodeEntry(m))).toEqual(m);
  });

  test('presence uses the same flat fields that the session scripts write', () => {
    expect(encodeEntry({ type: 'logout', user: 'yoda', owner: 'n2#e1', at: 6 })).toEqual({ type: 'logout', user: 'yoda', owner: 'n2#e1', at: '6' });
  });

  test('malformed or unknown entries decode to a one-line reason, never a throw', () => {
    const cases: [Record<string, string>, string][] = [
      [{ type: 'teleport', d: '{}' }, 'unknown entry type "teleport"'],
      [{ type: 'deliver', d: 'not json' }, 'malformed deliver entry: data is not JSON'],
      [{ type: 'deliver' }, 'malformed deliver entry: data is not JSON'],
      [{ type: 'deliver', d: '[1]' }, 'malformed deliver entry: data is not an object'],
      [{ type: 'deliver', d: '{"origin":"n1:1","from":"a","to":"b","at":-1,"body":"x","replyTo":"n"}' }, 'malformed deliver entry'],
      [{ type: 'delivered', d: '{"origins":[1]}' }, 'malformed delivered entry'],
      [{ type: 'refused', d: '{"origin":"n1:1","reason":"bored"}' }, 'malformed refused entry'],
      [{ type: 'broadcasts', d: '{"items":[{"from":"a"}]}' }, 'malformed broadcasts entry'],
      [{ type: 'deliver', d: '{"origin":"n1:1","key":"7","from":"a","to":"b","at":1,"body":"x","replyTo":"n"}' }, 'malformed deliver entry'],
      [{ type: 'broadcasts', d: '{"items":[{"key":-1,"from":"a","at":1,"body":"x"}]}' }, 'malformed broadcasts entry'],
      [{ type: 'broadcasts', d: '{"node":7,"items":[]}' }, 'malformed broadcasts entry'],
      [{ type: 'login', user: 'yoda', at: 'soon' }, 'malformed login entry'],
      [{ type: 'private', d: '{"notice":{"kind":"teleported","from":"a","to":"b"}}' }, 'malformed private entry'],
      [{ type: 'private', d: '{"notice":{"kind":"accepted","from":"a","to":"b","host":"h","port":"1","token":"t"}}' }, 'malformed private entry'],
      [{ type: 'private-ask', d: '{"id":"1","from":"a","to":"b"}' }, 'malformed private-ask entry'],
      [{ type: 'private-answer', d: '{"id":"1","refusal":{"code":"offline"}}' }, 'malformed private-answer entry'],
      [{}, 'unknown entry type undefined'],
    ];
    for (const [fields, error] of cases) expect(decodeEntry(fields)).toEqual({ error });
  });
});
