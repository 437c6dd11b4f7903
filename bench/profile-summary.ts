// Sums a .cpuprofile (bun --cpu-prof, as `bun run bench --profile` writes) by function, over the
// part of the run where a given function was on the stack (default: from the first to the last
// sample inside `message`, i.e. B1's load, without the logins before it). Prints self time by
// function and by kind of work.
//
//   bun bench/profile-summary.ts <file.cpuprofile> [--from message] [--top 30]

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface Node { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }
interface Profile { nodes: Node[]; samples: number[]; timeDeltas: number[]; startTime: number }

const { values, positionals } = parseArgs({ args: Bun.argv.slice(2), allowPositionals: true, options: { from: { type: 'string', default: 'message' }, top: { type: 'string', default: '30' } } });
const profile = JSON.parse(readFileSync(positionals[0] as string, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

const onStack = (id: number, name: string) => {
  for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) if (byId.get(at)?.callFrame.functionName === name) return true;
  return false;
};
const first = profile.samples.findIndex((id) => onStack(id, values.from as string));
let last = first;
for (let i = profile.samples.length - 1; i > first; i--) if (onStack(profile.samples[i] as number, values.from as string)) { last = i; break; }
const self = new Map<string, number>();
let total = 0;
let ms = 0;
for (let i = Math.max(0, first); i <= last; i++) {
  const n = byId.get(profile.samples[i] as number) as Node;
  const file = n.callFrame.url ? n.callFrame.url.replace(/.*\/(src|bench)\//, '$1/') : '[native]';
  const key = `${n.callFrame.functionName || '(anonymous)'} ${file}`;
  self.set(key, (self.get(key) ?? 0) + 1);
  total++;
  ms += (profile.timeDeltas[i] ?? 0) / 1000;
}
console.log(`${total} samples over ${(ms / 1000).toFixed(2)} s (from the first to the last sample in ${values.from})`);
const rows = [...self].sort((a, b) => b[1] - a[1]);
for (const [key, n] of rows.slice(0, Number(values.top))) console.log(`${((n / total) * 100).toFixed(1).padStart(5)} %  ${key}`);
// Kinds of work, by function (a rough map: what each hot function does for a message).
const kinds: [string, RegExp][] = [
  ['socket write (native write: the syscall and Bun around it)', /^write \[native\]/],
  ['outbox: joining queued lines, flush', /^(write|push|flush|run|mark|request) src\/util\/outbox/],
  ['JSON.stringify (names, bodies in encoders)', /^stringify /],
  ['encoding the message line', /^encodeMessage /],
  ['encoding delivered', /^deliveredLine /],
  ['parsing requests (split, verb, args)', /^(splitWord|parseRequest|parseArgs|isVerb|checkWord|parseTag)/],
  ['decoding bytes, splitting lines', /^(decode|push|split|subarray|lastIndexOf) (\[native\]|src\/protocol\/line-splitter)/],
  ['dispatch, context, checks', /^(handleLine|run|Context|requireAccount|requireOther|isBlocking|dispatch|take|spend|allowed|normaliseAddress|now) src\/server/],
  ['message and ack handlers', /^(message|sendOnline|acknowledge|ack|outcome|armAckTimer|hold) src\/server\/messaging/],
  ['timer wheel', /src\/util\/timer-wheel/],
  ['socket data callback', /^data src\/server\/server/],
  ['garbage collection and other native', /\[native\]/],
];
const byKind = new Map<string, number>();
for (const [key, n] of rows) {
  const kind = kinds.find(([, re]) => re.test(key))?.[0] ?? 'other JavaScript';
  byKind.set(kind, (byKind.get(kind) ?? 0) + n);
}
console.log('\nby kind of work:');
for (const [kind, n] of [...byKind].sort((a, b) => b[1] - a[1])) console.log(`${((n / total) * 100).toFixed(1).padStart(5)} %  ${kind}`);
