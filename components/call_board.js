// The call board's live part, in the browser (components/call_board.py draws the rest). One websocket listens to
// the board's shared texts (twin/board_feed.py): a snapshot on connect, then calls and waiting counts, each with a
// sequence number; a gap means a text was missed, so the page reconnects and takes a snapshot (light_socket.js).
// A snapshot says nothing aloud: the calls it shows were announced when they were made.
// Announcements: a queue that speaks the next call only after the previous one ended, so calls never overlap.
// Browsers allow speech only after a user gesture: a one-time overlay asks for a tap, remembered in localStorage
// (and shown again if the browser still refuses). 长辈模式: the same switch and storage as every page (light_elder.js).
import { wireElderToggle } from './light_elder.js';
import { followChannel } from './light_socket.js';

const VOICE_KEY = 'halltwin.callboard.voice';
const STALE_MS = 60000; // calls queued while muted are dropped after a minute

const board = document.querySelector('[data-testid="board"]');
const texts = JSON.parse(board.dataset.texts);
const callsBox = board.querySelector('[data-testid="board-calls"]');
const said = document.querySelector('[data-testid="board-said"]');
const offline = board.querySelector('[data-testid="board-offline"]');
const overlay = document.querySelector('[data-testid="voice-overlay"]');
const state = { seq: null, missed: 0, connected: false, messages: 0 };
window.__halltwinBoard = state;
window.__halltwinAnnouncements = window.__halltwinAnnouncements || [];

function element(tag, className, text, testid) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  if (testid) node.dataset.testid = testid;
  return node;
}

const windowText = (n) => texts.window.replace('{n}', n);

function renderCalls(calls, flash) {
  callsBox.replaceChildren();
  if (calls.length === 0) {
    callsBox.append(element('p', 'board-muted board-none', texts.none));
    return;
  }
  const [now, ...recent] = calls;
  callsBox.append(element('h2', 'board-muted', texts.now));
  const box = element('div', 'board-now-box' + (flash ? ' board-flash' : ''), undefined, 'board-now');
  box.append(element('div', 'board-now', now.number, 'board-now-number'));
  const please = element('div', 'board-please');
  please.append(element('span', 'board-muted', texts.please));
  please.append(element('span', 'board-now-window', windowText(now.window), 'board-now-window'));
  box.append(please);
  if (now.recall) box.append(element('span', 'board-mark board-recall', texts.recall));
  if (now.green) box.append(element('span', 'board-mark board-green', texts.green, 'board-now-green'));
  callsBox.append(box);
  if (recent.length === 0) return;
  callsBox.append(element('h2', 'board-muted board-recent', texts.recent));
  const list = element('ul', 'board-recent board-recent-list');
  for (const call of recent) {
    const row = element('li', '', undefined, `board-call-${call.number}`);
    row.append(element('span', 'board-recent-number', call.number));
    row.append(element('span', 'board-recent-window', windowText(call.window)));
    if (call.green) row.append(element('span', 'board-mark board-green', texts.green));
    list.append(row);
  }
  callsBox.append(list);
}

function renderWaiting(waiting) {
  for (const [code, count] of Object.entries(waiting)) {
    const cell = board.querySelector(`[data-testid="board-queue-${CSS.escape(code)}"]`);
    if (cell) cell.textContent = String(count);
  }
}

// ---- announcements ------------------------------------------------------------------------------------------

const voice = { enabled: window.localStorage.getItem(VOICE_KEY) === 'on', queue: [], speaking: false, guard: 0 };

function showOverlay() { // in the page only while voice is off (as the old v-if): tests count it
  if (voice.enabled) overlay.remove();
  else if (!overlay.isConnected) document.body.append(overlay);
  overlay.hidden = false;
}

function chooseVoice() {
  const voices = window.speechSynthesis.getVoices();
  return voices.find((v) => v.lang === 'zh-CN') || voices.find((v) => v.lang.startsWith('zh')) || null;
}

function next() {
  clearTimeout(voice.guard);
  if (!voice.enabled || !('speechSynthesis' in window) || voice.queue.length === 0) {
    voice.speaking = false;
    return;
  }
  voice.speaking = true;
  const item = voice.queue.shift();
  const utterance = new SpeechSynthesisUtterance(item.text);
  utterance.lang = 'zh-CN';
  utterance.rate = 0.9;
  const chosen = chooseVoice();
  if (chosen) utterance.voice = chosen;
  let done = false;
  const finish = () => {
    if (done) return;
    done = true;
    setTimeout(next, 700); // a short pause between two calls
  };
  utterance.onend = finish;
  utterance.onerror = (event) => {
    if (event.error === 'not-allowed') { // still no gesture since the page loaded: ask again
      voice.queue.unshift(item);
      voice.enabled = false;
      voice.speaking = false;
      done = true;
      showOverlay();
      return;
    }
    finish();
  };
  // some engines never fire onend (no voice installed): move on after a generous estimate
  voice.guard = setTimeout(finish, 4000 + item.text.length * 600);
  window.speechSynthesis.speak(utterance);
}

function say(text) {
  window.__halltwinAnnouncements.push(text);
  said.textContent = text; // screen readers hear each new call, as the hall hears it
  voice.queue.push({ text, at: Date.now() });
  if (!voice.speaking) next();
}

overlay.addEventListener('click', () => {
  window.localStorage.setItem(VOICE_KEY, 'on');
  voice.enabled = true;
  showOverlay();
  voice.queue = voice.queue.filter((item) => Date.now() - item.at < STALE_MS);
  next();
});
if ('speechSynthesis' in window) window.speechSynthesis.getVoices(); // voices load asynchronously
showOverlay();

// ---- 长辈模式 ------------------------------------------------------------------------------------------------

wireElderToggle(board.querySelector('[data-testid="elder-toggle"]'));

// ---- the live socket ----------------------------------------------------------------------------------------

function apply(message) {
  if (message.calls) renderCalls(message.calls, Boolean(message.say));
  if (message.waiting) renderWaiting(message.waiting);
  if (message.say) say(message.say);
}

followChannel(board.dataset.socket, {
  state, show: apply, snapshot: (message) => apply({ calls: message.calls, waiting: message.waiting }),
  offline, offlineText: texts.offline,
});
