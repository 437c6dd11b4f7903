// Building the page's DOM. User data only ever goes in as text (textContent, text nodes, attribute
// values): never as HTML (WEB-4), so `<img src=x onerror=…>` in a message shows as those characters.

import { EVERYONE, type Entry, type Fate } from './history.ts';

type Child = Node | string | null | undefined | false;

/** `el('li', { class: 'mine' }, 'text', otherNode)`: children that are strings become text nodes. */
export function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  for (const child of children) if (child) node.append(child);
  return node;
}

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const node = document.getElementById(id);
  if (!node) throw new Error(`the page has no #${id}`);
  return node as T;
}

/** Puts `text` in `where` (as text) and moves the focus, if asked. `info`: not an error. */
export function say(where: HTMLElement, text: string, focus?: HTMLElement, info = false): void {
  where.textContent = text;
  where.classList.toggle('info', info);
  focus?.focus();
}

export function title(conversation: string): string {
  return conversation === EVERYONE ? 'Everyone (broadcasts)' : conversation;
}

const FATE_TEXT: Record<Fate, string> = {
  sending: 'sending…',
  delivered: 'delivered',
  stored: 'stored for later: they are offline',
  sent: 'sent',
  partial: 'sent; some users did not get it',
  refused: 'refused',
  unknown: 'not confirmed: the connection dropped before the server answered',
};

export function fateText(entry: Entry): string {
  const fate = entry.fate ?? 'sending';
  return entry.note ? `${FATE_TEXT[fate]}: ${entry.note}` : FATE_TEXT[fate];
}

function timeText(at: number): string {
  const d = new Date(at);
  const today = new Date().toDateString() === d.toDateString();
  return today ? d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) : d.toLocaleString([], { dateStyle: 'short', timeStyle: 'short' });
}

/** One message as a list item; own messages carry their fate. */
export function messageItem(entry: Entry): HTMLLIElement {
  const meta = el('div', { class: 'meta' }, el('span', { class: 'from' }, entry.mine ? 'You' : entry.from), el('time', { datetime: new Date(entry.at).toISOString() }, timeText(entry.at)));
  if (entry.offline) meta.append(el('span', { class: 'offline-tag' }, 'sent while you were away'));
  const item = el('li', { class: entry.mine ? 'mine' : 'theirs' }, meta, el('p', { class: 'body' }, entry.body));
  if (entry.mine) {
    const fate = el('span', { class: `fate fate-${entry.fate ?? 'sending'}` }, fateText(entry));
    item.querySelector('.meta')?.append(fate);
  }
  return item;
}

/** A line of the conversation that is not a message (a presence change, a block). */
export function systemItem(text: string): HTMLLIElement {
  return el('li', { class: 'system' }, text);
}

export interface PersonRow {
  name: string;
  online: boolean;
  unread: number;
  current: boolean;
}

export function personItem(row: PersonRow, open: (name: string) => void): HTMLLIElement {
  const everyone = row.name === EVERYONE;
  const state = everyone ? 'broadcasts' : row.online ? 'online' : 'offline';
  const label = `${title(row.name)}, ${state}${row.unread ? `, ${row.unread} unread` : ''}`;
  const button = el(
    'button',
    { type: 'button', 'aria-label': label, 'aria-current': String(row.current), 'data-name': row.name },
    el('span', { class: `dot${row.online || everyone ? ' online' : ''}`, 'aria-hidden': 'true' }),
    el('span', { class: 'name' }, title(row.name)),
    row.unread > 0 && el('span', { class: 'badge', 'aria-hidden': 'true' }, String(row.unread)),
  );
  button.addEventListener('click', () => open(row.name));
  return el('li', {}, button);
}
