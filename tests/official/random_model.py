"""Build a CosyVoice3 model directory with small random weights that the official `AutoModel` loads.

The real weights cannot be fetched here; the architecture can be built from the official classes at any size.
What `AutoModel(model_dir=...)` loads as CosyVoice3 (checked against commit ace7c47):
- `cosyvoice3.yaml`: the classes of the official `examples/libritts/cosyvoice3/conf/cosyvoice3.yaml`, with
  small sizes (`SIZES`); `llm.pt`, `flow.pt`, `hift.pt`: state dicts of the modules that yaml builds;
- `CosyVoice-BlankEN/`: a Qwen2 model and tokenizer. The LLM hard-codes id 151646 for `<|endofprompt|>`,
  so the tokenizer has 151643 regular ids, then `<|endoftext|>`, `<|im_start|>`, `<|im_end|>`; the official
  tokenizer adds `<|endofprompt|>` and the markup tokens after them. Regular tokens are single characters
  (CJK, Latin, punctuation), so a text's token count is its character count (segment lengths are predictable);
- `campplus.onnx` ([B, T, 80] fbank -> [B, 192]) and `speech_tokenizer_v3.onnx` (`feats` [B, 128, T],
  `feats_length` [B] -> ids [B, ceil(T / 4)] in 0..6560): small ONNX graphs with the official IO.

With random weights any of the 200 stop ids would end a segment at a random length (possibly before its first
speech token, which fails the call); their rows of the LLM decoder are zeroed, so every segment runs to its
maximum length (20 speech tokens per text token): durations follow the text.

    python tests/official/random_model.py OUT_DIR [--sizes real]   # real: the CosyVoice3-0.5B sizes
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

SPEECH_TOKENS = 6561
REGULAR_IDS = 151643
QWEN_VOCAB = 152064  # regular + specials + every token the official tokenizer adds, rounded up

SIZES = {  # small: loads in seconds, runs on a CPU; real: Fun-CosyVoice3-0.5B's architecture
    "small": {"hidden": 64, "layers": 2, "heads": 2, "kv_heads": 1, "ffn": 128, "dit_dim": 64, "dit_depth": 2,
              "dit_heads": 2, "dit_head_dim": 32, "lookahead": 64, "hift_channels": 32, "f0_channels": 32},
    "real": {"hidden": 896, "layers": 24, "heads": 14, "kv_heads": 2, "ffn": 4864, "dit_dim": 1024,
             "dit_depth": 22, "dit_heads": 16, "dit_head_dim": 64, "lookahead": 1024, "hift_channels": 512,
             "f0_channels": 512},
}

YAML = """\
sample_rate: 24000
llm_input_size: {hidden}
llm_output_size: {hidden}
spk_embed_dim: 192
qwen_pretrain_path: ''
token_frame_rate: 25
token_mel_ratio: 2
chunk_size: 25
num_decoding_left_chunks: -1

llm: !new:cosyvoice.llm.llm.CosyVoice3LM
    llm_input_size: !ref <llm_input_size>
    llm_output_size: !ref <llm_output_size>
    speech_token_size: 6561
    length_normalized_loss: True
    lsm_weight: 0
    mix_ratio: [5, 15]
    llm: !new:cosyvoice.llm.llm.Qwen2Encoder
        pretrain_path: !ref <qwen_pretrain_path>
    sampling: !name:cosyvoice.utils.common.ras_sampling
        top_p: 0.8
        top_k: 25
        win_size: 10
        tau_r: 0.1

flow: !new:cosyvoice.flow.flow.CausalMaskedDiffWithDiT
    input_size: 80
    output_size: 80
    spk_embed_dim: !ref <spk_embed_dim>
    output_type: 'mel'
    vocab_size: 6561
    input_frame_rate: !ref <token_frame_rate>
    only_mask_loss: True
    token_mel_ratio: !ref <token_mel_ratio>
    pre_lookahead_len: 3
    pre_lookahead_layer: !new:cosyvoice.transformer.upsample_encoder.PreLookaheadLayer
        in_channels: 80
        channels: {lookahead}
        pre_lookahead_len: 3
    decoder: !new:cosyvoice.flow.flow_matching.CausalConditionalCFM
        in_channels: 240
        n_spks: 1
        spk_emb_dim: 80
        cfm_params: !new:omegaconf.DictConfig
            content:
                sigma_min: 1e-06
                solver: 'euler'
                t_scheduler: 'cosine'
                training_cfg_rate: 0.2
                inference_cfg_rate: 0.7
                reg_loss_type: 'l1'
        estimator: !new:cosyvoice.flow.DiT.dit.DiT
            dim: {dit_dim}
            depth: {dit_depth}
            heads: {dit_heads}
            dim_head: {dit_head_dim}
            ff_mult: 2
            mel_dim: 80
            mu_dim: 80
            spk_dim: 80
            out_channels: 80
            static_chunk_size: !ref <chunk_size> * <token_mel_ratio>
            num_decoding_left_chunks: !ref <num_decoding_left_chunks>

hift: !new:cosyvoice.hifigan.generator.CausalHiFTGenerator
    in_channels: 80
    base_channels: {hift_channels}
    nb_harmonics: 8
    sampling_rate: !ref <sample_rate>
    nsf_alpha: 0.1
    nsf_sigma: 0.003
    nsf_voiced_threshold: 10
    upsample_rates: [8, 5, 3]
    upsample_kernel_sizes: [16, 11, 7]
    istft_params:
        n_fft: 16
        hop_len: 4
    resblock_kernel_sizes: [3, 7, 11]
    resblock_dilation_sizes: [[1, 3, 5], [1, 3, 5], [1, 3, 5]]
    source_resblock_kernel_sizes: [7, 7, 11]
    source_resblock_dilation_sizes: [[1, 3, 5], [1, 3, 5], [1, 3, 5]]
    lrelu_slope: 0.1
    audio_limit: 0.99
    conv_pre_look_right: 4
    f0_predictor: !new:cosyvoice.hifigan.f0_predictor.CausalConvRNNF0Predictor
        num_class: 1
        in_channels: 80
        cond_channels: {f0_channels}

get_tokenizer: !name:cosyvoice.tokenizer.tokenizer.get_qwen_tokenizer
    token_path: !ref <qwen_pretrain_path>
    skip_special_tokens: True
    version: cosyvoice3
allowed_special: 'all'
feat_extractor: !name:matcha.utils.audio.mel_spectrogram
    n_fft: 1920
    num_mels: 80
    sampling_rate: !ref <sample_rate>
    hop_size: 480
    win_size: 1920
    fmin: 0
    fmax: null
    center: False
"""


def vendor_on_path(vendor: Path) -> None:
    for path in (vendor, vendor / "third_party" / "Matcha-TTS"):
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))


def _characters() -> list[str]:
    """The regular tokens: single characters a test text may contain, then fillers up to REGULAR_IDS."""
    ranges = [(0x20, 0x7F), (0xA0, 0x250), (0x2000, 0x2070), (0x3000, 0x3040), (0x4E00, 0xA000), (0xFF00, 0xFFF0)]
    chars = [chr(c) for lo, hi in ranges for c in range(lo, hi)]
    return chars + [f"<filler{i}>" for i in range(REGULAR_IDS - len(chars))]


def build_tokenizer(path: Path) -> None:
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {token: i for i, token in enumerate(_characters())}
    core = Tokenizer(models.WordLevel(vocab, unk_token="?"))
    core.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")  # one token per character
    core.decoder = decoders.Fuse()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, eos_token="<|endoftext|>",
                                        pad_token="<|endoftext|>")
    tokenizer.add_special_tokens({"additional_special_tokens": ["<|im_start|>", "<|im_end|>"]})
    ids = tokenizer.convert_tokens_to_ids(["<|endoftext|>", "<|im_start|>", "<|im_end|>"])
    assert ids == [REGULAR_IDS, REGULAR_IDS + 1, REGULAR_IDS + 2], ids
    tokenizer.save_pretrained(str(path))


def build_qwen(path: Path, size: dict) -> None:
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    config = Qwen2Config(vocab_size=QWEN_VOCAB, hidden_size=size["hidden"], intermediate_size=size["ffn"],
                         num_hidden_layers=size["layers"], num_attention_heads=size["heads"],
                         num_key_value_heads=size["kv_heads"], max_position_embeddings=32768,
                         tie_word_embeddings=True)
    torch.manual_seed(0)
    Qwen2ForCausalLM(config).save_pretrained(str(path))


def _model(graph):
    from onnx import helper

    # IR 8 / opset 13: what the onnxruntime of the functions (1.16) and of the official code both load
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)


def build_onnx(out: Path) -> None:
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    # campplus: mean fbank over time -> 192-dim speaker embedding
    weight = numpy_helper.from_array(rng.standard_normal((80, 192)).astype(np.float32) * 0.1, "w")
    graph = helper.make_graph(
        [helper.make_node("ReduceMean", ["input"], ["mean"], axes=[1], keepdims=0),
         helper.make_node("MatMul", ["mean", "w"], ["embedding"])],
        "campplus", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["B", "T", 80])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["B", 192])], [weight])
    onnx.save(_model(graph), str(out / "campplus.onnx"))
    # speech tokenizer: every 4th frame's first mel bin, scaled, as a token id in 0..6560
    consts = [numpy_helper.from_array(np.array(v, dtype=np.int64), n) for n, v in
              (("starts", [0]), ("ends", [2**62]), ("axes", [2]), ("steps", [4]), ("vocab", SPEECH_TOKENS))]
    graph = helper.make_graph(
        [helper.make_node("Slice", ["feats", "starts", "ends", "axes", "steps"], ["every4"]),
         helper.make_node("ReduceMean", ["every4"], ["frame"], axes=[1], keepdims=0),
         helper.make_node("Abs", ["frame"], ["magnitude"]),
         helper.make_node("Mul", ["magnitude", "scale"], ["scaled"]),
         helper.make_node("Cast", ["scaled"], ["as_int"], to=TensorProto.INT64),
         helper.make_node("Mod", ["as_int", "vocab"], ["tokens64"]),
         helper.make_node("Cast", ["tokens64"], ["tokens"], to=TensorProto.INT32),
         helper.make_node("Identity", ["feats_length"], ["unused_length"])],
        "speech_tokenizer",
        [helper.make_tensor_value_info("feats", TensorProto.FLOAT, ["B", 128, "T"]),
         helper.make_tensor_value_info("feats_length", TensorProto.INT32, ["B"])],
        [helper.make_tensor_value_info("tokens", TensorProto.INT32, ["B", "N"]),
         helper.make_tensor_value_info("unused_length", TensorProto.INT32, ["B"])],
        consts + [numpy_helper.from_array(np.array(997.0, dtype=np.float32), "scale")])
    onnx.save(_model(graph), str(out / "speech_tokenizer_v3.onnx"))


def build(out: Path, vendor: Path, sizes: str = "small") -> Path:
    """Write the model directory `out` (skipped when a complete one is there) and return it."""
    import torch
    from hyperpyyaml import load_hyperpyyaml

    marker = out / "built.json"
    if marker.exists() and json.loads(marker.read_text()) == {"sizes": sizes}:
        return out
    vendor_on_path(vendor)
    size = SIZES[sizes]
    out.mkdir(parents=True, exist_ok=True)
    qwen = out / "CosyVoice-BlankEN"
    build_qwen(qwen, size)  # first: saving a model clears other files from its folder
    build_tokenizer(qwen)
    build_onnx(out)
    (out / "cosyvoice3.yaml").write_text(YAML.format(**size), encoding="utf-8")
    with open(out / "cosyvoice3.yaml", encoding="utf-8") as f:
        configs = load_hyperpyyaml(f, overrides={"qwen_pretrain_path": str(qwen)})
    llm = configs["llm"]
    with torch.no_grad():
        llm.llm_decoder.weight[SPEECH_TOKENS:] = 0.0  # no stop id ever wins: segments run to their maximum
    torch.save(llm.state_dict(), out / "llm.pt")
    torch.save(configs["flow"].state_dict(), out / "flow.pt")
    torch.save(configs["hift"].state_dict(), out / "hift.pt")
    marker.write_text(json.dumps({"sizes": sizes}))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--vendor", type=Path, default=Path(__file__).resolve().parents[3] / "shared" / "vendor"
                    / "CosyVoice-ace7c47")
    ap.add_argument("--sizes", choices=sorted(SIZES), default="small")
    args = ap.parse_args()
    print(f"model directory: {build(args.out, args.vendor, args.sizes)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
