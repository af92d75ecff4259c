// Recording settings the mini program recorder accepts on iOS and Android: aac at 16 kHz mono with a bit
// rate inside the allowed range for that sample rate (16000 Hz: 24000-96000 bps).
const RECORD_OPTIONS = {
  duration: 30000,
  sampleRate: 16000,
  numberOfChannels: 1,
  encodeBitRate: 48000,
  format: 'aac',
};
const BITRATE_RANGE = { 8000: [16000, 48000], 11025: [16000, 48000], 12000: [24000, 64000],
  16000: [24000, 96000], 22050: [32000, 128000], 24000: [32000, 128000], 32000: [48000, 192000],
  44100: [64000, 320000], 48000: [64000, 320000] };

const GUIDANCE = {
  title: '录一段你的声音',
  steps: ['找一个安静的房间', '手机离嘴巴一拳远', '用平常说话的语气读下面这句话'],
  sentence: '今天天气很好，我想用自己的声音给你读一个故事。',
};

function validOptions(options) {
  const range = BITRATE_RANGE[options.sampleRate];
  return Boolean(range) && options.encodeBitRate >= range[0] && options.encodeBitRate <= range[1] &&
    [1, 2].includes(options.numberOfChannels) && ['aac', 'mp3', 'wav', 'PCM'].includes(options.format);
}

module.exports = { RECORD_OPTIONS, BITRATE_RANGE, GUIDANCE, validOptions };
