// The backend, as the page sees it: login, enroll, voices (listed, remembered, deleted), presets, synthesize
// (with job polling at the server's retry_after_s), download and errors with a user message. Three ways to
// reach the server: `dev` (the `make run` stack on this computer, in WeChat DevTools: no login), `baseUrl`
// (wx.request / wx.uploadFile with our own JWT from wx.login), or WeChat Cloud Hosting (`cloudEnv` +
// `cloudService`: wx.cloud.callContainer, the platform supplies the user's identity). `wx` and `sleep` are
// injected so the logic runs under Node's test runner with a fake wx.
const { ApiError } = require('./errors');

const TOKEN_KEY = 'cosyvoice_token';
const VOICE_KEY = 'cosyvoice_voice';
const DEV_BASE_URL = 'http://127.0.0.1:8080';

function createApi({ wx, baseUrl = '', cloudEnv = '', cloudService = '', dev = false, devBaseUrl = DEV_BASE_URL,
  sleep, maxPolls = 90 }) {
  const wait = sleep || ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  const useCloud = Boolean(!dev && cloudEnv && cloudService && wx.cloud);
  const base = dev ? devBaseUrl : baseUrl;
  const needsLogin = !dev && !useCloud;

  function toError(res) {
    const body = (res && res.data) || {};
    const error = body.error || {};
    const retryAfter = Number((res.header || {})['Retry-After'] || (res.header || {})['retry-after'] || 0);
    return new ApiError(error.code || `http_${res.statusCode}`, error.message, res.statusCode, retryAfter);
  }

  function raw({ method, path, data, headers = {} }) {
    const header = { 'Content-Type': 'application/json', ...headers };
    const token = wx.getStorageSync(TOKEN_KEY);
    if (token && needsLogin) header.Authorization = `Bearer ${token}`;
    return new Promise((resolve, reject) => {
      const done = (res) => resolve(res);
      const fail = () => reject(new ApiError('network_error'));
      if (useCloud) {
        // callContainer gives up after about 15 s: the server is asked for jobs, never long waits (Prefer)
        wx.cloud.callContainer({ config: { env: cloudEnv }, path, method, data, header: {
          ...header, 'X-WX-SERVICE': cloudService }, success: done, fail });
      } else {
        wx.request({ url: base + path, method, data, header, timeout: 30000, success: done, fail });
      }
    });
  }

  async function login() {
    if (!needsLogin) return null;
    const code = await new Promise((resolve, reject) => wx.login({
      success: (r) => resolve(r.code), fail: () => reject(new ApiError('network_error')) }));
    const res = await raw({ method: 'POST', path: '/v1/auth/wechat', data: { code } });
    if (res.statusCode !== 200) throw toError(res);
    wx.setStorageSync(TOKEN_KEY, res.data.token);
    return res.data.token;
  }

  // One request; a 401 logs in again once (the token expired), then gives up.
  async function call(options, retried = false) {
    if (needsLogin && !wx.getStorageSync(TOKEN_KEY)) await login();
    const res = await raw(options);
    if (res.statusCode === 401 && !retried && needsLogin) {
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

  function readBase64(filePath) {
    return new Promise((resolve, reject) => wx.getFileSystemManager().readFile({
      filePath, encoding: 'base64', success: (r) => resolve(r.data), fail: () => reject(new ApiError('audio_empty')) }));
  }

  // A 200 is a recording this user enrolled before: the server returns that voice instead of a duplicate.
  // `consent`: whose voice it is, as the user stated it: 'self' or 'authorized' (its owner agreed separately)
  async function enroll(filePath, { name, promptText, consent } = {}) {
    if (!consent) throw new ApiError('consent_required');
    const fields = Object.fromEntries(Object.entries({ name, prompt_text: promptText, consent }).filter(([, v]) => v));
    let data;
    if (useCloud) { // callContainer sends no files: the recording goes as base64 JSON
      const res = await call({ method: 'POST', path: '/v1/voices',
        data: { ...fields, audio_base64: await readBase64(filePath) } });
      data = res.data;
    } else {
      if (needsLogin && !wx.getStorageSync(TOKEN_KEY)) await login();
      const upload = () => new Promise((resolve, reject) => wx.uploadFile({
        url: `${base}/v1/voices`, filePath, name: 'audio', formData: fields,
        header: needsLogin ? { Authorization: `Bearer ${wx.getStorageSync(TOKEN_KEY)}` } : {},
        success: resolve, fail: () => reject(new ApiError('network_error')) }));
      let res = await upload();
      if (res.statusCode === 401 && needsLogin) { wx.removeStorageSync(TOKEN_KEY); await login(); res = await upload(); }
      // wx.uploadFile hands back the body as a string
      data = typeof res.data === 'string' ? JSON.parse(res.data || '{}') : res.data;
      if (res.statusCode !== 201 && res.statusCode !== 200) throw toError({ ...res, data });
    }
    rememberVoice(data.voice_id);
    return data;
  }

  async function synthesize(text, { voiceId, instruct, speed, format = 'mp3', onProgress } = {}) {
    let res = await call({ method: 'POST', path: '/v1/tts', headers: useCloud ? { Prefer: 'respond-async' } : {},
      data: Object.fromEntries(Object.entries({ text, voice_id: voiceId, instruct, speed, format })
        .filter(([, v]) => v != null && v !== '')) });
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

  // The audio as a local file; an expired link's error page is an error, never "played".
  function download(url) {
    return new Promise((resolve, reject) => wx.downloadFile({
      url,
      success: (res) => (res.statusCode === 200 ? resolve(res.tempFilePath) : reject(new ApiError('media_expired'))),
      fail: () => reject(new ApiError('network_error')) }));
  }

  async function listVoices() {
    return (await call({ method: 'GET', path: '/v1/voices' })).data.voices;
  }

  async function deleteVoice(voiceId) {
    await call({ method: 'DELETE', path: `/v1/voices/${voiceId}` });
    if (wx.getStorageSync(VOICE_KEY) === voiceId) wx.removeStorageSync(VOICE_KEY);
  }

  function rememberVoice(voiceId) { if (voiceId) wx.setStorageSync(VOICE_KEY, voiceId); }
  function rememberedVoice() { return wx.getStorageSync(VOICE_KEY) || ''; }

  // The headers a stream (chunked request or WebSocket) carries: the same credentials as every call.
  async function authHeader() {
    if (needsLogin && !wx.getStorageSync(TOKEN_KEY)) await login();
    const token = needsLogin ? wx.getStorageSync(TOKEN_KEY) : '';
    return token ? { Authorization: `Bearer ${token}` } : {};
  }

  // A short-lived token for a WebSocket's first message: connectContainer in iOS high-performance mode drops
  // the identity headers callContainer carries, so the socket proves who it is in its own first message.
  async function socketToken() {
    return (await call({ method: 'POST', path: '/v1/auth/token' })).data.token;
  }

  return { login, presets, enroll, synthesize, download, listVoices, deleteVoice, rememberVoice, rememberedVoice,
    authHeader, socketToken, base, useCloud };
}

module.exports = { createApi, TOKEN_KEY, VOICE_KEY, DEV_BASE_URL };
