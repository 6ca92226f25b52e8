// /me/live in the browser (components/me_live.py draws the frame). One websocket brings the citizen's day: a
// "home" frame lists today's tickets and the open cases (again whenever they change), then each open ticket's
// shared status texts (twin/ticket_feed.py) arrive tagged with the ticket, each with its channel's sequence number;
// a gap means a text was missed, so the page reconnects and takes everything again. A lost socket is retried with a
// growing, jittered pause; a socket closed because the sign-in ended (4401) is not: the page says so.
// 长辈模式: the same switch and storage as every page (light_elder.js).
import { wireElderToggle } from './light_elder.js';
import { openSocket, retryPause } from './light_socket.js';

const SESSION_ENDED = 4401;
const OPEN = new Set(['waiting', 'called', 'parked']);

const root = document.querySelector('[data-testid="me-live"]');
const texts = JSON.parse(root.dataset.texts);
const part = (id) => root.querySelector(`[data-testid="${id}"]`);
const state = { seqs: new Map(), lives: new Map(), missed: 0, connected: false, ended: false, messages: 0 };
window.__halltwinMe = state;

const fill = (template, key, value) => template.replace(`{${key}}`, String(value));

function element(tag, className, text, testid) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text) node.textContent = text;
  if (testid) node.dataset.testid = testid;
  return node;
}

function ticketCard(ticket) {
  const card = element('article', 'ticket', '', `me-live-ticket-${ticket.number}`);
  const head = element('div', 'head');
  head.append(element('h3', 'number', ticket.number));
  const status = element('span', '', '', `me-live-status-${ticket.number}`);
  status.setAttribute('role', 'status');
  head.append(status);
  card.append(head);
  const line = element('p', 'line');
  line.append(element('span', '', ticket.service), element('span', 'muted', fill(texts.taken, 'time', ticket.taken)));
  card.append(line);
  card.append(element('p', 'big', '', `me-live-ahead-${ticket.number}`));
  card.append(element('p', 'muted', '', `me-live-eta-${ticket.number}`));
  card.append(element('p', 'big called', '', `me-live-window-${ticket.number}`));
  if (ticket.arrival) card.append(element('p', 'muted', texts.arrive, `me-live-arrive-${ticket.number}`));
  if (OPEN.has(ticket.status)) {
    const follow = element('a', 'person', `${texts.follow} →`, `me-live-track-${ticket.number}`);
    follow.href = `/track/${encodeURIComponent(ticket.code)}`;
    card.append(follow);
  }
  return card;
}

function showTicket(card, number, live) {
  const waiting = live.status === 'waiting';
  const find = (id) => card.querySelector(`[data-testid="${id}-${number}"]`);
  find('me-live-status').textContent = texts[`status.${live.status}`] || live.status;
  find('me-live-ahead').textContent = !waiting || live.ahead == null ? ''
    : live.ahead > 0 ? fill(texts.ahead, 'n', live.ahead) : texts.next;
  find('me-live-eta').textContent = !waiting || live.ahead == null ? ''
    : live.eta == null ? texts.no_eta : fill(texts.eta, 'm', live.eta);
  find('me-live-window').textContent = live.status === 'called' && live.window != null
    ? fill(texts.called, 'n', live.window) : '';
}

const cards = new Map(); // ticket id -> [card, number]

function showHome(message) {
  const list = part('me-live-tickets');
  list.replaceChildren();
  cards.clear();
  for (const ticket of message.tickets) {
    const card = ticketCard(ticket);
    const read = { status: ticket.status, window: ticket.window, ahead: null, eta: null };
    showTicket(card, ticket.number, state.lives.get(ticket.id) || read); // a live text is newer than the read
    cards.set(ticket.id, [card, ticket.number]);
    list.append(card);
  }
  if (!message.tickets.length) list.append(element('p', 'muted', texts.no_tickets, 'me-live-no-tickets'));
  const cases = part('me-live-cases');
  cases.replaceChildren();
  for (const item of message.cases) {
    const row = element('div', 'case', '', `me-live-case-${item.id}`);
    const line = element('p', 'line');
    line.append(element('span', '', item.service), element('span', 'big', texts[`case.${item.status}`] || item.status));
    row.append(line);
    if (item.due) row.append(element('p', 'muted', fill(texts.due, 'date', item.due)));
    cases.append(row);
  }
  if (!message.cases.length) cases.append(element('p', 'muted', texts.no_cases, 'me-live-no-cases'));
  for (const id of [...state.seqs.keys()]) {
    if (!cards.has(id)) {
      state.seqs.delete(id);
      state.lives.delete(id);
    }
  }
}

// ---- 长辈模式 ------------------------------------------------------------------------------------------------

wireElderToggle(part('elder-toggle'));

// ---- the live socket ----------------------------------------------------------------------------------------

let attempt = 0;

function connect() {
  const socket = openSocket(root.dataset.socket);
  state.seqs.clear();
  state.lives.clear(); // the first text of each ticket on a connection is its whole status: any number is right
  socket.onopen = () => {
    state.connected = true;
    part('me-live-offline').hidden = true;
  };
  socket.onmessage = (event) => {
    const message = JSON.parse(event.data);
    state.messages += 1;
    attempt = 0;
    if (message.type === 'home') {
      showHome(message);
      return;
    }
    const known = state.seqs.get(message.id);
    if (known !== undefined && message.live.seq !== known + 1) { // missed a text: take everything again
      state.missed += 1;
      socket.close();
      return;
    }
    state.seqs.set(message.id, message.live.seq);
    state.lives.set(message.id, message.live);
    const shown = cards.get(message.id);
    if (shown) showTicket(shown[0], shown[1], message.live);
  };
  socket.onclose = (event) => {
    state.connected = false;
    if (event.code === SESSION_ENDED) {
      state.ended = true;
      part('me-live-ended').hidden = false;
      return;
    }
    part('me-live-offline').hidden = false;
    setTimeout(connect, retryPause(attempt));
    attempt += 1;
  };
}

connect();
