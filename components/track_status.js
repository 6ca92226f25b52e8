// /track's live status in the browser (components/track_status.py draws the rest). One websocket listens to the
// ticket's shared texts (twin/ticket_feed.py): the whole status on connect, then each change, each with a sequence
// number; a gap means a text was missed, so the page reconnects and takes the whole status again (light_socket.js).
// A page whose access can end while open (a relative's, components/proxy_status.py: `texts.ended` is set) says so
// and never reconnects.
// 长辈模式: the same switch and storage as every page (light_elder.js).
import { wireElderToggle } from './light_elder.js';
import { followChannel } from './light_socket.js';

const SHOWS_ARRIVAL = new Set(['waiting', 'parked']);

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

followChannel(root.dataset.socket, {
  state, show, offline: part('track-offline'), offlineText: texts.offline, ended: texts.ended ? showEnded : null,
});
