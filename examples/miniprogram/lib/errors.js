// What to tell the user for each error code of the API, and whether a retry button makes sense.
const MESSAGES = {
  unauthorized: '登录已过期，请重试',
  wechat_code_invalid: '微信登录失败，请重试',
  rate_limited: '操作太频繁了，请稍等片刻再试',
  daily_quota_exceeded: '今天的合成字数已用完，明天再来吧',
  content_refused: '内容未通过安全审核，请修改文字',
  content_under_review: '内容需要审核，请换一种说法',
  audio_silent: '没有录到声音，请靠近麦克风重新录制',
  audio_too_short: '录音太短了，请至少录 3 秒',
  audio_too_long: '录音太长了，请控制在 30 秒以内',
  no_speech: '没有检测到人声，请在安静的环境中朗读',
  not_enough_speech: '说话的时间太短，请完整读完提示的句子',
  sample_rate_too_low: '录音质量太低，请重新录制',
  unsupported_media: '不支持的录音格式',
  audio_too_large: '录音文件太大',
  text_too_long: '文字太长了，请分段朗读',
  text_required: '请输入要朗读的文字',
  invalid_markup: '文字中的标记格式不正确',
  voice_not_found: '找不到这个声音，请重新录制',
  too_many_voices: '声音数量已达上限，请删除不用的声音',
  server_busy: '现在使用的人很多，请稍后再试',
  inference_unavailable: '语音服务正在启动，请稍后再试',
  synthesis_in_progress: '正在合成中，请稍候',
  network_error: '网络不太好，请检查网络后重试',
  timeout: '等待时间太长，请稍后重试',
};
const RETRYABLE = new Set(['rate_limited', 'server_busy', 'inference_unavailable', 'storage_unavailable',
  'state_unavailable', 'moderation_unavailable', 'synthesis_in_progress', 'network_error', 'timeout',
  'inference_timeout', 'unauthorized', 'wechat_code_invalid', 'internal_error']);

class ApiError extends Error {
  constructor(code, message, status, retryAfter) {
    super(message || MESSAGES[code] || '出错了，请重试');
    this.code = code;
    this.status = status;
    this.retryAfter = retryAfter;
  }
}

function userMessage(error) {
  return MESSAGES[error && error.code] || (error && error.message) || '出错了，请重试';
}

function canRetry(error) {
  return RETRYABLE.has(error && error.code);
}

module.exports = { ApiError, MESSAGES, userMessage, canRetry };
