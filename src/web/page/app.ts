// The web client (WEB-2, WEB-3), its entry point: connecting, login and registration, events from
// the server (messages, presence), acks, notifications, reconnecting with backoff, logout. What is
// shown and sent is in conversations.ts. The password lives only in this page's memory (page-state.ts),
// to log in again after a drop; it is never written to any storage.

import type { MessageLine, OkLine, ServerLine } from '../../protocol/server-lines.ts';
import { append, openConversation, renderHeader, renderPeople } from './conversations.ts';
import { EVERYONE, History, type Entry } from './history.ts';
import { page } from './page-state.ts';
import { ui } from './ui.ts';
import { say } from './view.ts';
import { Wire } from './wire.ts';

const BACKOFF_MS = [500, 1000, 2000, 4000, 8000, 15000];
/** Reconnects answered "already online" before the page believes it (about 15 s of backoff). */
const ALREADY_ONLINE_TRIES = 5;

const wsUrl = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;

/** Logging in: the username given and whether the server called it a new account. */
let pending: { user: string; newAccount: boolean } | undefined;
/** Why the server is closing (its `bye`), so the close handler knows whether to reconnect. */
let byeCode: string | undefined;
/** The server's last words before it closed (a `bye`, or an error that is no reply), to show at the login. */
let lastWords: string | undefined;
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

// ---------------------------------------------------------------------------------------------
// Connecting and logging in

function connect(): Wire {
  byeCode = undefined;
  lastWords = undefined;
  const w = new Wire(wsUrl, (line) => page.wire === w && onEvent(line), (code) => page.wire === w && onClose(code));
  page.wire = w;
  return w;
}

function showLogin(message = '', info = false): void {
  page.me = undefined;
  page.history = undefined;
  pending = undefined;
  ui.chatScreen.hidden = true;
  ui.loginScreen.hidden = false;
  ui.connection.hidden = true;
  ui.repeatRow.hidden = true;
  ui.loginBack.hidden = true;
  ui.username.disabled = false;
  ui.password.value = '';
  ui.repeat.value = '';
  say(ui.loginMessage, message, undefined, info);
  document.title = 'chat';
  (ui.username.value ? ui.password : ui.username).focus();
}

ui.loginForm.addEventListener('submit', (e) => {
  e.preventDefault();
  void submitLogin();
});

ui.loginBack.addEventListener('click', () => {
  page.wire?.close();
  page.wire = undefined;
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
  say(ui.loginMessage, 'Logging in…', undefined, true);
  let w = page.wire;
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
      return say(ui.loginMessage, `${user} has no account yet. Type the password again to create it.`, ui.repeat, true);
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

function enterChat(user: string, password: string, welcome: OkLine): void {
  page.me = { user, password };
  pending = undefined;
  attempt = 0;
  page.history = new History(localStorage, History.keyFor(welcome.server, user));
  page.wire?.pace(welcome.rateLimit);
  ui.loginScreen.hidden = true;
  ui.chatScreen.hidden = false;
  ui.connection.hidden = true;
  ui.me.textContent = `Logged in as ${user}`;
  ui.loginMessage.textContent = '';
  ui.notifyButton.hidden = !('Notification' in window) || Notification.permission !== 'default';
  void refreshOnline();
  if (!page.history.current) ui.chatScreen.classList.add('show-list');
  openConversation(page.history.current ?? EVERYONE, false);
}

async function refreshOnline(): Promise<void> {
  const reply = await page.wire?.request('whoelse');
  if (reply?.type !== 'ok') return;
  page.online.clear();
  for (const name of reply.users as string[]) page.online.add(name);
  renderPeople();
  renderHeader();
}

function onClose(code: number): void {
  page.wire = undefined;
  page.history?.orphan();
  page.history?.save();
  if (!page.me) {
    if (lastWords) say(ui.loginMessage, lastWords);
    else if (pending || code !== 1000) say(ui.loginMessage, 'The connection to the server closed. Try again.');
    pending = undefined;
    ui.username.disabled = false;
    return;
  }
  if (byeCode === 'logout') return showLogin('You logged out.', true);
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
  if (!page.me) return;
  const { user, password } = page.me;
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
  page.wire = undefined;
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
        if (line.online) page.online.add(name);
        else page.online.delete(name);
      }
      renderPeople();
      renderHeader();
      return;
    case 'bye':
      byeCode = line.code;
      lastWords = line.text;
      if (line.code === 'shutdown') ui.notice.textContent = line.text;
      return;
    case 'error':
      lastWords = line.text;
      ui.notice.textContent = line.text;
      return;
    default:
      // private-* cannot reach a web client (the server refuses them); anything else is ignored.
      return;
  }
}

function receive(line: MessageLine): void {
  if (!page.history || !page.me) return;
  const conversation = line.type === 'broadcast' ? EVERYONE : line.from;
  const entry: Entry & { id: number } = { id: line.id, ...(line.key !== undefined && { key: line.key }), from: line.from, at: line.at, body: line.body, ...(line.offline && { offline: true }) };
  // Shown once by its key (CLU-3); the ack names the id it came with.
  const fresh = page.history.receive(conversation, entry, conversation === page.history.current && !document.hidden);
  if (fresh) {
    if (conversation === page.history.current) append(entry);
    if (line.type === 'message' && document.hidden) notify(line.from, line.body);
    renderPeople();
  }
  // Saved before the server hears the ack, so a reload never shows it again (WEB-3). Broadcasts
  // need no ack (docs/PROTOCOL.md): they are only saved.
  if (line.type === 'message') ackUpTo = Math.max(ackUpTo, line.id);
  ackTimer ??= setTimeout(flushAck, ACK_DELAY_MS);
}

function flushAck(): void {
  ackTimer = undefined;
  page.history?.save();
  if (ackUpTo === 0) return;
  page.wire?.notify(`ack ${ackUpTo}`);
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
  if (document.hidden || !page.history?.current) return;
  page.history.current = page.history.current;
  page.history.save();
  renderPeople();
});

ui.notifyButton.addEventListener('click', () => {
  void Notification.requestPermission().then(() => {
    ui.notifyButton.hidden = Notification.permission !== 'default';
  });
});

ui.logoutButton.addEventListener('click', () => {
  clearTimeout(retryTimer);
  if (page.wire?.open) {
    byeCode = 'logout'; // the reply is `ok bye`, then the server closes: no reconnecting
    void page.wire.request('logout');
  } else {
    page.wire = undefined;
    showLogin('You logged out.', true);
  }
});

// The bundle loads as a module, after the markup: start at the login form. Not inside another
// site's frame, though (clickjacking): Bun's page route sends no frame-ancestors header, and a
// CSP in a meta element cannot say it, so the page refuses to run framed.
if (window.top !== window.self) {
  document.body.replaceChildren(document.createTextNode('This chat page does not work inside a frame: open it in its own tab.'));
} else {
  showLogin();
}
