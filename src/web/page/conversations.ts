// The conversations: the list of people, the open conversation, sending and each message's fate,
// block/unblock and whoelsesince. app.ts connects and logs in; this file shows and sends.

import type { Reply } from './wire.ts';
import { EVERYONE, type Entry } from './history.ts';
import { page } from './page-state.ts';
import { ui } from './ui.ts';
import { messageItem, personItem, say, systemItem, title } from './view.ts';

/** The server's text limit, in code points (docs/PROTOCOL.md). */
const MAX_TEXT_CHARS = 2000;

const items = new WeakMap<Entry, HTMLLIElement>();

export function openConversation(name: string, focus = true): void {
  if (!page.history) return;
  page.history.current = name;
  page.history.conversation(name);
  page.history.save();
  ui.chatScreen.classList.toggle('show-list', !focus && ui.chatScreen.classList.contains('show-list'));
  ui.messages.replaceChildren(...page.history.conversation(name).entries.map(render));
  ui.messages.scrollTop = ui.messages.scrollHeight;
  ui.notice.textContent = '';
  renderHeader();
  renderPeople();
  if (focus) ui.text.focus();
}

function render(entry: Entry): HTMLLIElement {
  const item = messageItem(entry);
  items.set(entry, item);
  return item;
}

export function append(entry: Entry): void {
  const atBottom = ui.messages.scrollHeight - ui.messages.scrollTop - ui.messages.clientHeight < 40;
  ui.messages.append(render(entry));
  if (atBottom || entry.mine) ui.messages.scrollTop = ui.messages.scrollHeight;
}

function rerender(entry: Entry): void {
  const old = items.get(entry);
  if (old?.isConnected) old.replaceWith(render(entry));
}

export function renderHeader(): void {
  if (!page.history?.current) return;
  const name = page.history.current;
  const everyone = name === EVERYONE;
  ui.conversationTitle.textContent = title(name);
  ui.conversationPresence.textContent = everyone ? `${page.online.size} others online` : page.online.has(name) ? 'online' : 'offline: messages wait for them';
  ui.blockButton.hidden = everyone;
  ui.blockButton.textContent = page.history.conversation(name).blocked ? 'Unblock' : 'Block';
  ui.privateNote.hidden = everyone;
  ui.text.placeholder = everyone ? 'Write to everyone online' : `Write to ${name}`;
}

export function renderPeople(): void {
  if (!page.history || !page.me) return;
  const self = page.me.user;
  const names = new Set([...page.online, ...page.history.names()]);
  names.delete(EVERYONE);
  names.delete(self);
  const sorted = [...names].sort((a, b) => Number(page.online.has(b)) - Number(page.online.has(a)) || a.localeCompare(b));
  const h = page.history;
  const rows = [EVERYONE, ...sorted].map((name) => ({ name, online: page.online.has(name), unread: h.has(name) ? h.conversation(name).unread : 0, current: h.current === name }));
  const focused = (document.activeElement as HTMLElement | null)?.dataset?.name;
  ui.people.replaceChildren(...rows.map((row) => personItem(row, (n) => openConversation(n))));
  if (focused) ui.people.querySelector<HTMLButtonElement>(`button[data-name="${CSS.escape(focused)}"]`)?.focus();
  const unread = h.unreadTotal();
  document.title = unread > 0 ? `(${unread}) chat — ${self}` : `chat — ${self}`;
}

ui.openForm.addEventListener('submit', (e) => {
  e.preventDefault();
  const name = ui.openName.value.trim();
  if (!name) return;
  if (/\s/.test(name)) return say(ui.notice, 'Usernames have no spaces.');
  if (name === page.me?.user) return say(ui.notice, 'That is you.');
  ui.openName.value = '';
  openConversation(name);
});

ui.back.addEventListener('click', () => {
  ui.chatScreen.classList.add('show-list');
  ui.people.querySelector<HTMLButtonElement>('button[aria-current="true"]')?.focus();
});

// ---------------------------------------------------------------------------------------------
// Sending

ui.text.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    ui.composer.requestSubmit();
  }
});

ui.composer.addEventListener('submit', (e) => {
  e.preventDefault();
  if (!page.history?.current) return;
  const lines = ui.text.value.split('\n').map((l) => l.replace(/\r$/, '')).filter((l) => l.trim() !== '');
  if (lines.length === 0) return;
  const tooLong = lines.find((l) => [...l].length > MAX_TEXT_CHARS);
  if (tooLong) return say(ui.notice, `A message can have at most ${MAX_TEXT_CHARS} characters; that one has ${[...tooLong].length}. Nothing was sent.`);
  if (!page.wire?.open || !page.me) return say(ui.notice, 'Not connected: your text is kept and can be sent once the page has reconnected.');
  ui.text.value = '';
  ui.notice.textContent = '';
  for (const line of lines) void send(page.history.current, line);
});

async function send(to: string, body: string): Promise<void> {
  if (!page.history || !page.me || !page.wire) return;
  const h = page.history;
  const entry = h.sent(to, { from: page.me.user, at: Date.now(), body, mine: true, fate: 'sending' });
  if (to === h.current) append(entry);
  h.save();
  const reply = await page.wire.request(to === EVERYONE ? `broadcast ${body}` : `message ${to} ${body}`);
  settle(entry, reply);
  h.save();
  rerender(entry);
}

function settle(entry: Entry, reply: Reply): void {
  if (reply.type === 'error') {
    entry.fate = reply.code === 'internal' && !page.wire ? 'unknown' : 'refused';
    entry.note = reply.code === 'internal' && !page.wire ? undefined : reply.text;
    return;
  }
  if (typeof reply.id === 'number') entry.id = reply.id;
  if (reply.code === 'delivered' || reply.code === 'stored') entry.fate = reply.code;
  else if (reply.code === 'sent' || reply.code === 'partial') {
    entry.fate = reply.code;
    entry.note = `reached ${String(reply.reached)} ${reply.reached === 1 ? 'user' : 'users'}`;
  }
}

// ---------------------------------------------------------------------------------------------
// Block, whoelsesince, logout

ui.blockButton.addEventListener('click', async () => {
  const name = page.history?.current;
  if (!page.history || !name || name === EVERYONE || !page.wire) return;
  const c = page.history.conversation(name);
  const reply = await page.wire.request(`${c.blocked ? 'unblock' : 'block'} ${name}`);
  if (reply.type === 'ok') c.blocked = reply.code === 'blocked';
  else if (reply.code === 'already-blocked') c.blocked = true;
  else if (reply.code === 'not-blocked') c.blocked = false;
  page.history.save();
  ui.notice.textContent = reply.text ?? (c.blocked ? `You blocked ${name}` : `You unblocked ${name}`);
  if (page.history.current === name) ui.messages.append(systemItem(ui.notice.textContent));
  renderHeader();
});

ui.sinceForm.addEventListener('submit', async (e) => {
  e.preventDefault();
  const minutes = Number(ui.sinceMinutes.value);
  if (!Number.isInteger(minutes) || minutes < 0) return say(ui.sinceResult, 'Give a whole number of minutes.');
  const reply = await page.wire?.request(`whoelsesince ${minutes * 60}`);
  if (!reply) return say(ui.sinceResult, 'Not connected.');
  if (reply.type === 'error') return say(ui.sinceResult, reply.text);
  const users = reply.users as string[];
  ui.sinceResult.textContent = users.length ? `In the last ${minutes} min: ${users.join(', ')}` : `Nobody else in the last ${minutes} min.`;
});
