// The live socket of the light pages (no NiceGUI client: /track's and /proxy's status, /me/live): the socket's address from the
// page's own, and the pause before trying again, growing and jittered so a hall's phones do not all come back in
// the same second.
const RETRY_MS = [500, 1000, 2000, 4000, 10000]; // then 10 s each, each pause 0.5 to 1.5 times its step

export function openSocket(path) {
  const url = new URL(path, window.location.href);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return new WebSocket(url);
}

export function retryPause(attempt) {
  return RETRY_MS[Math.min(attempt, RETRY_MS.length - 1)] * (0.5 + Math.random());
}
