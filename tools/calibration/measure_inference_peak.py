#!/usr/bin/env python3
"""Measure the transient memory of one LLaMA decoder layer's forward without gradients.

Calibration tool for memsim -- NOT part of the test suite. Run by hand with the Debian CPU
build of PyTorch (`/usr/bin/python3 <this file>`); writes
tests/fixtures/pytorch_inference_peak.json, which memsim's inference walk is checked against.

What it measures: under torch.no_grad(), the peak of the bytes of storages created by aten
ops inside the layer's forward and still referenced (measure_saved_tensors.OpTracker), for
  * a prefill of s tokens (HF LlamaDecoderLayer layout, eager attention, causal mask), and
  * one decode step attending to a cache of C tokens that a serving engine preallocated: the
    new key and value are copied into it in place, attention reads its first C rows.
The layer input, RoPE cos/sin, the mask, the weights and the cache are made before the
window and not counted. bf16, GQA (4 query heads over 2 KV heads), SwiGLU, HF-eager RMSNorm.
"""
import json
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import measure_saved_tensors as m  # noqa: E402
import transformer_blocks as blocks  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT_PATH = os.path.join(REPO, "tests", "fixtures", "pytorch_inference_peak.json")
DIMS = dict(b=2, h=64, a=4, kv=2, d=16, f=176, s=256, C=512)


def decode_attention(attn, x, cos, sin, k_cache, v_cache, pos):
    """One token per sequence; the cache holds pos tokens before it, pos + 1 after."""
    b, s, _ = x.shape
    q = attn.q_proj(x).view(b, s, attn.a, attn.d).transpose(1, 2)
    k = attn.k_proj(x).view(b, s, attn.kv, attn.d).transpose(1, 2)
    v = attn.v_proj(x).view(b, s, attn.kv, attn.d).transpose(1, 2)
    q, k = blocks.apply_rotary_pos_emb(q, k, cos, sin)
    k_cache[:, :, pos:pos + 1].copy_(k)
    v_cache[:, :, pos:pos + 1].copy_(v)
    keys = blocks.repeat_kv(k_cache[:, :, :pos + 1], attn.a // attn.kv)
    values = blocks.repeat_kv(v_cache[:, :, :pos + 1], attn.a // attn.kv)
    w = torch.matmul(q, keys.transpose(2, 3)) / math.sqrt(attn.d)
    w = F.softmax(w, dim=-1, dtype=torch.float32).to(q.dtype)
    o = torch.matmul(w, values).transpose(1, 2).contiguous().reshape(b, s, attn.h)
    return attn.o_proj(o)


def peak_of(run):
    tracker = m.OpTracker(track_live=True)
    with torch.no_grad(), tracker:
        out = run()
    del out
    return tracker.peak, tracker.peak_op, [dict(created_by=op, bytes=nb) for op, nb in
                                           tracker.peak_snapshot if nb >= 1024]


def main():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    D = DIMS
    dt = torch.bfloat16
    layer = blocks.LlamaDecoderLayer(D["h"], D["a"], D["kv"], D["f"], blocks.LlamaRMSNorm).to(dt).eval()

    x = torch.randn(D["b"], D["s"], D["h"], dtype=dt)
    cos, sin = blocks.llama_rope_cos_sin(D["d"], torch.arange(D["s"])[None].expand(D["b"], -1), dt)
    mask = blocks.llama_causal_mask(D["b"], D["s"], dt)
    prefill = peak_of(lambda: layer(x, cos, sin, mask))

    pos = D["C"] - 1
    x1 = torch.randn(D["b"], 1, D["h"], dtype=dt)
    cos1, sin1 = blocks.llama_rope_cos_sin(D["d"], torch.full((D["b"], 1), pos), dt)
    k_cache = torch.zeros(D["b"], D["kv"], D["C"], D["d"], dtype=dt)
    v_cache = torch.zeros_like(k_cache)

    def step():
        r = x1
        h = r + decode_attention(layer.self_attn, layer.input_layernorm(x1), cos1, sin1, k_cache,
                                 v_cache, pos)
        return h + layer.mlp(layer.post_attention_layernorm(h))

    decode = peak_of(step)
    doc = dict(
        source="tools/calibration/measure_inference_peak.py; torch %s (Debian build); CPU; "
               "measured 2026-11-28" % torch.__version__,
        method=("peak bytes of storages created by aten ops inside the layer forward and still "
                "referenced, under torch.no_grad(); layer input, RoPE tables, mask, weights and "
                "the preallocated cache excluded; no allocator rounding"),
        dims=D,
        prefill=dict(tokens=D["s"], peak_bytes=prefill[0], peak_at_op=prefill[1], live=prefill[2]),
        decode=dict(cache_tokens=D["C"], peak_bytes=decode[0], peak_at_op=decode[1],
                    live=decode[2]),
    )
    with open(OUT_PATH, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    print(json.dumps(doc, indent=1))


if __name__ == "__main__":
    main()
