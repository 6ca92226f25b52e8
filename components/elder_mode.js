// 长辈模式 (large text): one toggle button that puts the class `elder` on <body>. The choice is remembered in
// this browser (localStorage, so a kiosk screen remembers it too) and a link can set it with ?elder=1 / ?elder=0.
// The server may force it for the current person (a kiosk citizen aged 65+) without changing what is remembered.
const STORAGE_KEY = 'halltwin.elder';

function remembered() {
  const asked = new URLSearchParams(window.location.search).get('elder');
  if (asked === '1' || asked === '0') window.localStorage.setItem(STORAGE_KEY, asked);
  return window.localStorage.getItem(STORAGE_KEY) === '1';
}

export default {
  template: `
    <button type="button" class="elder-toggle" :aria-pressed="on ? 'true' : 'false'" @click="toggle">
      <span class="material-icons" aria-hidden="true">format_size</span>
      <span>{{ label }}</span>
    </button>`,
  props: { label: { type: String, default: '长辈模式' } },
  data() {
    return { chosen: false, forced: null };
  },
  computed: {
    on() {
      return this.forced === null ? this.chosen : this.forced;
    },
  },
  watch: {
    on() {
      this.apply();
    },
  },
  mounted() {
    this.chosen = remembered();
    this.apply();
  },
  methods: {
    toggle() {
      this.chosen = !this.on;
      this.forced = null;
      window.localStorage.setItem(STORAGE_KEY, this.chosen ? '1' : '0');
    },
    force(value) {
      this.forced = value === null || value === undefined ? null : Boolean(value);
    },
    apply() {
      document.body.classList.toggle('elder', this.on);
      this.$emit('change', this.on);
    },
  },
};
