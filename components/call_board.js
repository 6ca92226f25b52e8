// Voice announcements for the call board: a queue in the browser that speaks the next call only after the
// previous one has ended, so calls never overlap. Browsers allow speech only after a user gesture: a one-time
// overlay asks for a tap, remembered in localStorage (and shown again if the browser still refuses).
const STORAGE_KEY = 'halltwin.callboard.voice';
const STALE_MS = 60000; // calls queued while muted are dropped after a minute

export default {
  template: `
    <div v-if="!enabled" data-testid="voice-overlay" @click="enable"
         style="position:fixed;inset:0;z-index:6000;display:flex;align-items:center;justify-content:center;
                background:rgba(0,0,0,.72);cursor:pointer">
      <div style="background:#ffd600;color:#000;padding:48px 64px;border-radius:24px;text-align:center;
                  font-size:48px;font-weight:700;line-height:1.4">
        点击开启语音播报<br><span style="font-size:32px;font-weight:500">tap to enable announcements</span>
      </div>
    </div>`,
  props: { lang: { type: String, default: 'zh-CN' }, rate: { type: Number, default: 0.9 } },
  data() {
    return { enabled: false, queue: [], speaking: false };
  },
  mounted() {
    window.__halltwinAnnouncements = window.__halltwinAnnouncements || [];
    this.enabled = window.localStorage.getItem(STORAGE_KEY) === 'on';
    if ('speechSynthesis' in window) window.speechSynthesis.getVoices(); // voices load asynchronously
  },
  unmounted() {
    clearTimeout(this.guard);
    if ('speechSynthesis' in window) window.speechSynthesis.cancel();
  },
  methods: {
    enable() {
      window.localStorage.setItem(STORAGE_KEY, 'on');
      this.enabled = true;
      this.queue = this.queue.filter((item) => Date.now() - item.at < STALE_MS);
      this.next();
    },
    say(text) {
      window.__halltwinAnnouncements.push(text);
      this.queue.push({ text, at: Date.now() });
      if (!this.speaking) this.next();
    },
    voice() {
      const voices = window.speechSynthesis.getVoices();
      return voices.find((v) => v.lang === this.lang) || voices.find((v) => v.lang.startsWith('zh')) || null;
    },
    next() {
      clearTimeout(this.guard);
      if (!this.enabled || !('speechSynthesis' in window) || this.queue.length === 0) {
        this.speaking = false;
        return;
      }
      this.speaking = true;
      const item = this.queue.shift();
      const utterance = new SpeechSynthesisUtterance(item.text);
      utterance.lang = this.lang;
      utterance.rate = this.rate;
      const voice = this.voice();
      if (voice) utterance.voice = voice;
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        setTimeout(() => this.next(), 700); // a short pause between two calls
      };
      utterance.onend = finish;
      utterance.onerror = (event) => {
        if (event.error === 'not-allowed') { // still no gesture since the page loaded: ask again
          this.queue.unshift(item);
          this.enabled = false;
          this.speaking = false;
          done = true;
          return;
        }
        finish();
      };
      // some engines never fire onend (no voice installed): move on after a generous estimate
      this.guard = setTimeout(finish, 4000 + item.text.length * 600);
      window.speechSynthesis.speak(utterance);
    },
  },
};
