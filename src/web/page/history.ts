// What the page remembers between reloads, per server instance and user (WEB-3): every
// conversation, the keys of the messages shown (CLU-3), which conversation was open, what is blocked.
// Pure apart from the Storage it is given (localStorage in the page, a Map in tests). Never a password.

import { ShownOnce, type ShownSaved, type Sighting } from '../../protocol/shown-once.ts';

/** The conversation of broadcasts; user names cannot contain a space, so no user is called this. */
export const EVERYONE = '* everyone';

/** What happened to one of your own messages. */
export type Fate = 'sending' | 'delivered' | 'stored' | 'sent' | 'partial' | 'refused' | 'unknown';

export interface Entry {
  /** The server's message id (own messages get theirs, the key, with the reply). */
  id?: number;
  /** A received message's key (CLU-3): what it is shown once by. Servers before keys send none. */
  key?: number;
  from: string;
  at: number;
  body: string;
  /** Stored by the server while you were away (OFF-2). */
  offline?: boolean;
  /** Own messages only. */
  mine?: boolean;
  fate?: Fate;
  /** Why it was refused, or who it reached. */
  note?: string;
}

export interface Conversation {
  entries: Entry[];
  unread: number;
  /** You block this user (as far as this browser knows: the server does not list blocks). */
  blocked?: boolean;
}

interface Saved {
  v: 1;
  /** Highest id shown of messages without a key (all there was before keys). */
  seen: number;
  /** The keys of the latest messages shown (CLU-3); absent in what older pages saved. */
  keys?: ShownSaved['keys'];
  current: string | undefined;
  conversations: Record<string, Conversation>;
}

/** The part of the Web Storage API used here. */
export interface KeyValue {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

/** Entries kept per conversation; older ones are dropped. */
export const KEEP_ENTRIES = 500;

export class History {
  private data: Saved;
  private readonly shown: ShownOnce;

  constructor(
    private readonly storage: KeyValue,
    /** The server's database instance (the `server` field of welcome) and the user. */
    readonly key: string,
  ) {
    this.data = History.read(storage, key);
    this.shown = new ShownOnce({ keys: this.data.keys, upTo: this.data.seen });
  }

  static keyFor(server: unknown, user: string): string {
    return `chat/${String(server)}/${user}`;
  }

  private static read(storage: KeyValue, key: string): Saved {
    try {
      const raw = storage.getItem(key);
      const value = raw ? (JSON.parse(raw) as Saved) : undefined;
      if (value && value.v === 1 && typeof value.seen === 'number' && value.conversations) return value;
    } catch {
      // Unreadable: start afresh (at worst a message is shown twice).
    }
    return { v: 1, seen: 0, current: undefined, conversations: {} };
  }

  /** Writes everything; failing (storage full, private mode) only costs what a reload remembers. */
  save(): void {
    const { keys, upTo } = this.shown.toJSON();
    this.data.keys = keys;
    this.data.seen = upTo;
    try {
      this.storage.setItem(this.key, JSON.stringify(this.data));
    } catch {
      // ignored on purpose, see above
    }
  }

  /** Highest id shown of messages without a key. */
  get seen(): number {
    return this.shown.upTo;
  }

  get current(): string | undefined {
    return this.data.current;
  }

  set current(name: string | undefined) {
    this.data.current = name;
    if (name) this.conversation(name).unread = 0;
  }

  names(): string[] {
    return Object.keys(this.data.conversations);
  }

  conversation(name: string): Conversation {
    let c = this.data.conversations[name];
    if (!c) this.data.conversations[name] = c = { entries: [], unread: 0 };
    return c;
  }

  has(name: string): boolean {
    return name in this.data.conversations;
  }

  /**
   * A routed message from the server. Returns false (and keeps nothing) when it was shown before,
   * by its key (without one, when its id is at or below the highest shown): after a reload or a
   * reconnect the server sends again what was not acknowledged, and after a node died another
   * node may send it with a new id (CLU-3).
   */
  receive(conversation: string, entry: Entry & Sighting, looking = this.data.current === conversation): boolean {
    if (!this.shown.firstSight(entry)) return false;
    const c = this.conversation(conversation);
    this.push(c, entry);
    // Unread unless it is the open conversation and the user is looking at it (the tab is visible).
    if (!looking) c.unread++;
    return true;
  }

  /** One of your own messages, just sent; returns the entry to update when the reply comes. */
  sent(conversation: string, entry: Entry): Entry {
    this.push(this.conversation(conversation), entry);
    return entry;
  }

  /** Messages still waiting for a reply when the connection dropped: their fate is unknown. */
  orphan(): void {
    for (const c of Object.values(this.data.conversations)) {
      for (const e of c.entries) if (e.fate === 'sending') e.fate = 'unknown';
    }
  }

  unreadTotal(): number {
    return Object.values(this.data.conversations).reduce((n, c) => n + c.unread, 0);
  }

  private push(c: Conversation, entry: Entry): void {
    c.entries.push(entry);
    if (c.entries.length > KEEP_ENTRIES) c.entries.splice(0, c.entries.length - KEEP_ENTRIES);
  }
}
