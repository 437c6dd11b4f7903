import { describe, expect, test } from 'bun:test';
import fc from 'fast-check';
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
  {
    type: 'pack',
    entries: [
      { type: 'deliver', origin: 'n1:44', key: 902, from: 'hans', to: 'yoda', at: 1_700_000_000_001, body: 'first 🙂', replyTo: 'n1' },
      { type: 'deliver', origin: 'n1:45', from: 'hans', to: 'leia', at: 1_700_000_000_002, body: 'no key', replyTo: 'n1' },
      { type: 'delivered', origins: ['n2:7', 'n2:8'] },
      { type: 'refused', origin: 'n2:9', reason: 'blocked' },
    ],
  },
];

describe('node messages', () => {
  test('a pack decodes to its entries as each alone decodes, and single entries stay as nodes before packs send them', () => {
    const pack = samples.find((m) => m.type === 'pack');
    if (pack?.type !== 'pack') throw new Error('no pack sample');
    for (const entry of pack.entries) expect(decodeEntry(encodeEntry(entry))).toEqual(entry);
    // A node from before packs wrote these fields: a node with packs reads them unchanged.
    expect(decodeEntry({ type: 'delivered', d: '{"origins":["n1:1"]}' })).toEqual({ type: 'delivered', origins: ['n1:1'] });
    expect(decodeEntry({ type: 'deliver', d: '{"origin":"n1:1","key":5,"from":"a","to":"b","at":1,"body":"x","replyTo":"n1"}' })).toEqual({
      type: 'deliver', origin: 'n1:1', key: 5, from: 'a', to: 'b', at: 1, body: 'x', replyTo: 'n1',
    });
    // Fields of a pack's entry that are not part of it are dropped, as for a single entry.
    expect(decodeEntry({ type: 'pack', d: '{"entries":[{"type":"refused","origin":"n1:1","reason":"offline","extra":1}]}' })).toEqual({
      type: 'pack', entries: [{ type: 'refused', origin: 'n1:1', reason: 'offline' }],
    });
  });

  test('no input makes decoding throw: random fields and random pack data give an entry or a reason', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom('type', 'd', 'user', 'owner', 'at'), fc.string()), (fields) => {
        const out = decodeEntry(fields);
        expect(typeof out).toBe('object');
      }),
    );
    fc.assert(
      fc.property(fc.json(), (json) => {
        const out = decodeEntry({ type: 'pack', d: `{"entries":[${json}]}` });
        if (!('error' in out)) expect(out.type).toBe('pack');
      }),
    );
  });

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
      [{ type: 'pack', d: '{}' }, 'malformed pack entry'],
      [{ type: 'pack', d: '{"entries":[]}' }, 'malformed pack entry'],
      [{ type: 'pack', d: '{"entries":{"type":"delivered","origins":[]}}' }, 'malformed pack entry'],
      [{ type: 'pack', d: '[{"type":"delivered","origins":[]}]' }, 'malformed pack entry: data is not an object'],
      [{ type: 'pack', d: '{"entries":[' }, 'malformed pack entry: data is not JSON'],
      // Only deliveries and their replies travel in packs; a pack never holds a pack.
      [{ type: 'pack', d: '{"entries":[{"type":"backlog","user":"yoda"}]}' }, 'malformed pack entry: entry 0 is not a deliver, delivered or refused entry'],
      [{ type: 'pack', d: '{"entries":[{"type":"pack","entries":[{"type":"delivered","origins":[]}]}]}' }, 'malformed pack entry: entry 0 is not a deliver, delivered or refused entry'],
      [{ type: 'pack', d: '{"entries":[{"type":"delivered","origins":[]},null]}' }, 'malformed pack entry: entry 1 is not a deliver, delivered or refused entry'],
      [{ type: 'pack', d: '{"entries":[{"type":"delivered","origins":[]},"deliver"]}' }, 'malformed pack entry: entry 1 is not a deliver, delivered or refused entry'],
      // One bad entry refuses the whole pack, with which one and why.
      [
        { type: 'pack', d: '{"entries":[{"type":"delivered","origins":["n1:1"]},{"type":"deliver","origin":"n1:2","from":"a","to":"b","at":1,"body":7,"replyTo":"n1"}]}' },
        'malformed pack entry: entry 1: malformed deliver entry',
      ],
      [{ type: 'pack', d: '{"entries":[{"type":"refused","origin":"n1:1","reason":"bored"}]}' }, 'malformed pack entry: entry 0: malformed refused entry'],
    ];
    for (const [fields, error] of cases) expect(decodeEntry(fields)).toEqual({ error });
  });
});
