// /track's live status in the browser (components/track_status.py draws the rest). One websocket listens to the
// ticket's shared texts (twin/ticket_feed.py): the whole status on connect, then each change, each with a sequence
// number; a gap means a text was missed, so the page reconnects and takes the whole status again. A lost socket is
// retried with a growing, jittered pause (a hall's phones must not all come back in the same second).
// 长辈模式: the same switch and storage as every page (light_elder.js).
import { wireElderToggle } from './light_elder.js';
import { openSocket, retryPause } from './light_socket.js';

const SHOWS_ARRIVAL = new Set(['waiting', 'parked']);

const root = document.querySelector('[data-testid="track-live"]');
const texts = JSON.parse(root.dataset.texts);
const part = (id) => root.querySelector(`[data-testid="${id}"]`);
const state = { seq: null, missed: 0, connected: false, messages: 0 };
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
}

// ---- 长辈模式 ------------------------------------------------------------------------------------------------

wireElderToggle(part('elder-toggle'));

// ---- the live socket ----------------------------------------------------------------------------------------

let attempt = 0;

function connect() {
  const socket = openSocket(root.dataset.socket);
  let fresh = true; // the first text of a connection is the whole status: any number is right
  socket.onopen = () => {
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
  socket.onclose = () => {
    state.connected = false;
    const offline = part('track-offline');
    offline.textContent = texts.offline;
    offline.hidden = false;
    setTimeout(connect, retryPause(attempt));
    attempt += 1;
  };
}

connect();
