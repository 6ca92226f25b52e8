// /track's live status in the browser (components/track_status.py draws the rest). One websocket listens to the
// ticket's shared texts (twin/ticket_feed.py): the whole status on connect, then each change, each with a sequence
// number; a gap means a text was missed, so the page reconnects and takes the whole status again. A lost socket is
// retried with a growing, jittered pause (a hall's phones must not all come back in the same second).
// A page whose access can end while open (a relative's, components/proxy_status.py: `texts.ended` is set) stops
// when the server closes its socket with ACCESS_ENDED, or when a socket that never opened is explained by the
// page itself answering 404 (the grant ended while the phone was away): it says so and never reconnects.
// 长辈模式: the same switch and storage as every page (light_elder.js).
import { wireElderToggle } from './light_elder.js';
import { openSocket, retryPause } from './light_socket.js';

const SHOWS_ARRIVAL = new Set(['waiting', 'parked']);
const ACCESS_ENDED = 4403; // components/proxy_status.py

const root = document.querySelector('[data-testid="track-live"]');
const texts = JSON.parse(root.dataset.texts);
const part = (id) => root.querySelector(`[data-testid="${id}"]`);
const state = { seq: null, missed: 0, connected: false, messages: 0, ended: false };
window.__halltwinTrack = state;

const fill = (template, key, value) => template.replace(`{${key}}`, String(value));

function show(message) {
  const waiting = message.status === 'waiting';
  part('track-status').textContent = texts[`status.${message.status}`] || message.status;
  part('track-ahead').textContent = !waiting || message.ahead === null ? ''
    : message.ahead > 0 ? fill(texts.ahead, 'n', message.ahead) : texts.next;
  part('track-eta').textContent = !waiting || message.ahead === null ? ''
    : message.eta === null ? texts.no_eta : fill(texts.eta, 'm', message.eta);
  part('track-window').textContent = message.status === 'called' && message.window !== null
    ? fill(texts.called, 'n', message.window) : '';
  part('track-arrival').hidden = !SHOWS_ARRIVAL.has(message.status);
  showHandoff(message.to_hall === undefined ? null : message);
}

// 跨区通办: where a ticket sent to another hall goes, and its number there once that hall issued it.
function showHandoff(sent) {
  part('track-handoff').textContent = sent === null ? ''
    : fill(fill(texts.handoff, 'hall', sent.to_hall), 'service', sent.to_service);
  part('track-handoff-pending').textContent = sent !== null && sent.new_number === null ? texts.handoff_pending : '';
  part('track-handoff-number').textContent = sent === null || sent.new_number === null ? ''
    : fill(texts.handoff_number, 'number', sent.new_number);
}

function showEnded() {
  state.ended = true;
  for (const stale of root.querySelectorAll('.card, a.person')) stale.hidden = true; // the ticket, the grant, the link
  const ended = part('track-ended');
  ended.textContent = texts.ended;
  ended.hidden = false;
}

// ---- 长辈模式 ------------------------------------------------------------------------------------------------

wireElderToggle(part('elder-toggle'));

// ---- the live socket ----------------------------------------------------------------------------------------

let attempt = 0;

function connect() {
  const socket = openSocket(root.dataset.socket);
  let fresh = true; // the first text of a connection is the whole status: any number is right
  let opened = false;
  socket.onopen = () => {
    opened = true;
    state.connected = true;
    part('track-offline').hidden = true;
  };
  socket.onmessage = (event) => {
    const message = JSON.parse(event.data);
    if (!fresh && message.seq !== state.seq + 1) { // missed a text: the whole status puts everything right
      state.missed += 1;
      socket.close();
      return;
    }
    show(message);
    fresh = false;
    attempt = 0;
    state.seq = message.seq;
    state.messages += 1;
  };
  socket.onclose = (event) => {
    state.connected = false;
    if (texts.ended && event.code === ACCESS_ENDED) return showEnded();
    const offline = part('track-offline');
    offline.textContent = texts.offline;
    offline.hidden = false;
    if (texts.ended && !opened) return stillOpen().then((open) => (open ? retry() : showEnded()));
    return retry();
  };
}

function retry() {
  setTimeout(connect, retryPause(attempt));
  attempt += 1;
}

// Whether the page's access still stands: only the page's own 404 says no (a network failure or a server being
// restarted is not the end of anything).
async function stillOpen() {
  try {
    const answer = await fetch(window.location.href, { cache: 'no-store' });
    return answer.status !== 404;
  } catch {
    return true;
  }
}

connect();
