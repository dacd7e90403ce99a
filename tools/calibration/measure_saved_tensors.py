#!/usr/bin/env python3
"""Measure what eager PyTorch saves for backward in transformer layers.

Calibration tool for memsim -- NOT part of the test suite. It is run by hand
(with the Debian CPU build of PyTorch 1.13: `/usr/bin/python3 <this file>`)
and writes tests/fixtures/pytorch_saved_tensors.json, which the simulator's
per-op saved-tensor table is checked against.

What it measures, per case (training mode, CPU, small exact dims):
  * every tensor that autograd saves during the forward pass, captured with
    torch.autograd.graph.saved_tensors_hooks; parameters (and views of them,
    e.g. weight.t()) are excluded by comparing storage data_ptrs; module
    buffers (e.g. GPT-2's causal-mask buffer) are listed separately as static;
  * bytes deduplicated by underlying storage (each storage counted once, at
    its full storage nbytes);
  * attribution to the module (or labelled region) that was running when the
    tensor was saved (forward pre/post hooks maintain a label stack), the
    autograd node/attribute that holds it (found by walking the graph and
    unpacking each node's _saved_* attributes), and the aten op that created
    it (via a TorchDispatchMode);
  * for the loss head, the peak of live tensors during forward and backward
    (sum of storages created by aten ops and still referenced; no allocator).

Cases: GPT-2 block (HF GPT2Block layout; fp32/bf16; gelu_new vs nn.GELU;
dropout via CPU F.dropout, via torch.native_dropout as the CUDA path does, or
p=0), LLaMA decoder layer (HF LlamaDecoderLayer layout, bf16, GQA; HF-eager
RMSNorm vs a fused-style RMSNorm autograd.Function), loss head (norm ->
lm_head -> .float() -> cross_entropy), and GPT-2 input embeddings.

Deterministic; runs in a few seconds.
"""
import json
import os
import weakref

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from labels import _ACTIVE_LABELER, Labeler, region
from transformer_blocks import (GPT2Block, GPT2Embeddings, FusedRMSNorm, LitGPTRMSNorm,
                                LlamaDecoderLayer, LlamaRMSNorm, LossHead, llama_causal_mask,
                                llama_rope_cos_sin)

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT_PATH = os.path.join(REPO, "tests", "fixtures", "pytorch_saved_tensors.json")
SOURCE = ("tools/calibration/measure_saved_tensors.py; torch %s (Debian build, /usr/bin/python3); "
          "measured 2026-12-03; CPU" % torch.__version__)

# Dims chosen so that s*b*h, a*s*s*b, s*b*V, s*s, s*d are all distinct (with
# s=16,b=2,h=64,a=4 one gets s*b*h == a*s*s*b, which makes totals ambiguous).
DIMS = dict(s=12, b=3, h=64, a=4, d=16, kv=2, ffn_gpt2=256, ffn_llama=176, V=1000)


def sptr(t):
    return t.storage().data_ptr()


def snbytes(t):
    return t.storage().nbytes()


# --------------------------------------------------------------------------
# Dispatch mode: who created each storage; optional live-bytes tracking
# --------------------------------------------------------------------------
class OpTracker(TorchDispatchMode):
    def __init__(self, track_live=False, labeler=None):
        super().__init__()
        self.producer = {}
        self.labeler = labeler
        # In the saved-tensor run keep every op output alive until the end of the
        # forward, so no storage address is reused and `producer` stays exact.
        self.keep = None if track_live else []
        self.track_live = track_live
        self.live = {}      # storage ptr -> [nbytes, refcount, op]
        self.cur = 0
        self.peak = 0
        self.peak_op = None
        self.peak_snapshot = None

    def _release(self, key):
        ent = self.live.get(key)
        if ent is None:
            return
        ent[1] -= 1
        if ent[1] == 0:
            self.cur -= ent[0]
            del self.live[key]

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        in_ptrs = {sptr(t) for t in tree_flatten((args, kwargs))[0] if isinstance(t, torch.Tensor)}
        for t in tree_flatten(out)[0]:
            if not isinstance(t, torch.Tensor):
                continue
            key = sptr(t)
            if self.keep is not None:
                self.keep.append(t)
            if key not in in_ptrs:
                where = (" in " + self.labeler.current()) if self.labeler is not None else ""
                self.producer[key] = str(func) + where
            if self.track_live:
                if key not in self.live:
                    if key in in_ptrs:
                        continue  # view/in-place of a tensor created outside the window
                    self.live[key] = [snbytes(t), 0, str(func)]
                    self.cur += self.live[key][0]
                    if self.cur > self.peak:
                        self.peak = self.cur
                        self.peak_op = str(func)
                        self.peak_snapshot = sorted(
                            ((v[2], v[0]) for v in self.live.values()), key=lambda x: -x[1])
                self.live[key][1] += 1
                weakref.finalize(t, self._release, key)
        return out


# --------------------------------------------------------------------------
# Saved-tensor recorder
# --------------------------------------------------------------------------
class SavedRecorder:
    def __init__(self, root, labeler, tracker):
        self.param_ptrs = {sptr(p) for p in root.parameters()}
        self.buffer_ptrs = {sptr(b) for b in root.buffers()}
        self.labeler = labeler
        self.tracker = tracker
        self.records = []
        self.unpacked = []

    def pack(self, t):
        idx = len(self.records)
        self.records.append(dict(tensor=t, label=self.labeler.current(), nodes=[],
                                 producer=self.tracker.producer.get(sptr(t),
                                                                    "input (created outside the measured forward)")))
        return idx

    def unpack(self, idx):
        self.unpacked.append(idx)
        return self.records[idx]["tensor"]

    def annotate_graph(self, outputs):
        """Walk the autograd graph; map each packed tensor to node.attribute."""
        seen = set()
        keep = []  # node wrappers are cached only weakly; keep them alive so id() stays unique
        stack = [o.grad_fn for o in outputs if o.grad_fn is not None]
        while stack:
            node = stack.pop()
            if node is None or id(node) in seen:
                continue
            seen.add(id(node))
            keep.append(node)
            name = node.name()
            attrs = [a for a in dir(node) if a.startswith("_saved_")]
            if hasattr(node, "saved_tensors") and not attrs:  # custom autograd.Function
                attrs = ["saved_tensors"]
            for attr in attrs:
                self.unpacked = []
                try:
                    getattr(node, attr)
                except Exception:
                    pass
                short = attr[len("_saved_"):] if attr.startswith("_saved_") else attr
                for i in self.unpacked:
                    self.records[i]["nodes"].append(name + "." + short)
            for nxt, _ in node.next_functions:
                if nxt is not None:
                    stack.append(nxt)


def classify(shape, numel, nbytes, dims):
    s, b, h, a, V = dims["s"], dims["b"], dims["h"], dims["a"], dims.get("V")
    if len(shape) >= 2 and tuple(shape[-2:]) == (s, s):
        return "as2b", nbytes / (a * s * s * b)
    if V is not None and len(shape) >= 1 and shape[-1] == V:
        return "sbV", nbytes / (s * b * V)
    if numel % (s * b) == 0 and numel // (s * b) >= dims["d"]:
        return "sbh", nbytes / (s * b * h)
    if numel % (s * b) == 0:
        return "sb", nbytes / (s * b)
    return "other", float(nbytes)


def r6(x):
    return round(float(x), 6)


def summarize(rec, dims):
    storages = {}   # ptr -> info (in first-pack order)
    for r in rec.records:
        t = r["tensor"]
        key = sptr(t)
        if key in rec.param_ptrs:
            kind = "parameter"
        elif t.dim() == 0 and t.dtype in (torch.float64, torch.int64) and key not in rec.tracker.producer:
            kind = "host_scalar"  # wrapped Python number (e.g. 0.5 * x); lives on the host even on GPU
        elif key in rec.buffer_ptrs:
            kind = "buffer"
        else:
            kind = "activation"
        if key not in storages:
            storages[key] = dict(kind=kind, label=r["label"], tensor=t, labels=[], nodes=[],
                                 producer=r["producer"], views=[])
        st = storages[key]
        if r["label"] not in st["labels"]:
            st["labels"].append(r["label"])
        for n in r["nodes"]:
            if n not in st["nodes"]:
                st["nodes"].append(n)
        v = (list(t.shape), t.dtype)
        if v not in st["views"]:
            st["views"].append(v)

    per_module = {}
    excluded = dict(parameter_storages=0, host_scalar_storages=0)
    totals = dict(sbh=0.0, as2b=0.0, sbV=0.0, sb=0.0, other=0.0)
    total = 0
    static = []
    for key, st in storages.items():
        t = st["tensor"]
        nb = snbytes(t)
        entry = dict(
            shape=list(t.shape), dtype=str(t.dtype).replace("torch.", ""),
            storage_bytes=nb,
        )
        if st["kind"] == "parameter":
            excluded["parameter_storages"] += 1
            continue
        if st["kind"] == "host_scalar":
            excluded["host_scalar_storages"] += 1
            continue
        if st["kind"] == "buffer":
            entry.update(saved_by=st["nodes"], module=st["label"])
            static.append(entry)
            continue
        cls, coeff = classify(list(t.shape), t.numel(), nb, dims)
        entry.update({"class": cls, "coeff": r6(coeff)})
        if t.numel() * t.element_size() != nb:
            entry["note"] = "view; storage holds %d elements" % (nb // t.element_size())
        if len(st["views"]) > 1:
            entry["other_views_saved"] = [dict(shape=s_, dtype=str(d_).replace("torch.", ""))
                                          for s_, d_ in st["views"][1:]]
        entry["saved_by"] = st["nodes"] if st["nodes"] else ["(node not found in graph walk)"]
        entry["created_by"] = st["producer"]
        if len(st["labels"]) > 1:
            entry["also_saved_in"] = st["labels"][1:]
        m = per_module.setdefault(st["label"], dict(bytes=0, sbh_coeff=0.0, as2b_coeff=0.0,
                                                    sbV_coeff=0.0, o_sb_bytes=0, other_bytes=0,
                                                    tensors=[]))
        m["bytes"] += nb
        if cls == "sb":
            m["o_sb_bytes"] += nb
            totals["sb"] += nb
        elif cls == "other":
            m["other_bytes"] += nb
            totals["other"] += nb
        else:
            m[cls + "_coeff"] += coeff
            totals[cls] += coeff
        m["tensors"].append(entry)
        total += nb
    for m in per_module.values():
        for k in ("sbh_coeff", "as2b_coeff", "sbV_coeff"):
            m[k] = r6(m[k])
        for k in ("sbh_coeff", "as2b_coeff", "sbV_coeff", "o_sb_bytes", "other_bytes"):
            if not m[k]:
                del m[k]
    s, b, h, a = dims["s"], dims["b"], dims["h"], dims["a"]
    V = dims.get("V", 0)
    recon = (totals["sbh"] * s * b * h + totals["as2b"] * a * s * s * b + totals["sbV"] * s * b * V
             + totals["sb"] + totals["other"])
    assert abs(recon - total) < 1e-6, (recon, total)
    decomposition = dict(sbh_coeff=r6(totals["sbh"]), as2b_coeff=r6(totals["as2b"]),
                         o_sb_bytes=int(totals["sb"]), other_bytes=int(totals["other"]))
    if totals["sbV"]:
        decomposition["sbV_coeff"] = r6(totals["sbV"])
    return total, decomposition, per_module, static, excluded


def measure(root, root_label, run_forward, dims):
    """run_forward() -> list of output tensors. Returns the case summary."""
    root.train()
    labeler = Labeler(root, root_label)
    _ACTIVE_LABELER[0] = labeler
    tracker = OpTracker(labeler=labeler)
    rec = SavedRecorder(root, labeler, tracker)
    try:
        with torch.autograd.graph.saved_tensors_hooks(rec.pack, rec.unpack):
            with tracker:
                outs = run_forward()
        rec.annotate_graph(outs)
        summary = summarize(rec, dims)
        tracker.keep = None
        # sanity: backward runs through the hooks
        loss = sum(o.float().sum() for o in outs if o.requires_grad)
        loss.backward()
        for n, p in root.named_parameters():
            assert p.grad is not None, n
    finally:
        labeler.remove()
        _ACTIVE_LABELER[0] = None
    return summary


# --------------------------------------------------------------------------
# Cases
# --------------------------------------------------------------------------
DT = {"float32": torch.float32, "bfloat16": torch.bfloat16}


def case_record(name, description, dims, dtype, summary, extra=None):
    total, decomp, per_module, static, excluded = summary
    c = dict(name=name, description=description, source=SOURCE, dims=dims, dtype=dtype,
             training=True, total_saved_bytes=total, decomposition=decomp)
    if extra:
        c.update(extra)
    if static:
        c["static_saved_excluded"] = static
    c["excluded_saved_storages"] = excluded
    c["per_module"] = per_module
    return c


def gpt2_case(dtype, act, p, dmode):
    D = DIMS
    dims = dict(s=D["s"], b=D["b"], h=D["h"], a=D["a"], d=D["d"], ffn=D["ffn_gpt2"])
    torch.manual_seed(0)
    blk = GPT2Block(D["h"], D["a"], D["ffn_gpt2"], D["s"], p, dmode, act).to(DT[dtype])
    x = torch.randn(D["b"], D["s"], D["h"], dtype=DT[dtype], requires_grad=True)
    summ = measure(blk, "block", lambda: [blk(x)], dims)
    name = "gpt2_block_%s_%s_dropout%s_%s" % (dtype, act, p, "native" if dmode == "native_dropout" else "F")
    desc = ("HF GPT2Block layout, pre-LN, input (b,s,h) leaf; act=%s; dropout p=%s via %s"
            % (act, p, "torch.native_dropout (CUDA fused path, bool mask)" if dmode == "native_dropout"
               else "F.dropout (CPU eager path: x*noise)"))
    extra = None
    if dtype == "bfloat16":
        extra = dict(reference_korthikanti_2022=dict(
            formula="34*sbh + 5*a*s^2*b bytes (16-bit, 1-byte dropout masks, gelu saves input only)",
            sbh_coeff=34, as2b_coeff=5))
    return case_record(name, desc, dims, dtype, summ, extra)


LLAMA_NORMS = {
    "hf_rmsnorm": (LlamaRMSNorm, "HF eager (upcast, pow(2).mean, rsqrt, mul, cast back, *weight)"),
    "fused_rmsnorm": (FusedRMSNorm, "custom autograd.Function saving x, weight, fp32 rstd"),
    "litgpt_rmsnorm": (LitGPTRMSNorm, "LitGPT's (upcast, mean(x*x), rsqrt, mul, *weight.float(), "
                                      "cast back)"),
}


def llama_case(norm):
    D = DIMS
    dims = dict(s=D["s"], b=D["b"], h=D["h"], a=D["a"], kv=D["kv"], d=D["d"], ffn=D["ffn_llama"])
    dt = torch.bfloat16
    torch.manual_seed(0)
    norm_cls, norm_desc = LLAMA_NORMS[norm]
    layer = LlamaDecoderLayer(D["h"], D["a"], D["kv"], D["ffn_llama"], norm_cls).to(dt)
    x = torch.randn(D["b"], D["s"], D["h"], dtype=dt, requires_grad=True)
    pos = torch.arange(D["s"]).unsqueeze(0)
    cos, sin = llama_rope_cos_sin(D["d"], pos, dt)
    mask = llama_causal_mask(D["b"], D["s"], dt)
    summ = measure(layer, "layer", lambda: [layer(x, cos, sin, mask)], dims)
    desc = ("HF LlamaDecoderLayer layout, GQA a=%d kv=%d, HF rotate_half RoPE (cos/sin (1,s,d) computed "
            "once per model forward and passed in), additive (b,1,s,s) causal mask passed in, "
            "softmax in fp32 then cast, dropout p=0.0, SwiGLU; RMSNorm = %s"
            % (D["a"], D["kv"], norm_desc))
    extra = dict(norm_peak_transient=rmsnorm_peak(D)) if norm == "hf_rmsnorm" else None
    return case_record("llama_layer_bfloat16_" + norm, desc, dims, "bfloat16", summ, extra)


def llama_autocast_case():
    """Transformers' Trainer with bf16=True on a model loaded in fp32: autocast over fp32
    parameters, the residual stream and the norms in fp32, RoPE's cos/sin in the hidden
    states' dtype (fp32), the linears and the attention matmuls cast to bf16."""
    D = DIMS
    dims = dict(s=D["s"], b=D["b"], h=D["h"], a=D["a"], kv=D["kv"], d=D["d"], ffn=D["ffn_llama"])
    torch.manual_seed(0)
    layer = LlamaDecoderLayer(D["h"], D["a"], D["kv"], D["ffn_llama"], LlamaRMSNorm)
    x = torch.randn(D["b"], D["s"], D["h"], dtype=torch.float32, requires_grad=True)
    pos = torch.arange(D["s"]).unsqueeze(0)
    cos, sin = llama_rope_cos_sin(D["d"], pos, torch.float32)
    mask = llama_causal_mask(D["b"], D["s"], torch.float32)

    def forward():
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return [layer(x, cos, sin, mask)]

    summ = measure(layer, "layer", forward, dims)
    desc = ("as llama_layer_bfloat16_hf_rmsnorm, with fp32 parameters, input, cos/sin and mask, "
            "run under torch.autocast('cpu', dtype=torch.bfloat16)")
    return case_record("llama_layer_autocast_bf16_hf_rmsnorm", desc, dims, "float32+autocast", summ)


def loss_head_peak(D):
    """Separate run (identity saved-tensor hooks so the saved tensors stay the
    Python objects we track): live bytes of storages created by aten ops."""
    dt = torch.bfloat16
    torch.manual_seed(0)
    head = LossHead(D["h"], D["V"]).to(dt).train()
    x = torch.randn(D["b"], D["s"], D["h"], dtype=dt, requires_grad=True)
    labels = torch.randint(0, D["V"], (D["b"], D["s"]))
    tr = OpTracker(track_live=True)
    with torch.autograd.graph.saved_tensors_hooks(lambda t: t, lambda t: t):
        with tr:
            loss, logits = head(x, labels)
            fwd_peak, fwd_op, fwd_snap = tr.peak, tr.peak_op, tr.peak_snapshot
            after_fwd = tr.cur
            del logits  # HF returns logits to the caller; assume the caller drops them
            after_drop = tr.cur
            tr.peak = tr.cur
            loss.backward()
            bwd_peak, bwd_op, bwd_snap = tr.peak, tr.peak_op, tr.peak_snapshot
            after_bwd = tr.cur
    sbV2 = D["s"] * D["b"] * D["V"] * 2

    def snap(sn):
        return [dict(created_by=op, bytes=nb, sbV_16bit_units=r6(nb / sbV2)) for op, nb in sn if nb >= sbV2 // 2]

    return dict(
        method=("TorchDispatchMode sums storages created inside the window by aten ops and still "
                "referenced (weakref finalizers); inputs x/labels and parameters excluded; no allocator "
                "rounding or kernel-internal scratch. Tensors < sbV bytes omitted from the lists."),
        forward_peak_bytes=fwd_peak, forward_peak_at_op=fwd_op, forward_peak_live=snap(fwd_snap),
        live_after_forward_bytes=after_fwd,
        live_after_forward_without_logits_bytes=after_drop,
        backward_peak_bytes=bwd_peak, backward_peak_at_op=bwd_op, backward_peak_live=snap(bwd_snap),
        live_after_backward_bytes=after_bwd,
        note_units="sbV_16bit_units = bytes / (2*s*b*V); sbV = %d elements" % (D["s"] * D["b"] * D["V"]),
    )


def rmsnorm_peak(D):
    """HF's eager LlamaRMSNorm alone (bf16 input leaf, its output's gradient given): the most
    live bytes inside its forward and inside its backward, as loss_head_peak counts them
    (storages made by aten ops inside the window; the input and the weight excluded)."""
    dt = torch.bfloat16
    torch.manual_seed(0)
    norm = LlamaRMSNorm(D["h"]).to(dt).train()
    x = torch.randn(D["b"], D["s"], D["h"], dtype=dt, requires_grad=True)
    grad = torch.randn(D["b"], D["s"], D["h"], dtype=dt)
    tr = OpTracker(track_live=True)
    with torch.autograd.graph.saved_tensors_hooks(lambda t: t, lambda t: t):
        with tr:
            y = norm(x)
            fwd_peak, fwd_op = tr.peak, tr.peak_op
            after_fwd = tr.cur
            tr.peak = tr.cur
            y.backward(grad)
            bwd_peak, bwd_op = tr.peak, tr.peak_op
    return dict(
        method=("TorchDispatchMode sums storages created inside the window by aten ops and still "
                "referenced; the input x, the weight and the given output gradient excluded"),
        forward_peak_bytes=fwd_peak, forward_peak_at_op=fwd_op,
        live_after_forward_bytes=after_fwd,
        backward_peak_bytes=bwd_peak, backward_peak_at_op=bwd_op,
        note_units="s*b*h = %d elements" % (D["s"] * D["b"] * D["h"]),
    )


def loss_case():
    D = DIMS
    dims = dict(s=D["s"], b=D["b"], h=D["h"], a=D["a"], d=D["d"], V=D["V"])
    dt = torch.bfloat16
    torch.manual_seed(0)
    head = LossHead(D["h"], D["V"]).to(dt)
    x = torch.randn(D["b"], D["s"], D["h"], dtype=dt, requires_grad=True)
    labels = torch.randint(0, D["V"], (D["b"], D["s"]))
    summ = measure(head, "loss_head", lambda: [head(x, labels)[0]], dims)
    extra = dict(peak_transient=loss_head_peak(D))
    desc = ("final HF-eager RMSNorm -> lm_head Linear(h,V,no bias) in bf16 -> logits.float() -> "
            "F.cross_entropy(logits.view(-1,V), labels.view(-1)) (no label shift)")
    return case_record("loss_head_bfloat16", desc, dims, "bfloat16", summ, extra)


def embedding_case(dmode):
    D = DIMS
    dims = dict(s=D["s"], b=D["b"], h=D["h"], a=D["a"], d=D["d"], V=D["V"])
    dt = torch.bfloat16
    torch.manual_seed(0)
    emb = GPT2Embeddings(D["V"], D["s"], D["h"], 0.1, dmode).to(dt)
    ids = torch.randint(0, D["V"], (D["b"], D["s"]))
    pos = torch.arange(D["s"]).unsqueeze(0)
    summ = measure(emb, "embeddings", lambda: [emb(ids, pos)], dims)
    name = "gpt2_embeddings_bfloat16_dropout0.1_%s" % ("native" if dmode == "native_dropout" else "F")
    desc = ("wte Embedding(V,h) on int64 ids (b,s) + wpe Embedding(max_pos,h) on position ids (1,s) "
            "+ dropout 0.1 via %s" % dmode)
    return case_record(name, desc, dims, "bfloat16", summ)


def main():
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    cases = []
    for dtype in ("float32", "bfloat16"):
        for act in ("gelu_new", "gelu"):
            for p, dmode in ((0.1, "F.dropout"), (0.1, "native_dropout"), (0.0, "F.dropout")):
                cases.append(gpt2_case(dtype, act, p, dmode))
    for norm in LLAMA_NORMS:
        cases.append(llama_case(norm))
    cases.append(llama_autocast_case())
    cases.append(loss_case())
    cases.append(embedding_case("F.dropout"))
    cases.append(embedding_case("native_dropout"))
    doc = dict(
        source=SOURCE,
        units=("coefficients are bytes divided by the unit's element count: sbh_coeff = bytes/(s*b*h) "
               "(so a 16-bit (b,s,h) tensor is 2.0), as2b_coeff = bytes/(a*s*s*b), "
               "sbV_coeff = bytes/(s*b*V); o_sb_bytes = tensors with < d elements per token "
               "(norm statistics, int64 ids/labels); other_bytes = anything else (scalars, RoPE cos/sin)"),
        conventions=("saved tensors deduplicated by storage (storage().data_ptr()), each counted at its "
                     "storage nbytes and attributed to the first module/region that saved it; parameters "
                     "and views of them excluded; module buffers listed under static_saved_excluded; "
                     "0-dim float64/int64 wrapped Python numbers (host scalars, e.g. from 0.5 * x) excluded "
                     "and only counted; saved_by = autograd node.attribute; created_by = aten op that "
                     "produced the storage and the module/region running at that time ('input' = created "
                     "before the measured forward)"),
        platform_notes=[
            "CPU F.dropout (0<p<1) runs x * noise: the saved 'mask' is a tensor of x's dtype (2 B/elt in "
            "bf16, 4 in fp32). On CUDA at::dropout takes torch.native_dropout and saves a 1-byte bool mask; "
            "the *_native cases reproduce that path on CPU.",
            "Dropout with p=0.0 (training) returns its input unchanged and saves nothing (both paths).",
            "CPU native_layer_norm on bf16 saves mean/rstd in bf16, shape (b,s,1); CUDA uses the fp32 "
            "accumulate type for them (4 B/token each).",
            "torch 1.13 MeanBackward1 saves its input tensor (`_saved_self`); in the HF-eager RMSNorm that is "
            "the fp32 x.pow(2) (4 B/elt). Current PyTorch derivatives.yaml uses self.sym_numel() for mean.dim "
            "(sizes only), so newer versions should not save it (not verified here).",
            "Batched matmul on permuted q/k/v (and on repeat_kv output) saves contiguous copies made by "
            "matmul's reshape (created_by aten.clone), not views of the fused qkv output.",
        ],
        cases=cases,
    )
    os.makedirs(os.path.dirname(OUT_PATH), exist_ok=True)
    with open(OUT_PATH, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    print("wrote", OUT_PATH)
    for c in cases:
        d = c["decomposition"]
        print("%-48s total=%7d  sbh=%7.3f as2b=%6.3f sbV=%s o_sb=%d other=%d" % (
            c["name"], c["total_saved_bytes"], d["sbh_coeff"], d["as2b_coeff"], d.get("sbV_coeff", "-"),
            d["o_sb_bytes"], d["other_bytes"]))


if __name__ == "__main__":
    main()
