// The live socket of the light pages (no NiceGUI client: the call board, /track's and /proxy's status, /me/live): the
// socket's address from the page's own, and the pause before trying again, growing and jittered so a hall's phones
// and boards do not all come back in the same second; and the one way the call board, /track's status and a
// relative's cases follow their channel.
const RETRY_MS = [500, 1000, 2000, 4000, 10000]; // then 10 s each, each pause 0.5 to 1.5 times its step

export function openSocket(path) {
  const url = new URL(path, window.location.href);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return new WebSocket(url);
}

export function retryPause(attempt) {
  return RETRY_MS[Math.min(attempt, RETRY_MS.length - 1)] * (0.5 + Math.random());
}

// A page's access can end while it is open (a relative's, components/proxy_status.py): the server closes the socket
// with this code, or a socket that never opened is explained by the page itself answering 404.
const ACCESS_ENDED = 4403; // components/proxy_status.py

// Follow one shared channel (twin/board_feed.py, twin/ticket_feed.py, twin/case_feed.py): everything on connect, then
// each change, each with a sequence number; a gap means a text was missed, so the page reconnects and takes everything
// again. Each text goes to `show`, the first of a connection to `snapshot` when given (the board draws it without
// saying aloud what was already called). A lost socket is retried with the pause above and says so in `offline`;
// `ended`, when the page's access can end, is called once instead of reconnecting.
export function followChannel(path, { state, show, snapshot = show, offline, offlineText, ended = null }) {
  let attempt = 0;

  function connect() {
    const socket = openSocket(path);
    let fresh = true; // the first text of a connection has everything: any number is right
    let opened = false;
    socket.onopen = () => {
      opened = true;
      state.connected = true;
      offline.hidden = true;
    };
    socket.onmessage = (event) => {
      const message = JSON.parse(event.data);
      if (!fresh && message.seq !== state.seq + 1) { // missed a text: everything again puts it right
        state.missed += 1;
        socket.close();
        return;
      }
      (fresh ? snapshot : show)(message);
      fresh = false;
      attempt = 0;
      state.seq = message.seq;
      state.messages += 1;
    };
    socket.onclose = (event) => {
      state.connected = false;
      if (ended && event.code === ACCESS_ENDED) return ended();
      offline.textContent = offlineText;
      offline.hidden = false;
      if (ended && !opened) return stillOpen().then((open) => (open ? retry() : ended()));
      return retry();
    };
  }

  function retry() {
    setTimeout(connect, retryPause(attempt));
    attempt += 1;
  }

  connect();
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
