// What to tell the user for each error code of the API (every code of the server's catalog,
// functions/error_codes.py, that the mini program can receive; a test compares the lists), whether a retry
// button makes sense, and how long to wait before it does.
const MESSAGES = {
  // the request itself
  invalid_request: '请求格式有误，请升级小程序后重试',
  bad_request: '请求格式有误，请升级小程序后重试',
  http_error: '请求格式有误，请升级小程序后重试',
  invalid_json: '请求格式有误，请升级小程序后重试',
  invalid_base64: '请求格式有误，请升级小程序后重试',
  invalid_stream_format: '请求格式有误，请升级小程序后重试',
  invalid_type: '请求格式有误，请升级小程序后重试',
  unknown_field: '请求格式有误，请升级小程序后重试',
  unsupported_content_type: '请求格式有误，请升级小程序后重试',
  method_not_allowed: '请求格式有误，请升级小程序后重试',
  route_not_found: '服务地址有误，请检查配置',
  not_found: '服务地址有误，请检查配置',
  body_timeout: '网络太慢，上传没有完成，请重试',
  payload_too_large: '上传的内容太大了',
  range_not_satisfiable: '音频读取出错，请重新合成',
  // text and style
  text_required: '请输入要朗读的文字',
  text_too_long: '文字太长了，请分段朗读',
  text_invalid_chars: '文字里有无法朗读的字符，请删除后再试',
  invalid_markup: '文字中的标记格式不正确',
  instruct_too_long: '风格说明太长了，请简短一些',
  instruct_invalid_chars: '风格说明里有无法识别的字符',
  instruct_required: '请选择一种风格',
  invalid_speed: '语速超出范围（0.5 到 2 倍）',
  invalid_format: '不支持这种音频格式',
  invalid_mode: '不支持这种朗读模式',
  invalid_seed: '参数有误，请重试',
  prompt_text_required: '请填写录音里说的话',
  prompt_text_too_long: '录音文字太长了',
  prompt_text_invalid_chars: '录音文字里有无法识别的字符',
  name_too_long: '声音名称太长了',
  name_invalid_chars: '声音名称里有无法识别的字符',
  prompt_audio_required: '请先录一段声音',
  duplicate_audio: '请只提供一段录音',
  // recordings
  audio_required: '请先录一段声音',
  audio_empty: '没有录到内容，请重新录制',
  audio_corrupt: '录音文件损坏了，请重新录制',
  audio_silent: '没有录到声音，请靠近麦克风重新录制',
  audio_too_short: '录音太短了，请至少录 3 秒',
  audio_too_long: '录音太长了，请控制在 30 秒以内',
  audio_too_large: '录音文件太大',
  audio_decode_timeout: '录音处理超时，请换一段录音',
  no_speech: '没有检测到人声，请在安静的环境中朗读',
  not_enough_speech: '说话的时间太短，请完整读完提示的句子',
  sample_rate_too_low: '录音质量太低，请重新录制',
  pcm_rate_required: '录音格式有误，请重新录制',
  invalid_sample_rate: '录音格式有误，请重新录制',
  invalid_channels: '录音格式有误，请重新录制',
  invalid_prompt_sample_rate: '录音格式有误，请重新录制',
  invalid_prompt_channels: '录音格式有误，请重新录制',
  unsupported_media: '不支持的录音格式',
  unsupported_format: '不支持的录音格式',
  unsupported_codec: '不支持的录音格式',
  // voices and tasks
  voice_not_found: '找不到这个声音，请重新录制',
  too_many_voices: '声音数量已达上限，请删除不用的声音',
  voice_transcript_missing: '这个声音没有保存录音文字，请重新录制并填写录音里说的话',
  voice_consent_missing: '这个声音还没有声明是谁的声音，请重新保存并确认',
  task_not_found: '合成结果已过期，请重新合成',
  media_not_found: '音频已过期，请重新合成',
  media_expired: '音频链接已过期，请重新合成',
  job_lost: '合成任务丢失了，请重新合成',
  // content and limits
  content_refused: '内容未通过安全审核，请修改文字',
  content_under_review: '内容需要审核，请换一种说法',
  rate_limited: '操作太频繁了，请稍等片刻再试',
  daily_quota_exceeded: '今天的合成字数已用完，明天再来吧',
  // login
  unauthorized: '登录已过期，请重试',
  wechat_code_invalid: '微信登录失败，请重试',
  invalid_code: '微信登录失败，请重试',
  wechat_rate_limited: '登录太频繁了，请稍后再试',
  wechat_high_risk_user: '该微信账号暂时无法使用此功能',
  token_not_allowed: '登录状态异常，请重试',
  wechat_unavailable: '微信服务暂时不可用，请稍后重试',
  wechat_busy: '微信服务繁忙，请稍后重试',
  wechat_error: '微信登录失败，请稍后重试',
  wechat_login_not_configured: '服务端未开启微信登录，请联系开发者',
  tokens_not_configured: '服务端未配置令牌签发，请联系开发者',
  voice_required: '请选择一个声音',
  websocket_required: '请使用 WebSocket 连接',
  // the service
  server_busy: '现在使用的人很多，请稍后再试',
  too_many_connections: '连接太多了，请稍后再试',
  inference_unavailable: '语音服务正在启动，请稍后再试',
  inference_timeout: '合成超时了，请稍后重试',
  inference_rejected: '这段文字无法合成，请修改后再试',
  inference_failed: '合成失败了，请重试',
  synthesis_in_progress: '正在合成中，请稍候',
  storage_unavailable: '服务暂时不可用，请稍后重试',
  state_unavailable: '服务暂时不可用，请稍后重试',
  queue_unavailable: '服务暂时不可用，请稍后重试',
  moderation_unavailable: '内容审核暂时不可用，请稍后重试',
  service_unavailable: '服务暂时不可用，请稍后重试',
  internal_error: '服务出错了，请稍后重试',
  // the phone
  network_error: '网络不太好，请检查网络后重试',
  timeout: '等待时间太长，请稍后重试',
  record_denied: '需要麦克风权限才能录音，请在设置中允许',
  consent_required: '请先确认这是谁的声音：你本人的，或已取得本人同意的',
  privacy_denied: '需要同意隐私保护指引才能录音',
};
const RETRYABLE = new Set(['rate_limited', 'server_busy', 'too_many_connections', 'inference_unavailable', 'storage_unavailable',
  'state_unavailable', 'queue_unavailable', 'moderation_unavailable', 'synthesis_in_progress', 'network_error',
  'timeout', 'inference_timeout', 'unauthorized', 'wechat_code_invalid', 'wechat_rate_limited',
  'wechat_unavailable', 'wechat_busy', 'wechat_error', 'service_unavailable', 'internal_error', 'inference_failed',
  'job_lost', 'media_expired', 'task_not_found', 'media_not_found']);
// enrollment warnings (the server's codes) in words
const WARNINGS = { quiet: '录音音量偏小', clipped: '录音有爆音，建议离手机远一点' };

class ApiError extends Error {
  constructor(code, message, status, retryAfter) {
    super(message || MESSAGES[code] || '出错了，请重试');
    this.code = code;
    this.status = status;
    this.retryAfter = retryAfter || 0; // seconds, from the Retry-After header
  }
}

function userMessage(error) {
  return MESSAGES[error && error.code] || (error && error.message) || '出错了，请重试';
}

function canRetry(error) {
  return RETRYABLE.has(error && error.code);
}

// Seconds before a retry may help (the server's Retry-After; 0 when it said nothing).
function retryDelay(error) {
  return Math.max(0, Math.ceil(Number((error && error.retryAfter) || 0)));
}

function warningText(warnings) {
  return (warnings || []).map((w) => WARNINGS[w] || w).join('，');
}

module.exports = { ApiError, MESSAGES, WARNINGS, userMessage, canRetry, retryDelay, warningText };
