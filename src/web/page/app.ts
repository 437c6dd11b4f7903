// The web client (WEB-2, WEB-3): login and registration, conversations, presence, broadcasts,
// blocks, whoelsesince, each own message's fate, reconnecting with backoff. The password lives
// only in this page's memory, to log in again after a drop; it is never written to any storage.

import type { MessageLine, OkLine, ServerLine } from '../../protocol/server-lines.ts';
import { EVERYONE, History, type Entry } from './history.ts';
import { byId, messageItem, personItem, systemItem, title } from './view.ts';
import { Wire, type Reply } from './wire.ts';

/** The server's text limit, in code points (docs/PROTOCOL.md). */
const MAX_TEXT_CHARS = 2000;
const BACKOFF_MS = [500, 1000, 2000, 4000, 8000, 15000];
/** Reconnects answered "already online" before the page believes it (about 15 s of backoff). */
const ALREADY_ONLINE_TRIES = 5;

const wsUrl = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;

const ui = {
  connection: byId('connection'),
  loginScreen: byId('login-screen'),
  loginForm: byId<HTMLFormElement>('login-form'),
  username: byId<HTMLInputElement>('username'),
  password: byId<HTMLInputElement>('password'),
  passwordRow: byId('password-row'),
  repeat: byId<HTMLInputElement>('password-repeat'),
  repeatRow: byId('repeat-row'),
  loginMessage: byId('login-message'),
  loginBack: byId<HTMLButtonElement>('login-back'),
  chatScreen: byId('chat-screen'),
  me: byId('me'),
  notifyButton: byId<HTMLButtonElement>('notify-button'),
  logoutButton: byId<HTMLButtonElement>('logout-button'),
  openForm: byId<HTMLFormElement>('open-form'),
  openName: byId<HTMLInputElement>('open-name'),
  people: byId('people'),
  sinceForm: byId<HTMLFormElement>('since-form'),
  sinceMinutes: byId<HTMLInputElement>('since-minutes'),
  sinceResult: byId('since-result'),
  back: byId<HTMLButtonElement>('back-button'),
  conversationTitle: byId('conversation-title'),
  conversationPresence: byId('conversation-presence'),
  blockButton: byId<HTMLButtonElement>('block-button'),
  privateNote: byId('private-note'),
  messages: byId<HTMLOListElement>('messages'),
  notice: byId('notice'),
  composer: byId<HTMLFormElement>('composer'),
  text: byId<HTMLTextAreaElement>('text'),
};

let wire: Wire | undefined;
/** Set once logged in; the password is kept (in memory only) to log in again after a drop. */
let me: { user: string; password: string } | undefined;
let history: History | undefined;
const online = new Set<string>();
/** Logging in: the username given and whether the server called it a new account. */
let pending: { user: string; newAccount: boolean } | undefined;
/** Why the server is closing (its `bye`), so the close handler knows whether to reconnect. */
let byeCode: string | undefined;
let attempt = 0;
let retryTimer: ReturnType<typeof setTimeout> | undefined;
/** Highest message id handled and not yet acknowledged, and the timer that will. */
let ackUpTo = 0;
let ackTimer: ReturnType<typeof setTimeout> | undefined;
/**
 * Acks are cumulative and cost the rate budget: one for everything that came within this long
 * (each frame is its own task, so a backlog of thousands would otherwise send thousands of acks).
 */
const ACK_DELAY_MS = 50;
const items = new WeakMap<Entry, HTMLLIElement>();

// ---------------------------------------------------------------------------------------------
// Connecting and logging in

function connect(): Wire {
  byeCode = undefined;
  const w = new Wire(wsUrl, (line) => wire === w && onEvent(line), (code) => wire === w && onClose(code));
  wire = w;
  return w;
}

function showLogin(message = ''): void {
  me = undefined;
  history = undefined;
  pending = undefined;
  ui.chatScreen.hidden = true;
  ui.loginScreen.hidden = false;
  ui.connection.hidden = true;
  ui.repeatRow.hidden = true;
  ui.loginBack.hidden = true;
  ui.username.disabled = false;
  ui.password.value = '';
  ui.repeat.value = '';
  ui.loginMessage.textContent = message;
  document.title = 'chat';
  (ui.username.value ? ui.password : ui.username).focus();
}

ui.loginForm.addEventListener('submit', (e) => {
  e.preventDefault();
  void submitLogin();
});

ui.loginBack.addEventListener('click', () => {
  wire?.close();
  wire = undefined;
  showLogin();
  ui.username.focus();
});

async function submitLogin(): Promise<void> {
  const user = ui.username.value.trim();
  const password = ui.password.value;
  if (!user) return say(ui.loginMessage, 'Type your username.', ui.username);
  if (!password) return say(ui.loginMessage, 'Type your password.', ui.password);
  if (/\s/.test(password)) return say(ui.loginMessage, 'Passwords cannot contain spaces.', ui.password);
  if (pending?.newAccount && pending.user === user) {
    if (ui.repeat.value !== password) return say(ui.loginMessage, 'The two passwords differ: type the same one twice.', ui.repeat);
  }
  ui.loginMessage.textContent = 'Logging in…';
  let w = wire;
  if (!w || !w.open || pending?.user !== user) {
    w?.close();
    w = connect();
    pending = undefined;
    try {
      await w.opened;
    } catch {
      return say(ui.loginMessage, 'Cannot reach the chat server. Try again in a moment.');
    }
  }
  if (!pending) {
    const reply = await w.request(`login ${user}`);
    if (reply.type === 'error') return say(ui.loginMessage, reply.text, ui.username);
    pending = { user, newAccount: reply.code === 'new-account' };
    if (pending.newAccount) {
      ui.repeatRow.hidden = false;
      ui.loginBack.hidden = false;
      ui.username.disabled = true;
      return say(ui.loginMessage, `${user} has no account yet. Type the password again to create it.`, ui.repeat);
    }
  }
  const reply = await w.request(`password ${password}`);
  if (reply.type === 'error') {
    if (reply.code === 'already-online') {
      pending = undefined;
      return say(ui.loginMessage, `${user} is already logged in somewhere else (another tab, browser or terminal). One session per user: log out there first. (The server does not let a new login take over.)`);
    }
    if (reply.code !== 'wrong-password') pending = undefined;
    return say(ui.loginMessage, reply.text, ui.password);
  }
  ui.password.value = '';
  ui.repeat.value = '';
  enterChat(user, password, reply);
}

function say(where: HTMLElement, text: string, focus?: HTMLElement): void {
  where.textContent = text;
  focus?.focus();
}

function enterChat(user: string, password: string, welcome: OkLine): void {
  me = { user, password };
  pending = undefined;
  attempt = 0;
  history = new History(localStorage, History.keyFor(welcome.server, user));
  wire?.pace(welcome.rateLimit);
  ui.loginScreen.hidden = true;
  ui.chatScreen.hidden = false;
  ui.connection.hidden = true;
  ui.me.textContent = `Logged in as ${user}`;
  ui.loginMessage.textContent = '';
  ui.notifyButton.hidden = !('Notification' in window) || Notification.permission !== 'default';
  void refreshOnline();
  if (!history.current) ui.chatScreen.classList.add('show-list');
  openConversation(history.current ?? EVERYONE, false);
}

async function refreshOnline(): Promise<void> {
  const reply = await wire?.request('whoelse');
  if (reply?.type !== 'ok') return;
  online.clear();
  for (const name of reply.users as string[]) online.add(name);
  renderPeople();
  renderHeader();
}

function onClose(code: number): void {
  wire = undefined;
  history?.orphan();
  history?.save();
  if (!me) {
    if (pending || code !== 1000) say(ui.loginMessage, 'The connection to the server closed. Try again.');
    pending = undefined;
    ui.username.disabled = false;
    return;
  }
  if (byeCode === 'logout') return showLogin('You logged out.');
  if (byeCode === 'timeout') return showLogin('You were logged out after a while without activity. Log in again to go on.');
  reconnectLater();
}

function reconnectLater(): void {
  const delay = (BACKOFF_MS[Math.min(attempt, BACKOFF_MS.length - 1)] as number) * (0.8 + Math.random() * 0.4);
  attempt++;
  ui.connection.hidden = false;
  ui.connection.textContent = `Connection lost. Reconnecting in ${Math.ceil(delay / 1000)} s… (your conversations are kept)`;
  clearTimeout(retryTimer);
  retryTimer = setTimeout(() => void reconnect(), delay);
}

/** Logs in again after a drop, without reloading: the conversation stays on screen. */
async function reconnect(): Promise<void> {
  if (!me) return;
  const { user, password } = me;
  ui.connection.textContent = 'Reconnecting…';
  const w = connect();
  try {
    await w.opened;
  } catch {
    return; // onClose schedules the next try
  }
  const first = await w.request(`login ${user}`);
  const reply = first.type === 'ok' ? await w.request(`password ${password}`) : first;
  if (reply.type === 'ok' && reply.code === 'welcome') {
    enterChat(user, password, reply);
    return;
  }
  if (reply.type === 'error' && reply.code === 'already-online' && attempt < ALREADY_ONLINE_TRIES) {
    // Most often the server has not yet noticed that the old connection is gone: it will, soon.
    // If it still says so after a few tries, the user really is logged in elsewhere.
    ui.connection.textContent = `The server still sees ${user} as online; trying again…`;
    w.close();
    return;
  }
  wire = undefined;
  w.close();
  const text = reply.type === 'error' && reply.code === 'already-online' ? `${user} is now logged in somewhere else (another tab, browser or terminal). One session per user: log out there first.` : reply.type === 'error' ? reply.text : 'Could not log in again.';
  showLogin(text);
}

// ---------------------------------------------------------------------------------------------
// Events from the server

function onEvent(line: ServerLine): void {
  switch (line.type) {
    case 'message':
    case 'broadcast':
      return receive(line);
    case 'presence':
      for (const name of line.users) {
        if (line.online) online.add(name);
        else online.delete(name);
      }
      renderPeople();
      renderHeader();
      return;
    case 'bye':
      byeCode = line.code;
      if (line.code === 'shutdown') ui.notice.textContent = line.text;
      return;
    case 'error':
      ui.notice.textContent = line.text;
      return;
    default:
      // private-* cannot reach a web client (the server refuses them); anything else is ignored.
      return;
  }
}

function receive(line: MessageLine): void {
  if (!history || !me) return;
  const conversation = line.type === 'broadcast' ? EVERYONE : line.from;
  const entry: Entry & { id: number } = { id: line.id, from: line.from, at: line.at, body: line.body, ...(line.offline && { offline: true }) };
  const fresh = history.receive(conversation, entry, conversation === history.current && !document.hidden);
  if (fresh) {
    if (conversation === history.current) append(entry);
    if (line.type === 'message' && document.hidden) notify(line.from, line.body);
    renderPeople();
  }
  // Saved before the server hears the ack, so a reload never shows it again (WEB-3).
  ackUpTo = Math.max(ackUpTo, line.id);
  ackTimer ??= setTimeout(flushAck, ACK_DELAY_MS);
}

function flushAck(): void {
  ackTimer = undefined;
  if (ackUpTo === 0) return;
  history?.save();
  wire?.notify(`ack ${ackUpTo}`);
  ackUpTo = 0;
}

function notify(from: string, body: string): void {
  if (!('Notification' in window) || Notification.permission !== 'granted') return;
  try {
    new Notification(`chat: ${from}`, { body: body.slice(0, 200), tag: `chat-${from}` });
  } catch {
    // Some browsers only allow notifications from a service worker: the title still counts.
  }
}

// Back to the tab: the open conversation has been read.
document.addEventListener('visibilitychange', () => {
  if (document.hidden || !history?.current) return;
  history.current = history.current;
  history.save();
  renderPeople();
});

ui.notifyButton.addEventListener('click', () => {
  void Notification.requestPermission().then(() => {
    ui.notifyButton.hidden = Notification.permission !== 'default';
  });
});

// ---------------------------------------------------------------------------------------------
// Conversations

function openConversation(name: string, focus = true): void {
  if (!history) return;
  history.current = name;
  history.conversation(name);
  history.save();
  ui.chatScreen.classList.toggle('show-list', !focus && ui.chatScreen.classList.contains('show-list'));
  ui.messages.replaceChildren(...history.conversation(name).entries.map(render));
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

function append(entry: Entry): void {
  const atBottom = ui.messages.scrollHeight - ui.messages.scrollTop - ui.messages.clientHeight < 40;
  ui.messages.append(render(entry));
  if (atBottom || entry.mine) ui.messages.scrollTop = ui.messages.scrollHeight;
}

function rerender(entry: Entry): void {
  const old = items.get(entry);
  if (old?.isConnected) old.replaceWith(render(entry));
}

function renderHeader(): void {
  if (!history?.current) return;
  const name = history.current;
  const everyone = name === EVERYONE;
  ui.conversationTitle.textContent = title(name);
  ui.conversationPresence.textContent = everyone ? `${online.size} others online` : online.has(name) ? 'online' : 'offline: messages wait for them';
  ui.blockButton.hidden = everyone;
  ui.blockButton.textContent = history.conversation(name).blocked ? 'Unblock' : 'Block';
  ui.privateNote.hidden = everyone;
  ui.text.placeholder = everyone ? 'Write to everyone online' : `Write to ${name}`;
}

function renderPeople(): void {
  if (!history || !me) return;
  const self = me.user;
  const names = new Set([...online, ...history.names()]);
  names.delete(EVERYONE);
  names.delete(self);
  const sorted = [...names].sort((a, b) => Number(online.has(b)) - Number(online.has(a)) || a.localeCompare(b));
  const h = history;
  const rows = [EVERYONE, ...sorted].map((name) => ({ name, online: online.has(name), unread: h.has(name) ? h.conversation(name).unread : 0, current: h.current === name }));
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
  if (name === me?.user) return say(ui.notice, 'That is you.');
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
  if (!history?.current) return;
  const lines = ui.text.value.split('\n').map((l) => l.replace(/\r$/, '')).filter((l) => l.trim() !== '');
  if (lines.length === 0) return;
  const tooLong = lines.find((l) => [...l].length > MAX_TEXT_CHARS);
  if (tooLong) return say(ui.notice, `A message can have at most ${MAX_TEXT_CHARS} characters; that one has ${[...tooLong].length}. Nothing was sent.`);
  if (!wire?.open || !me) return say(ui.notice, 'Not connected: your text is kept and can be sent once the page has reconnected.');
  ui.text.value = '';
  ui.notice.textContent = '';
  for (const line of lines) void send(history.current, line);
});

async function send(to: string, body: string): Promise<void> {
  if (!history || !me || !wire) return;
  const h = history;
  const entry = h.sent(to, { from: me.user, at: Date.now(), body, mine: true, fate: 'sending' });
  if (to === h.current) append(entry);
  h.save();
  const reply = await wire.request(to === EVERYONE ? `broadcast ${body}` : `message ${to} ${body}`);
  settle(entry, reply);
  h.save();
  rerender(entry);
}

function settle(entry: Entry, reply: Reply): void {
  if (reply.type === 'error') {
    entry.fate = reply.code === 'internal' && !wire ? 'unknown' : 'refused';
    entry.note = reply.code === 'internal' && !wire ? undefined : reply.text;
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
  const name = history?.current;
  if (!history || !name || name === EVERYONE || !wire) return;
  const c = history.conversation(name);
  const reply = await wire.request(`${c.blocked ? 'unblock' : 'block'} ${name}`);
  if (reply.type === 'ok') c.blocked = reply.code === 'blocked';
  else if (reply.code === 'already-blocked') c.blocked = true;
  else if (reply.code === 'not-blocked') c.blocked = false;
  history.save();
  ui.notice.textContent = reply.text ?? (c.blocked ? `You blocked ${name}` : `You unblocked ${name}`);
  if (history.current === name) ui.messages.append(systemItem(ui.notice.textContent));
  renderHeader();
});

ui.sinceForm.addEventListener('submit', async (e) => {
  e.preventDefault();
  const minutes = Number(ui.sinceMinutes.value);
  if (!Number.isInteger(minutes) || minutes < 0) return say(ui.sinceResult, 'Give a whole number of minutes.');
  const reply = await wire?.request(`whoelsesince ${minutes * 60}`);
  if (!reply) return say(ui.sinceResult, 'Not connected.');
  if (reply.type === 'error') return say(ui.sinceResult, reply.text);
  const users = reply.users as string[];
  ui.sinceResult.textContent = users.length ? `In the last ${minutes} min: ${users.join(', ')}` : `Nobody else in the last ${minutes} min.`;
});

ui.logoutButton.addEventListener('click', () => {
  clearTimeout(retryTimer);
  if (wire?.open) {
    byeCode = 'logout'; // the reply is `ok bye`, then the server closes: no reconnecting
    void wire.request('logout');
  } else {
    wire = undefined;
    showLogin('You logged out.');
  }
});

// The bundle loads as a module, after the markup: start at the login form.
showLogin();
