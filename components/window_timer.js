// How long the current citizen has been served, counted in the browser from `since` (ms since the epoch).
// `serverNow` corrects for a browser clock that differs from the server's.
export default {
  template: '<span>{{ text }}</span>',
  props: { since: { type: Number, default: null }, serverNow: { type: Number, default: null } },
  data() {
    return { text: '--:--', offset: 0 };
  },
  watch: {
    since() { this.sync(); },
    serverNow() { this.sync(); },
  },
  mounted() {
    this.sync();
    this.timer = setInterval(() => this.tick(), 1000);
  },
  unmounted() {
    clearInterval(this.timer);
  },
  methods: {
    sync() {
      this.offset = this.serverNow ? this.serverNow - Date.now() : 0;
      this.tick();
    },
    tick() {
      if (this.since === null || this.since === undefined) {
        this.text = '--:--';
        return;
      }
      const seconds = Math.max(0, Math.floor((Date.now() + this.offset - this.since) / 1000));
      const h = Math.floor(seconds / 3600);
      const m = String(Math.floor((seconds % 3600) / 60)).padStart(2, '0');
      const s = String(seconds % 60).padStart(2, '0');
      this.text = h > 0 ? `${h}:${m}:${s}` : `${m}:${s}`;
    },
  },
};
