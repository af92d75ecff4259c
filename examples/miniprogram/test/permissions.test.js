const test = require('node:test');
const assert = require('node:assert/strict');
const { ensureRecordPermission } = require('../lib/permissions');
const { createFakeWx } = require('./fake-wx');

test('first use: privacy agreement, then the system dialog', async () => {
  const wx = createFakeWx({});
  await ensureRecordPermission(wx);
  assert.deepEqual(wx.calls.map((c) => c[0]), ['requirePrivacyAuthorize', 'getSetting', 'authorize']);
});

test('refused before: the settings page, and a refusal there is a clear error', async () => {
  const wx = createFakeWx({});
  wx.settings.record = false;
  await ensureRecordPermission(wx);
  assert.ok(wx.calls.some((c) => c[0] === 'openSetting'));
  const stubborn = createFakeWx({});
  stubborn.settings.record = false;
  stubborn.answers.modal = false;
  await assert.rejects(ensureRecordPermission(stubborn), (e) => e.code === 'record_denied');
});

test('no privacy agreement, no recording', async () => {
  const wx = createFakeWx({});
  wx.answers.privacy = false;
  await assert.rejects(ensureRecordPermission(wx), (e) => e.code === 'privacy_denied');
  assert.ok(!wx.calls.some((c) => c[0] === 'getSetting'));
});
