// A small fake of the `wx` API for Node tests: records calls and answers from a route table.
function createFakeWx(routes, { loginCode = 'code-oTestUser01' } = {}) {
  const storage = new Map();
  const calls = [];
  const answer = (method, path, data) => {
    const handler = routes[`${method} ${path}`] || routes[`${method} *`];
    if (!handler) return { statusCode: 404, data: { error: { code: 'route_not_found' } }, header: {} };
    const res = handler({ data, calls });
    return { header: {}, ...res };
  };
  const wx = {
    calls,
    storage,
    login: ({ success }) => { calls.push(['login']); success({ code: loginCode }); },
    getStorageSync: (k) => (storage.has(k) ? storage.get(k) : ''),
    setStorageSync: (k, v) => storage.set(k, v),
    removeStorageSync: (k) => storage.delete(k),
    request: ({ url, method, data, header, success, fail }) => {
      const path = url.replace(/^https?:\/\/[^/]+/, '');
      calls.push(['request', method, path, data, header]);
      const res = answer(method, path, data);
      if (res.networkError) fail({ errMsg: 'request:fail' }); else success(res);
    },
    uploadFile: ({ url, filePath, name, formData, header, success, fail }) => {
      const path = url.replace(/^https?:\/\/[^/]+/, '');
      calls.push(['uploadFile', path, filePath, name, formData, header]);
      const res = answer('UPLOAD', path, { filePath, name, formData });
      if (res.networkError) fail({ errMsg: 'uploadFile:fail' });
      else success({ ...res, data: JSON.stringify(res.data) }); // uploadFile returns a string body
    },
    downloadFile: ({ url, success, fail }) => {
      calls.push(['downloadFile', url]);
      const res = answer('DOWNLOAD', url.replace(/^https?:\/\/[^/]+/, ''), {});
      if (res.networkError) fail({ errMsg: 'downloadFile:fail' });
      else success({ statusCode: res.statusCode, tempFilePath: 'wxfile://tmp/result.mp3' });
    },
    getFileSystemManager: () => ({
      readFile: ({ filePath, encoding, success }) => { calls.push(['readFile', filePath, encoding]); success({ data: 'QUFBQQ==' }); },
    }),
    // permissions and privacy: `settings.record` is true, false or undefined (never asked); `answers` script
    // the user: privacy agreed, the system dialog, the modal, the settings page
    settings: {},
    answers: { privacy: true, authorize: true, modal: true, openSetting: true },
    requirePrivacyAuthorize: ({ success, fail }) => { calls.push(['requirePrivacyAuthorize']);
      (wx.answers.privacy ? success : fail)({}); },
    getSetting: ({ success }) => { calls.push(['getSetting']);
      success({ authSetting: 'record' in wx.settings ? { 'scope.record': wx.settings.record } : {} }); },
    authorize: ({ scope, success, fail }) => { calls.push(['authorize', scope]);
      wx.settings.record = wx.answers.authorize; (wx.answers.authorize ? success : fail)({}); },
    showModal: ({ success }) => { calls.push(['showModal']); success({ confirm: wx.answers.modal }); },
    openSetting: ({ success }) => { calls.push(['openSetting']);
      if (wx.answers.openSetting) wx.settings.record = true;
      success({ authSetting: { 'scope.record': Boolean(wx.settings.record) } }); },
    cloud: {
      callContainer: ({ path, method, data, header, success }) => {
        calls.push(['callContainer', method, path, data, header]);
        success(answer(method, path, data));
      },
    },
  };
  return wx;
}

module.exports = { createFakeWx };
