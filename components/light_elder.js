// 长辈模式 on the light pages (no NiceGUI client): the same class `elder` on <body>, the same storage key and the
// same ?elder=1 / ?elder=0 link switch as every NiceGUI page (elder_mode.js), so a citizen's choice follows them.
const ELDER_KEY = 'halltwin.elder';

export function wireElderToggle(toggle) {
  function apply(on) {
    document.body.classList.toggle('elder', on);
    toggle.setAttribute('aria-pressed', on ? 'true' : 'false');
  }

  const asked = new URLSearchParams(window.location.search).get('elder');
  if (asked === '1' || asked === '0') window.localStorage.setItem(ELDER_KEY, asked);
  apply(window.localStorage.getItem(ELDER_KEY) === '1');
  toggle.addEventListener('click', () => {
    const on = !document.body.classList.contains('elder');
    window.localStorage.setItem(ELDER_KEY, on ? '1' : '0');
    apply(on);
  });
}
