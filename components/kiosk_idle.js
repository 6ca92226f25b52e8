// Tells the server that someone is touching the kiosk (at most every `throttleMs`), so its idle reset waits.
export default {
  template: '<span style="display:none"></span>',
  props: { throttleMs: { type: Number, default: 5000 } },
  mounted() {
    this.last = 0;
    this.onActivity = () => {
      const now = Date.now();
      if (now - this.last >= this.throttleMs) {
        this.last = now;
        this.$emit('activity');
      }
    };
    document.addEventListener('pointerdown', this.onActivity, { passive: true });
    document.addEventListener('keydown', this.onActivity);
  },
  unmounted() {
    document.removeEventListener('pointerdown', this.onActivity);
    document.removeEventListener('keydown', this.onActivity);
  },
};
