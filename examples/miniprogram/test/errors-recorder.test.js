const test = require('node:test');
const assert = require('node:assert/strict');
const { userMessage, canRetry, ApiError } = require('../lib/errors');
const { RECORD_OPTIONS, validOptions } = require('../lib/recorder');

test('every error code has a clear message; retry only where it can help', () => {
  assert.equal(userMessage(new ApiError('no_speech')), '没有检测到人声，请在安静的环境中朗读');
  assert.equal(canRetry({ code: 'server_busy' }), true);
  assert.equal(canRetry({ code: 'content_refused' }), false);
  assert.equal(userMessage({ code: 'brand_new_code', message: '服务端的说明' }), '服务端的说明');
});

test('the recorder options are a pair the recorder accepts', () => {
  assert.equal(validOptions(RECORD_OPTIONS), true);
  assert.equal(RECORD_OPTIONS.format, 'aac');
  assert.equal(validOptions({ ...RECORD_OPTIONS, encodeBitRate: 320000 }), false); // too high for 16 kHz
  assert.ok(RECORD_OPTIONS.duration <= 30000); // the server accepts at most 30 s
});

test('Retry-After becomes the wait before retrying; warnings read as words', () => {
  const { retryDelay, warningText } = require('../lib/errors');
  assert.equal(retryDelay(new ApiError('rate_limited', '', 429, 20)), 20);
  assert.equal(retryDelay(new ApiError('network_error')), 0);
  assert.equal(warningText(['quiet', 'clipped']), '录音音量偏小，录音有爆音，建议离手机远一点');
});
