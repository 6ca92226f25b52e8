// A relative's cases (亲情代办) in the browser (components/proxy_cases.py draws the frame). One websocket listens to
// the grant's shared case texts (twin/case_feed.py): all its cases on connect, then each change (light_socket.js).
// When the grant ends or runs out the page says the access ended and never reconnects. Every text goes in as text
// (textContent), never as HTML.
import { wireElderToggle } from './light_elder.js';
import { followChannel } from './light_socket.js';

const root = document.querySelector('[data-testid="proxy-cases"]');
const texts = JSON.parse(root.dataset.texts);
const list = root.querySelector('[data-testid="proxy-cases-list"]');
const underTicket = document.querySelector('[data-testid="track-live"]') !== null; // track_status.js runs there too
const state = { seq: null, missed: 0, connected: false, messages: 0, ended: false };
window.__halltwinCases = state;

const fill = (template, key, value) => template.replace(`{${key}}`, String(value));

function element(tag, text, attributes = {}) {
  const made = document.createElement(tag);
  if (text !== undefined && text !== null) made.textContent = text;
  for (const [name, value] of Object.entries(attributes)) made.setAttribute(name, value);
  return made;
}

const stepLine = (step) => (step.department ? `${step.name}（${step.department}）` : step.name);

function drawCase(item) {
  const id = `proxy-case-${item.id}`;
  const article = element('article', null, { class: 'case', 'data-testid': id });
  const head = element('div', null, { class: 'head' });
  head.append(element('h3', item.service), element('span', texts[`case.${item.status}`] || item.status,
    { 'data-testid': `${id}-status` }));
  article.append(head);
  const current = item.current.map((i) => item.steps[i]);
  const now = current.length > 0
    ? fill(texts.current, 'step', current.map((s) => `${stepLine(s)} · ${texts[`step.${s.status}`] || s.status}`)
      .join('；'))
    : item.status === 'completed' ? texts.finished : '';
  article.append(element('p', now, { class: 'big', 'data-testid': `${id}-current` }));
  if (item.due && item.status !== 'completed') article.append(element('p', fill(texts.due, 'date', item.due),
    { class: 'muted' }));
  for (const note of item.asked) article.append(element('p', fill(texts.asked, 'note', note),
    { class: 'asked', 'data-testid': `${id}-asked` }));
  const needs = element('div', null, { 'data-testid': `${id}-needs` });
  if (item.needs.length > 0) {
    needs.append(element('p', texts.needs, { class: 'step-status' }));
    const bring = element('ul');
    for (const name of item.needs) bring.append(element('li', name));
    needs.append(bring);
  } else if (item.status !== 'completed' && item.asked.length === 0) { // a return says what it needs itself
    needs.append(element('p', texts.no_needs, { class: 'muted' }));
  }
  article.append(needs);
  article.append(element('p', texts.history, { class: 'step-status' }));
  const steps = element('ol', null, { 'data-testid': 'proxy-case-steps' });
  for (const step of item.steps) {
    const line = element('li');
    line.append(`${stepLine(step)} `);
    line.append(element('span', texts[`step.${step.status}`] || step.status, { class: `step-status ${step.status}` }));
    const times = [
      step.started && fill(texts.started, 'at', step.started),
      step.finished && fill(texts.step_finished, 'at', step.finished),
      step.due && fill(texts.step_due, 'at', step.due),
    ].filter(Boolean);
    if (times.length > 0) line.append(element('span', ` · ${times.join(' · ')}`, { class: 'muted' }));
    steps.append(line);
  }
  article.append(steps);
  return article;
}

function show(message) {
  list.replaceChildren(...message.cases.map(drawCase));
  if (message.cases.length === 0) list.append(element('p', texts.none, { class: 'muted' }));
  if (underTicket) root.hidden = message.cases.length === 0; // under a ticket: only once a case was opened from it
}

function showEnded() {
  state.ended = true;
  const main = root.closest('main');
  for (const stale of main.querySelectorAll('.card, a.person')) stale.hidden = true; // the cases, the grant, the link
  const ended = main.querySelector('[data-testid="track-ended"]');
  ended.textContent = texts.ended;
  ended.hidden = false;
}

if (!underTicket) wireElderToggle(document.querySelector('[data-testid="elder-toggle"]'));

followChannel(root.dataset.socket, {
  state, show, offline: root.querySelector('[data-testid="proxy-cases-offline"]'), offlineText: texts.offline,
  ended: showEnded,
});
