// Speaks Mandarin through the browser's speechSynthesis (zh-CN voice when the system has one).
// `say(texts)` cancels whatever is still being said (the screen moved on) and queues the new texts;
// the button says the last texts again ("再听一遍"), or, given `readRoot`, reads that part of the page aloud
// (pressed while speaking, it stops). Nothing is sent anywhere: the browser speaks locally.
const MAX_CHUNK = 120; // engines cut long utterances short: speak a page line by line

export default {
  template: `
    <button type="button" class="voice-button" @click="press">
      <span class="material-icons" aria-hidden="true">volume_up</span>
      <span>{{ label }}</span>
    </button>`,
  props: {
    label: { type: String, default: '再听一遍' },
    lang: { type: String, default: 'zh-CN' },
    rate: { type: Number, default: 0.9 },
    readRoot: { type: String, default: '' },
  },
  data() {
    return { last: [] };
  },
  mounted() {
    if ('speechSynthesis' in window) window.speechSynthesis.getVoices(); // voices load asynchronously
  },
  unmounted() {
    if ('speechSynthesis' in window) window.speechSynthesis.cancel();
  },
  methods: {
    say(texts) {
      this.last = texts;
      this.speak(texts);
    },
    press() {
      if (!this.readRoot) {
        this.speak(this.last);
        return;
      }
      if (window.speechSynthesis && window.speechSynthesis.speaking) {
        window.speechSynthesis.cancel();
        return;
      }
      const root = document.querySelector(this.readRoot);
      this.speak(root ? this.chunks(root.innerText) : []);
    },
    chunks(text) {
      const lines = text.split('\n').map((line) => line.trim()).filter((line) => line);
      return lines.flatMap((line) => line.match(new RegExp(`.{1,${MAX_CHUNK}}`, 'gsu')) || []);
    },
    voice() {
      const voices = window.speechSynthesis.getVoices() || [];
      return voices.find((v) => v.lang === this.lang) || voices.find((v) => v.lang.startsWith('zh')) || null;
    },
    speak(texts) {
      if (!('speechSynthesis' in window)) return;
      window.speechSynthesis.cancel();
      const voice = this.voice();
      for (const text of texts) {
        const utterance = new SpeechSynthesisUtterance(text);
        utterance.lang = this.lang;
        utterance.rate = this.rate;
        if (voice) utterance.voice = voice;
        window.speechSynthesis.speak(utterance);
      }
    },
  },
};
