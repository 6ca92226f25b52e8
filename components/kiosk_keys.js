// The kiosk by keyboard or number pad alone (components/kiosk_keys.py says what each key does).
export default {
  template: '<span style="display:none"></span>',
  props: { pauseMs: { type: Number, default: 1500 } },
  mounted() {
    this.typed = '';
    this.focusedId = '';
    this.onKey = (event) => this.key(event);
    this.onFocus = (event) => {
      const id = event.target.closest && event.target.closest('[data-testid]');
      this.focusedId = id ? id.dataset.testid : '';
    };
    this.observer = new MutationObserver(() => this.settle());
    this.observer.observe(document.body, { childList: true, subtree: true });
    document.addEventListener('keydown', this.onKey);
    document.addEventListener('focusin', this.onFocus);
  },
  unmounted() {
    this.observer.disconnect();
    document.removeEventListener('keydown', this.onKey);
    document.removeEventListener('focusin', this.onFocus);
  },
  methods: {
    key(event) {
      if (document.querySelector('.q-dialog')) return; // a dialog keeps its own keys (Escape closes it)
      const target = event.target;
      const typing = target.closest && target.closest('input, textarea, select, [contenteditable]');
      if (/^[0-9]$/.test(event.key) && !typing) {
        event.preventDefault();
        this.pick(event.key);
        return;
      }
      this.typed = ''; // any other key ends a number being typed
      if ((event.key === 'Enter' || event.key === ' ') && target.matches('[role="button"]:not(button)')) {
        event.preventDefault();
        target.click();
        return;
      }
      const control = target.closest && target.closest('button, a, [role="button"], input, textarea, select');
      if (event.key === 'Enter' && !control) {
        this.press('[data-kiosk-enter]', event);
      } else if ((event.key === 'Escape' || event.key === 'Backspace') && !typing) {
        this.press('[data-kiosk-back]', event) || this.press('[data-kiosk-home]', event);
      }
    },
    pick(digit) {
      // Digits select the choice with that number (two digits within pauseMs for 10 and up); Enter confirms.
      clearTimeout(this.pause);
      const keys = [...document.querySelectorAll('[data-kiosk-key]')].map((el) => el.dataset.kioskKey);
      this.typed = keys.some((key) => key.startsWith(this.typed + digit)) ? this.typed + digit : digit;
      const chosen = document.querySelector(`[data-kiosk-key="${this.typed}"]`);
      if (chosen) chosen.focus();
      this.pause = setTimeout(() => (this.typed = ''), this.pauseMs);
    },
    press(selector, event) {
      const found = document.querySelector(selector);
      if (!found) return false;
      event.preventDefault();
      found.click();
      return true;
    },
    settle() {
      // A step redrawn: focus returns to the control that had it, or goes to the new step's heading.
      const active = document.activeElement;
      if (active && active !== document.body && document.contains(active)) return;
      const again = this.focusedId && document.querySelector(`[data-testid="${this.focusedId}"]`);
      const heading = document.querySelector('[data-kiosk-heading]');
      const next = again || heading;
      if (next) next.focus({ preventScroll: !again });
    },
  },
};
