// Before recording: the user agrees to the privacy guide (WeChat's privacy rules since 2023: RecorderManager is
// a privacy interface, declared in the mini program's 用户隐私保护指引), then grants scope.record; a user who
// refused once is led to the settings page (wx.openSetting), since wx.authorize does not ask twice.
const { ApiError } = require('./errors');

function call(wx, name, options = {}) {
  return new Promise((resolve, reject) => wx[name]({ ...options, success: resolve, fail: reject }));
}

async function ensurePrivacy(wx) {
  if (!wx.requirePrivacyAuthorize) return; // base libraries before 2.32.3 have no privacy flow
  try {
    await call(wx, 'requirePrivacyAuthorize');
  } catch (e) {
    throw new ApiError('privacy_denied');
  }
}

async function ensureRecordPermission(wx) {
  await ensurePrivacy(wx);
  const settings = await call(wx, 'getSetting');
  const granted = settings.authSetting && settings.authSetting['scope.record'];
  if (granted === true) return;
  if (granted === undefined) { // never asked: the system dialog
    try {
      await call(wx, 'authorize', { scope: 'scope.record' });
      return;
    } catch (e) { /* refused now: offer the settings page below */ }
  }
  const modal = await call(wx, 'showModal', { title: '需要麦克风权限', content: '录一段你的声音需要使用麦克风，请在设置中允许。',
    confirmText: '去设置' });
  if (!modal.confirm) throw new ApiError('record_denied');
  const after = await call(wx, 'openSetting');
  if (!(after.authSetting && after.authSetting['scope.record'])) throw new ApiError('record_denied');
}

module.exports = { ensureRecordPermission, ensurePrivacy };
