// A client generated from the served OpenAPI description, used as an app would use it:
//   npm install && OPENAPI=<base>/openapi.yaml npm run generate && npm run build   (Node 20+)
//   BASE=<base> API_KEY=<key> RECORDING=../prompt_zh.wav npm start
// Every call is typed from the description (api.d.ts); the program fails on the first answer that does not
// match what the description promised.
import { readFileSync } from "node:fs";
import createClient from "openapi-fetch";
import type { components, paths } from "./api.js";

type Done = components["schemas"]["TtsDone"];
type Queued = components["schemas"]["TtsQueued"];

const base = process.env.BASE ?? "http://127.0.0.1:8080";
const client = createClient<paths>({ baseUrl: base, headers: { "X-Api-Key": process.env.API_KEY ?? "local-dev" } });

function check(ok: unknown, what: string): asserts ok {
  if (!ok) throw new Error(`unexpected: ${what}`);
}

async function poll(taskId: string) {
  const { data, error } = await client.GET("/v1/tts/{task_id}", { params: { path: { task_id: taskId } } });
  check(data, `poll: ${JSON.stringify(error)}`);
  return data;
}

async function waitDone(first: Done | Queued): Promise<Done> {
  let answer: Done | Queued | components["schemas"]["TtsFailed"] = first;
  for (let polls = 0; answer.status === "queued" || answer.status === "running"; polls++) {
    check(polls < 120, "the job did not finish");
    await new Promise((resolve) => setTimeout(resolve, 500));
    answer = await poll(answer.task_id);
  }
  check(answer.status === "done", `job ${JSON.stringify(answer)}`);
  return answer;
}

const presets = await client.GET("/v1/presets");
check(presets.data?.presets?.length, "presets");

// The built-in voice, a short text: the audio at once.
const short = await client.POST("/v1/tts", { body: { text: "你好，欢迎使用语音合成。", voice_id: "default" } });
check(short.response.status === 200 && short.data, `synthesis: ${JSON.stringify(short.error)}`);
const done = await waitDone(short.data);
const audio = await fetch(done.audio_url);
check(audio.ok && (await audio.arrayBuffer()).byteLength > 1000, "audio_url");

// A refusal comes back typed as the description's Error.
const refused = await client.POST("/v1/tts", { body: { text: "你好\u0007", voice_id: "default" } });
check(refused.response.status === 400 && refused.error?.error.code === "text_invalid_chars", "refusal");

// Enroll the user's recording the way wx.uploadFile does (multipart), speak a long text in it (a job), delete it.
const recording = readFileSync(process.env.RECORDING ?? "../prompt_zh.wav");
const enrolled = await client.POST("/v1/voices", {
  body: { audio: "", consent: "self", name: "我的声音" },
  bodySerializer: (body) => {
    const form = new FormData();
    form.append("audio", new Blob([recording], { type: "audio/wav" }), "recording.wav");
    form.append("consent", body.consent);
    if (body.name) form.append("name", body.name);
    return form;
  },
});
check(enrolled.data?.voice_id, `enrollment: ${JSON.stringify(enrolled.error)}`);
const voiceId = enrolled.data.voice_id;
const text = Array.from({ length: 12 }, (_, i) => `这是第${i + 1}句话，用我自己的声音读出来。`).join("");
const long = await client.POST("/v1/tts", { body: { text, voice_id: voiceId, format: "wav" } });
check(long.data, `long text: ${JSON.stringify(long.error)}`);
check(long.response.status === 202, `a long text is a job (got ${long.response.status})`);
const article = await waitDone(long.data);
check(article.format === "wav" && article.duration_s > 1, "the article");
const voices = await client.GET("/v1/voices");
check(voices.data?.voices?.some((v) => v.voice_id === voiceId), "the voice is listed");
const removed = await client.DELETE("/v1/voices/{voice_id}", { params: { path: { voice_id: voiceId } } });
check(removed.response.status === 204, "deleted");
const gone = await client.GET("/v1/voices/{voice_id}", { params: { path: { voice_id: voiceId } } });
check(gone.response.status === 404 && gone.error?.error.code === "voice_not_found", "gone");

// The OpenAI-compatible endpoint: the audio bytes themselves.
const speech = await client.POST("/v1/audio/speech", {
  body: { model: "cosyvoice3", input: "你好。", voice: "default", response_format: "wav" },
  parseAs: "arrayBuffer",
});
check(speech.response.ok && (speech.data as unknown as ArrayBuffer).byteLength > 1000, "speech");

console.log(`typescript client: ok (${done.duration_s.toFixed(2)} s of speech, article ${article.duration_s.toFixed(2)} s)`);
