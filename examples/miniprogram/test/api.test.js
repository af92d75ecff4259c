const test = require('node:test');
const assert = require('node:assert/strict');
const { createApi, TOKEN_KEY } = require('../lib/api');
const { createFakeWx } = require('./fake-wx');

const ok = (data, statusCode = 200) => () => ({ statusCode, data });
const login = ok({ token: 'jwt-1', token_type: 'Bearer', expires_in: 7200 });

test('logs in with wx.login and sends the token', async () => {
  const wx = createFakeWx({ 'POST /v1/auth/wechat': login, 'GET /v1/presets': ok({ presets: [{ name: '广东话' }] }) });
  const api = createApi({ wx, baseUrl: 'https://api.test' });
  assert.deepEqual(await api.presets(), [{ name: '广东话' }]);
  const [, , path, body] = wx.calls.find((c) => c[0] === 'request' && c[2] === '/v1/auth/wechat');
  assert.equal(path, '/v1/auth/wechat');
  assert.deepEqual(body, { code: 'code-oTestUser01' });
  const presetsCall = wx.calls.find((c) => c[2] === '/v1/presets');
  assert.equal(presetsCall[4].Authorization, 'Bearer jwt-1');
  assert.equal(wx.getStorageSync(TOKEN_KEY), 'jwt-1');
});

test('an expired token logs in again once', async () => {
  let first = true;
  const wx = createFakeWx({
    'POST /v1/auth/wechat': login,
    'GET /v1/voices': () => (first ? ((first = false), { statusCode: 401, data: { error: { code: 'unauthorized' } } })
      : { statusCode: 200, data: { voices: [] } }),
  });
  wx.setStorageSync(TOKEN_KEY, 'stale');
  const api = createApi({ wx, baseUrl: 'https://api.test' });
  assert.deepEqual(await api.listVoices(), []);
  assert.equal(wx.calls.filter((c) => c[0] === 'login').length, 1);
});

test('enrolls with wx.uploadFile as multipart, field audio', async () => {
  const wx = createFakeWx({
    'POST /v1/auth/wechat': login,
    'UPLOAD /v1/voices': ok({ voice_id: 'v_abc', duration_s: 4.2 }, 201),
  });
  const api = createApi({ wx, baseUrl: 'https://api.test' });
  const voice = await api.enroll('wxfile://tmp/rec.aac', { promptText: '今天天气很好', consent: 'self' });
  assert.equal(voice.voice_id, 'v_abc');
  const upload = wx.calls.find((c) => c[0] === 'uploadFile');
  assert.equal(upload[3], 'audio');
  assert.deepEqual(upload[4], { prompt_text: '今天天气很好', consent: 'self' });
  assert.equal(upload[5].Authorization, 'Bearer jwt-1');
});

test('polls a queued job at the server retry_after_s until done', async () => {
  let polls = 0;
  const waits = [];
  const wx = createFakeWx({
    'POST /v1/auth/wechat': login,
    'POST /v1/tts': ok({ task_id: 't1', status: 'queued', poll_url: '/v1/tts/t1', retry_after_s: 3 }, 202),
    'GET /v1/tts/t1': () => (++polls < 3
      ? { statusCode: 200, data: { task_id: 't1', status: 'running', poll_url: '/v1/tts/t1', retry_after_s: 2,
        progress: { done: polls, total: 3 } } }
      : { statusCode: 200, data: { task_id: 't1', status: 'done', audio_url: 'https://cdn/a.mp3', duration_s: 9 } }),
  });
  const progress = [];
  const api = createApi({ wx, baseUrl: 'https://api.test', sleep: async (ms) => waits.push(ms) });
  const result = await api.synthesize('很长的文章', { voiceId: 'v_abc', onProgress: (p) => progress.push(p) });
  assert.equal(result.audio_url, 'https://cdn/a.mp3');
  assert.deepEqual(waits, [3000, 2000, 2000]);
  assert.deepEqual(progress.filter(Boolean).map((p) => p.done), [1, 2]);
  const post = wx.calls.find((c) => c[2] === '/v1/tts');
  assert.deepEqual(post[3], { text: '很长的文章', voice_id: 'v_abc', format: 'mp3' });
});

test('a failed job and error answers become ApiErrors with a code and retry hint', async () => {
  const wx = createFakeWx({
    'POST /v1/auth/wechat': login,
    'POST /v1/tts': () => ({ statusCode: 429, data: { error: { code: 'rate_limited', message: '请求过于频繁' } },
      header: { 'Retry-After': '20' } }),
  });
  const api = createApi({ wx, baseUrl: 'https://api.test' });
  await assert.rejects(api.synthesize('你好'), (e) => e.code === 'rate_limited' && e.retryAfter === 20 && e.status === 429);
  const failing = createFakeWx({
    'POST /v1/auth/wechat': login,
    'POST /v1/tts': ok({ task_id: 't2', status: 'queued', poll_url: '/v1/tts/t2', retry_after_s: 1 }, 202),
    'GET /v1/tts/t2': ok({ task_id: 't2', status: 'failed', error: { code: 'inference_unavailable', message: 'x' } }),
  });
  const api2 = createApi({ wx: failing, baseUrl: 'https://api.test', sleep: async () => {} });
  await assert.rejects(api2.synthesize('你好'), (e) => e.code === 'inference_unavailable');
});

test('network failures are retryable errors, and polling gives up eventually', async () => {
  const wx = createFakeWx({ 'POST /v1/auth/wechat': login, 'GET /v1/presets': () => ({ networkError: true }) });
  const api = createApi({ wx, baseUrl: 'https://api.test' });
  await assert.rejects(api.presets(), (e) => e.code === 'network_error');
  const forever = createFakeWx({
    'POST /v1/auth/wechat': login,
    'POST /v1/tts': ok({ task_id: 't3', status: 'queued', poll_url: '/v1/tts/t3', retry_after_s: 1 }, 202),
    'GET /v1/tts/t3': ok({ task_id: 't3', status: 'queued', poll_url: '/v1/tts/t3', retry_after_s: 1 }),
  });
  const api2 = createApi({ wx: forever, baseUrl: 'https://api.test', sleep: async () => {}, maxPolls: 5 });
  await assert.rejects(api2.synthesize('你好'), (e) => e.code === 'timeout');
});

test('Cloud Hosting goes through wx.cloud.callContainer without a login', async () => {
  const wx = createFakeWx({ 'GET /v1/presets': ok({ presets: [] }) });
  const api = createApi({ wx, cloudEnv: 'prod-1', cloudService: 'relay' });
  await api.presets();
  assert.equal(wx.calls.filter((c) => c[0] === 'login').length, 0);
  const call = wx.calls.find((c) => c[0] === 'callContainer');
  assert.equal(call[4]['X-WX-SERVICE'], 'relay');
});

test('dev mode talks to the make run stack on this computer without logging in', async () => {
  const wx = createFakeWx({ 'GET /v1/presets': ok({ presets: [] }),
    'UPLOAD /v1/voices': ok({ voice_id: 'v_dev', duration_s: 3 }, 201) });
  const api = createApi({ wx, dev: true, baseUrl: 'https://api.test' });
  await api.presets();
  await api.enroll('wxfile://tmp/rec.aac', { consent: 'self' });
  assert.equal(wx.calls.filter((c) => c[0] === 'login').length, 0);
  assert.ok(!('Authorization' in wx.calls.find((c) => c[0] === 'request')[4]));
  assert.deepEqual(wx.calls.find((c) => c[0] === 'uploadFile')[5], {});
});

test('Cloud Hosting enrolls through callContainer as base64 and asks for jobs, not long waits', async () => {
  const wx = createFakeWx({ 'POST /v1/voices': ok({ voice_id: 'v_c', duration_s: 4 }, 201),
    'POST /v1/tts': ok({ task_id: 't', status: 'done', audio_url: 'https://cdn/a.mp3' }) });
  const api = createApi({ wx, cloudEnv: 'prod-1', cloudService: 'relay' });
  await api.enroll('wxfile://tmp/rec.aac', { promptText: '你好', consent: 'authorized' });
  const enroll = wx.calls.find((c) => c[0] === 'callContainer' && c[2] === '/v1/voices');
  assert.deepEqual(enroll[3], { prompt_text: '你好', consent: 'authorized', audio_base64: 'QUFBQQ==' });
  assert.equal(wx.calls.filter((c) => c[0] === 'uploadFile').length, 0);
  await api.synthesize('你好');
  assert.equal(wx.calls.find((c) => c[2] === '/v1/tts')[4].Prefer, 'respond-async');
});

test('voices are remembered, a re-enrolled recording is the same voice, and deleting forgets it', async () => {
  const wx = createFakeWx({ 'POST /v1/auth/wechat': login,
    'UPLOAD /v1/voices': ok({ voice_id: 'v_same', duration_s: 4, existing: true }, 200),
    'DELETE /v1/voices/v_same': () => ({ statusCode: 204, data: '' }) });
  const api = createApi({ wx, baseUrl: 'https://api.test' });
  const voice = await api.enroll('wxfile://tmp/rec.aac', { consent: 'self' });
  assert.equal(voice.existing, true);
  assert.equal(api.rememberedVoice(), 'v_same');
  await api.deleteVoice('v_same');
  assert.equal(api.rememberedVoice(), '');
});

test('an expired audio link is an error, never played', async () => {
  const wx = createFakeWx({ 'DOWNLOAD /tts/ab/x.mp3': () => ({ statusCode: 403 }),
    'DOWNLOAD /tts/ab/y.mp3': () => ({ statusCode: 200 }) });
  const api = createApi({ wx, baseUrl: 'https://api.test' });
  await assert.rejects(api.download('https://cdn.test/tts/ab/x.mp3'), (e) => e.code === 'media_expired');
  assert.equal(await api.download('https://cdn.test/tts/ab/y.mp3'), 'wxfile://tmp/result.mp3');
});

test('no recording is enrolled without the user saying whose voice it is', async () => {
  const wx = createFakeWx({ 'UPLOAD /v1/voices': ok({ voice_id: 'v_x' }, 201) });
  const api = createApi({ wx, dev: true });
  await assert.rejects(api.enroll('wxfile://tmp/rec.aac'), (e) => e.code === 'consent_required');
  assert.equal(wx.calls.filter((c) => c[0] === 'uploadFile').length, 0);
});
