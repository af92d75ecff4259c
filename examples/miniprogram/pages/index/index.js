const { RECORD_OPTIONS, GUIDANCE } = require('../../lib/recorder');
const { userMessage, canRetry, retryDelay, warningText } = require('../../lib/errors');
const { ensureRecordPermission } = require('../../lib/permissions');
const { speak } = require('../../lib/stream');

const app = getApp();
const recorder = wx.getRecorderManager();
const player = wx.createInnerAudioContext({ useWebAudioImplement: false });

Page({
  data: {
    guidance: GUIDANCE, recording: false, recordPath: '', voices: [], voiceId: '', warnings: '', presets: [],
    preset: '', text: '', busy: false, progress: '', resultUrl: '', error: '', canRetry: false, retryIn: 0,
    subtitle: '',  // the sentence playing now (streamed speech)
    consent: '',  // whose voice the recording is: 'self' or 'authorized' (the user's own statement)
  },
  lastAction: null,
  countdown: null,

  onLoad() {
    recorder.onStop((res) => this.setData({ recording: false, recordPath: res.tempFilePath }));
    recorder.onError(() => this.setData({ recording: false, error: '录音失败，请检查麦克风权限' }));
    this.run(() => Promise.all([app.api.presets(), app.api.listVoices()]).then(([presets, voices]) => {
      const remembered = app.api.rememberedVoice();
      this.setData({ presets, voices, voiceId: voices.some((v) => v.voice_id === remembered) ? remembered : '' });
    }));
  },
  onUnload() { clearInterval(this.countdown); },

  // every action goes through run(): busy state, a clear message, and a retry button that waits for the
  // server's Retry-After (counting down) before it can be pressed
  run(action) {
    this.lastAction = action;
    clearInterval(this.countdown);
    this.setData({ busy: true, error: '', canRetry: false, retryIn: 0 });
    return action().catch((error) => {
      this.setData({ error: userMessage(error), canRetry: canRetry(error), retryIn: retryDelay(error), resultUrl: '' });
      this.countdown = setInterval(() => {
        if (this.data.retryIn <= 1) clearInterval(this.countdown);
        this.setData({ retryIn: Math.max(0, this.data.retryIn - 1) });
      }, 1000);
    }).finally(() => this.setData({ busy: false, progress: '' }));
  },
  retry() { if (this.lastAction && !this.data.retryIn) this.run(this.lastAction); },

  startRecord() {
    return this.run(() => ensureRecordPermission(wx).then(() => {
      this.setData({ recording: true, recordPath: '', consent: '' });  // a new recording: ask again whose voice
      recorder.start(RECORD_OPTIONS);
    }));
  },
  stopRecord() { recorder.stop(); },
  playOriginal() { player.src = this.data.recordPath; player.play(); },
  playResult() { player.src = this.data.resultUrl; player.play(); },
  // A/B: the recording, then the synthesized voice right after it
  playAB() {
    player.src = this.data.recordPath;
    player.onEnded(() => { player.offEnded(); player.src = this.data.resultUrl; player.play(); });
    player.play();
  },

  onConsent(e) { this.setData({ consent: e.detail.value }); },

  enroll() {
    return this.run(() => app.api.enroll(this.data.recordPath, { promptText: GUIDANCE.sentence, consent: this.data.consent })
      .then((voice) => app.api.listVoices().then((voices) => this.setData({
        voices, voiceId: voice.voice_id, warnings: warningText(voice.warnings) }))));
  },
  pickVoice(e) {
    const voiceId = e.currentTarget.dataset.id === this.data.voiceId ? '' : e.currentTarget.dataset.id;
    app.api.rememberVoice(voiceId);
    this.setData({ voiceId });
  },
  deleteVoice(e) {
    const voiceId = e.currentTarget.dataset.id;
    return this.run(() => app.api.deleteVoice(voiceId).then(() => app.api.listVoices()).then((voices) =>
      this.setData({ voices, voiceId: this.data.voiceId === voiceId ? '' : this.data.voiceId })));
  },
  pickPreset(e) { this.setData({ preset: e.currentTarget.dataset.name === this.data.preset ? '' : e.currentTarget.dataset.name }); },
  onText(e) { this.setData({ text: e.detail.value }); },

  // Streamed where the phone and the deployment allow (first sound after the first chunk, subtitles as it
  // plays), else the finished file; a stream cut midway goes on from the file (lib/stream.js).
  synthesize() {
    const options = { voiceId: this.data.voiceId || 'default', instruct: this.data.preset || undefined,
      onProgress: (p) => this.setData({ progress: p ? `合成中 ${p.done}/${p.total}` : '排队中…' }) };
    return this.run(async () => {
      const streaming = app.streaming;
      const live = streaming.transport ? streaming.player((text) => this.setData({ subtitle: text })) : null;
      const outcome = await speak({
        api: app.api, transport: streaming.transport, text: this.data.text, options, player: live,
        open: streaming.transport ? await streaming.open() : null,
        playFile: (url, from, after) => app.api.download(url).then((path) => setTimeout(() => {
          player.src = path; player.seek(from || 0); player.play(); }, 1000 * (after || 0))),
      });
      const path = await app.api.download(outcome.result.audio_url);  // replay and A/B use the stored file
      this.setData({ resultUrl: path });
    });
  },
});
