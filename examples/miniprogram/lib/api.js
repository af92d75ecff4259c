// The backend, as the page sees it: login, enroll (wx.uploadFile, multipart), presets, synthesize (with job
// polling at the server's retry_after_s) and errors with a user message. `wx` and `sleep` are injected so the
// logic runs under Node's test runner with a fake wx.
const { ApiError } = require('./errors');

const TOKEN_KEY = 'cosyvoice_token';

function createApi({ wx, baseUrl = '', cloudEnv = '', cloudService = '', sleep, maxPolls = 90 }) {
  const wait = sleep || ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  const useCloud = Boolean(cloudEnv && cloudService && wx.cloud);

  function toError(res) {
    const body = (res && res.data) || {};
    const error = body.error || {};
    const retryAfter = Number((res.header || {})['Retry-After'] || (res.header || {})['retry-after'] || 0);
    return new ApiError(error.code || `http_${res.statusCode}`, error.message, res.statusCode, retryAfter);
  }

  function raw({ method, path, data }) {
    const header = { 'Content-Type': 'application/json' };
    const token = wx.getStorageSync(TOKEN_KEY);
    if (token && !useCloud) header.Authorization = `Bearer ${token}`;
    return new Promise((resolve, reject) => {
      const done = (res) => resolve(res);
      const fail = () => reject(new ApiError('network_error'));
      if (useCloud) {
        wx.cloud.callContainer({ config: { env: cloudEnv }, path, method, data, header: {
          'X-WX-SERVICE': cloudService, 'Content-Type': 'application/json' }, success: done, fail });
      } else {
        wx.request({ url: baseUrl + path, method, data, header, timeout: 30000, success: done, fail });
      }
    });
  }

  async function login() {
    if (useCloud) return null; // Cloud Hosting identifies the user itself
    const code = await new Promise((resolve, reject) => wx.login({
      success: (r) => resolve(r.code), fail: () => reject(new ApiError('network_error')) }));
    const res = await raw({ method: 'POST', path: '/v1/auth/wechat', data: { code } });
    if (res.statusCode !== 200) throw toError(res);
    wx.setStorageSync(TOKEN_KEY, res.data.token);
    return res.data.token;
  }

  // One request; a 401 logs in again once (the token expired), then gives up.
  async function call(options, retried = false) {
    if (!useCloud && !wx.getStorageSync(TOKEN_KEY)) await login();
    const res = await raw(options);
    if (res.statusCode === 401 && !retried && !useCloud) {
      wx.removeStorageSync(TOKEN_KEY);
      await login();
      return call(options, true);
    }
    if (res.statusCode >= 400) throw toError(res);
    return res;
  }

  async function presets() {
    return (await call({ method: 'GET', path: '/v1/presets' })).data.presets;
  }

  async function enroll(filePath, { name, promptText } = {}) {
    if (!useCloud && !wx.getStorageSync(TOKEN_KEY)) await login();
    const upload = () => new Promise((resolve, reject) => wx.uploadFile({
      url: `${baseUrl}/v1/voices`, filePath, name: 'audio',
      formData: Object.fromEntries(Object.entries({ name, prompt_text: promptText }).filter(([, v]) => v)),
      header: { Authorization: `Bearer ${wx.getStorageSync(TOKEN_KEY)}` },
      success: resolve, fail: () => reject(new ApiError('network_error')) }));
    let res = await upload();
    if (res.statusCode === 401) { wx.removeStorageSync(TOKEN_KEY); await login(); res = await upload(); }
    // wx.uploadFile hands back the body as a string
    const data = typeof res.data === 'string' ? JSON.parse(res.data || '{}') : res.data;
    if (res.statusCode !== 201) throw toError({ ...res, data });
    return data;
  }

  async function synthesize(text, { voiceId, instruct, speed, format = 'mp3', onProgress } = {}) {
    let res = await call({ method: 'POST', path: '/v1/tts', data: Object.fromEntries(Object.entries({
      text, voice_id: voiceId, instruct, speed, format }).filter(([, v]) => v !== undefined && v !== '')) });
    let polls = 0;
    while (res.data.status === 'queued' || res.data.status === 'running') {
      if (onProgress) onProgress(res.data.progress || null, res.data.status);
      if (++polls > maxPolls) throw new ApiError('timeout');
      await wait(1000 * (res.data.retry_after_s || 2));
      res = await call({ method: 'GET', path: res.data.poll_url });
    }
    if (res.data.status === 'failed') {
      const error = res.data.error || {};
      throw new ApiError(error.code || 'internal_error', error.message);
    }
    return res.data;
  }

  async function listVoices() {
    return (await call({ method: 'GET', path: '/v1/voices' })).data.voices;
  }

  return { login, presets, enroll, synthesize, listVoices };
}

module.exports = { createApi, TOKEN_KEY };
