const { RECORD_OPTIONS, GUIDANCE } = require('../../lib/recorder');
const { userMessage, canRetry } = require('../../lib/errors');

const app = getApp();
const recorder = wx.getRecorderManager();
const player = wx.createInnerAudioContext({ useWebAudioImplement: false });

Page({
  data: {
    guidance: GUIDANCE, recording: false, recordPath: '', voice: null, presets: [], preset: '', text: '',
    busy: false, progress: '', resultUrl: '', error: '', canRetry: false,
  },
  lastAction: null,

  onLoad() {
    recorder.onStop((res) => this.setData({ recording: false, recordPath: res.tempFilePath }));
    recorder.onError(() => this.setData({ recording: false, error: '录音失败，请检查麦克风权限' }));
    this.run(() => app.api.presets().then((presets) => this.setData({ presets })));
  },

  // every action goes through run(): busy state, a clear message and a retry button on failure
  run(action) {
    this.lastAction = action;
    this.setData({ busy: true, error: '', canRetry: false });
    return action().catch((error) => this.setData({ error: userMessage(error), canRetry: canRetry(error) }))
      .finally(() => this.setData({ busy: false, progress: '' }));
  },
  retry() { if (this.lastAction) this.run(this.lastAction); },

  startRecord() { this.setData({ recording: true, recordPath: '' }); recorder.start(RECORD_OPTIONS); },
  stopRecord() { recorder.stop(); },
  playOriginal() { player.src = this.data.recordPath; player.play(); },
  playResult() { player.src = this.data.resultUrl; player.play(); },
  // A/B: the recording, then the synthesized voice right after it
  playAB() {
    player.src = this.data.recordPath;
    player.onEnded(() => { player.offEnded(); player.src = this.data.resultUrl; player.play(); });
    player.play();
  },

  enroll() {
    return this.run(() => app.api.enroll(this.data.recordPath, { promptText: GUIDANCE.sentence })
      .then((voice) => this.setData({ voice })));
  },
  pickPreset(e) { this.setData({ preset: e.currentTarget.dataset.name === this.data.preset ? '' : e.currentTarget.dataset.name }); },
  onText(e) { this.setData({ text: e.detail.value }); },

  synthesize() {
    return this.run(() => app.api.synthesize(this.data.text, {
      voiceId: this.data.voice && this.data.voice.voice_id, instruct: this.data.preset || undefined,
      onProgress: (p) => this.setData({ progress: p ? `合成中 ${p.done}/${p.total}` : '排队中…' }),
    }).then((result) => this.downloadAndPlay(result.audio_url)));
  },

  downloadAndPlay(url) {
    return new Promise((resolve, reject) => wx.downloadFile({
      url, success: (res) => { this.setData({ resultUrl: res.tempFilePath }); this.playResult(); resolve(); },
      fail: () => reject({ code: 'network_error' }) }));
  },
});
