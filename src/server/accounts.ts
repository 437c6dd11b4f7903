// The accounts: username -> secret (a password or its hash).
//
// Those read from the credentials file are kept as the file's text and an index into it, not as a
// Map of strings (B8, the empty server's memory): at 19,000 accounts a Map held ~4 MiB of JS heap (a
// string a name and a secret, an entry each). The index is three typed arrays, 16–24 bytes an account,
// filled without making a string: a name is hashed and compared where it lies in the text. A
// lookup hashes the name asked for the same way; a secret is cut from its line only when asked for
// (a login). Accounts added or changed after start (registrations) live in an ordinary Map beside it.

/** What the server needs of its accounts; a Map<string, string> has it too (a shared store's accounts, tests). */
export interface Accounts {
  readonly size: number;
  has(name: string): boolean;
  get(name: string): string | undefined;
  set(name: string, secret: string): unknown;
  delete(name: string): boolean;
  /** In the order the accounts were added (the file's first), as a Map's. */
  keys(): Iterable<string>;
  [Symbol.iterator](): Iterator<[string, string]>;
}

const SPACE = 0x20;
const CR = 0x0d;

export class AccountTable implements Accounts {
  /** Where each file account's line starts in `text`, in file order; -1 once deleted. */
  private starts: Int32Array<ArrayBuffer>;
  /** Each file account's name hash, by the same index (growing the table needs no strings). */
  private hashes: Int32Array<ArrayBuffer>;
  private count = 0;
  /** Open addressing, linear probing: an index into `starts` plus one, 0 for an empty slot. Kept at most half full. */
  private slots: Int32Array<ArrayBuffer>;
  /** File accounts not deleted. */
  private live = 0;
  /** Accounts set after the file was read: new ones, and new secrets for file accounts. */
  private readonly later = new Map<string, string>();
  /** How many of `later`'s names are file accounts too (counted once in `size`). */
  private replaced = 0;

  /** `text`: the credentials file, whose lines `addLine()` indexes; `expected`: about how many. */
  constructor(
    private readonly text = '',
    expected = 0,
  ) {
    const size = Math.max(expected, 8);
    this.starts = new Int32Array(size);
    this.hashes = new Int32Array(size);
    this.slots = new Int32Array(2 ** Math.ceil(Math.log2(size * 2 + 1)));
  }

  /**
   * Adds the account whose well-formed line (`name secret`, one space, no other whitespace, maybe a
   * final CR) starts at `start` in the text, its name ending at `nameEnd`; false (nothing added)
   * when the file had that name already. For reading the file, before any set().
   */
  addLine(start: number, nameEnd: number): boolean {
    const hash = hashOf(this.text, start, nameEnd);
    const mask = this.slots.length - 1;
    for (let slot = hash & mask; this.slots[slot] !== 0; slot = (slot + 1) & mask) {
      const index = (this.slots[slot] as number) - 1;
      if (this.hashes[index] === hash && this.nameAtIs(index, start, nameEnd)) return false;
    }
    if (this.count === this.starts.length) {
      this.starts = grown(this.starts, this.count * 2);
      this.hashes = grown(this.hashes, this.count * 2);
    }
    if ((this.count + 1) * 2 > this.slots.length) this.rehash(this.slots.length * 2);
    this.starts[this.count] = start;
    this.hashes[this.count] = hash;
    this.place(hash, ++this.count);
    this.live++;
    return true;
  }

  get size(): number {
    return this.live + this.later.size - this.replaced;
  }

  has(name: string): boolean {
    return this.later.has(name) || this.find(name) >= 0;
  }

  get(name: string): string | undefined {
    const later = this.later.get(name);
    if (later !== undefined) return later;
    const index = this.find(name);
    return index < 0 ? undefined : this.secretAt(index);
  }

  set(name: string, secret: string): this {
    if (!this.later.has(name) && this.find(name) >= 0) this.replaced++;
    this.later.set(name, secret);
    return this;
  }

  delete(name: string): boolean {
    const wasLater = this.later.delete(name);
    const index = this.find(name);
    if (index < 0) return wasLater;
    // A tombstone: the slot still leads lookups on to the names placed after it.
    this.starts[index] = -1;
    this.live--;
    if (wasLater) this.replaced--;
    return true;
  }

  *keys(): IterableIterator<string> {
    for (let i = 0; i < this.count; i++) if ((this.starts[i] as number) >= 0) yield this.nameAt(i);
    for (const name of this.later.keys()) if (this.find(name) < 0) yield name;
  }

  *[Symbol.iterator](): IterableIterator<[string, string]> {
    for (let i = 0; i < this.count; i++) {
      if ((this.starts[i] as number) < 0) continue;
      const name = this.nameAt(i);
      yield [name, this.later.get(name) ?? this.secretAt(i)];
    }
    for (const entry of this.later) if (this.find(entry[0]) < 0) yield entry;
  }

  /** The index of `name`'s file line, or -1. */
  private find(name: string): number {
    // A file name has no space: this also keeps the compare below within the name.
    if (this.count === 0 || name.includes(' ')) return -1;
    const hash = hashOf(name, 0, name.length);
    const mask = this.slots.length - 1;
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const taken = this.slots[slot] as number;
      if (taken === 0) return -1;
      const index = taken - 1;
      if (this.hashes[index] !== hash) continue;
      const start = this.starts[index] as number;
      if (start >= 0 && this.text.startsWith(name, start) && this.text.charCodeAt(start + name.length) === SPACE) return index;
    }
  }

  private nameAt(index: number): string {
    const start = this.starts[index] as number;
    return this.text.slice(start, this.text.indexOf(' ', start));
  }

  private secretAt(index: number): string {
    const from = this.text.indexOf(' ', this.starts[index]) + 1;
    let end = this.text.indexOf('\n', from);
    if (end < 0) end = this.text.length;
    if (this.text.charCodeAt(end - 1) === CR) end--;
    return this.text.slice(from, end);
  }

  /** True when the name of account `index` is the text from `start` to `end`. */
  private nameAtIs(index: number, start: number, end: number): boolean {
    const at = this.starts[index] as number;
    if (at < 0 || this.text.charCodeAt(at + end - start) !== SPACE) return false;
    for (let i = 0; i < end - start; i++) if (this.text.charCodeAt(at + i) !== this.text.charCodeAt(start + i)) return false;
    return true;
  }

  /** Puts `taken` (an index plus one) in the first free slot from `hash`'s. */
  private place(hash: number, taken: number): void {
    const mask = this.slots.length - 1;
    let slot = hash & mask;
    while (this.slots[slot] !== 0) slot = (slot + 1) & mask;
    this.slots[slot] = taken;
  }

  private rehash(size: number): void {
    this.slots = new Int32Array(size);
    for (let i = 0; i < this.count; i++) this.place(this.hashes[i] as number, i + 1);
  }
}

/** Per process, so that nobody can choose names that all land in one place. */
const SEED = (Math.random() * 2 ** 32) | 0;

/**
 * FNV-1a over the UTF-16 units of `text` from `from` to `to`, from a random basis, then murmur3's
 * final mix (the table uses the low bits). In JS: a native hash needs a string for each name, and
 * the file's 19,000 strings made at start were what this index is here to avoid.
 */
function hashOf(text: string, from: number, to: number): number {
  let hash = 0x811c9dc5 ^ SEED;
  for (let i = from; i < to; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  return hash ^ (hash >>> 16);
}

function grown(array: Int32Array, length: number): Int32Array<ArrayBuffer> {
  const bigger = new Int32Array(length);
  bigger.set(array);
  return bigger;
}
