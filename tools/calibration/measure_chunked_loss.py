#!/usr/bin/env python3
"""Measure what eager PyTorch keeps alive in torchtune's chunked cross-entropy.

Calibration tool for memsim -- NOT part of the test suite. Run by hand with the
Debian CPU build of PyTorch (`/usr/bin/python3 <this file>`); writes
tests/fixtures/pytorch_chunked_loss.json, which the simulator's model of
`training.loss_chunks: N` is checked against.

Mirrors pytorch/torchtune v0.6.1 (commit a6290a5b4075; the last release whose
configs use CEWithChunkedOutputLoss), cross-checked at main HEAD bd2a0fc7c314:
  * torchtune/modules/transformer.py, TransformerDecoder.chunked_output:
    [self.output(chunk) for chunk in h.chunk(N, dim=1)] on h = self.norm(h), no
    upcast (HEAD: tensor_split, same chunks when s % N == 0; deprecated).
  * torchtune/modules/loss/ce_chunked_output_loss.py, CEWithChunkedOutputLoss:
    forward chunks labels with labels.chunk(N, dim=1) + reshape(-1), reshapes
    each logits chunk to (-1, V), sums compute_cross_entropy over chunks, then
    divides by (labels != ignore_index).sum(); compute_cross_entropy is
    F.cross_entropy(logits.float(), labels, ignore_index=-100, reduction="sum"),
    i.e. the fp32 upcast happens per chunk inside the loss.
  * recipes/full_finetune_single_device.py: labels shifted via torch.hstack
    ((labels[..., 1:], ignore_labels_cache)); _loss_step: loss_fn(logits,
    labels), `del logits`; train: (loss * current_num_tokens).backward().

Case: bf16, x (b,s,hidden) leaf, h = x * 1.5 (non-leaf, made before the window),
nn.Linear(hidden, V, bias=False), the code above, backward. Per N in 1, 2, 4, 8:
saved tensors (saved_tensors_hooks, dedup by storage, parameters excluded) and
live storages created by aten ops (TorchDispatchMode + weakref finalizers; no
allocator): forward peak, what forward leaves, backward peaks. Technique copied
from measure_saved_tensors.py. Deterministic; runs in seconds.
"""
import json
import os
import weakref

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT_PATH = os.path.join(REPO, "tests", "fixtures", "pytorch_chunked_loss.json")
SOURCE = dict(
    script="tools/calibration/measure_chunked_loss.py", torch=torch.__version__,
    python="/usr/bin/python3 (Debian python3-torch build)", date="2026-12-03", device="CPU",
    torchtune=("pytorch/torchtune v0.6.1 (commit a6290a5b40758f13bca61c386bc8756a49ef417e): "
               "torchtune/modules/transformer.py TransformerDecoder.chunked_output; "
               "torchtune/modules/loss/ce_chunked_output_loss.py CEWithChunkedOutputLoss.forward and "
               "compute_cross_entropy; recipes/full_finetune_single_device.py _loss_step and train. "
               "Cross-checked at main HEAD bd2a0fc7c31430972728494fa01aaeeb0ebf1ba1 (2026-04-23): same "
               "computation, chunk -> tensor_split, logits -> outputs, class and chunked_output deprecated "
               "in favour of LinearCrossEntropyLoss"))
# s divisible by 8; s*b*V, V*hidden, s*b*hidden, s*b distinct, and V*hidden/(s*b*V) = hidden/(s*b)
# is not a simple fraction, so weight-grad sized and logits sized terms cannot tie.
DIMS = dict(s=24, b=5, hidden=64, V=1000)
IGNORE = -100
TAG = ["setup"]  # which part of the computation is running (attribution only)


def sptr(t):
    return t.storage().data_ptr()


def dt(t):
    return str(t.dtype).replace("torch.", "")


class OpTracker(TorchDispatchMode):
    """Records the aten op creating each storage; optionally tracks live bytes."""

    def __init__(self, track_live):
        super().__init__()
        self.track_live = track_live
        self.producer = {}                       # storage ptr -> "op (tag)"
        self.keep = None if track_live else []   # saved-tensor run: no address reuse
        self.live = {}                           # ptr -> [nbytes, refs, op, dtype, shape, order]
        self.order = self.cur = 0
        self.window, self.peaks = None, {}       # window -> dict(bytes, at_op, live)

    def start(self, window):
        self.window = window
        self.peaks[window] = dict(bytes=self.cur, at_op="(window start)", live=self.snapshot())

    def snapshot(self):
        ents = sorted(self.live.values(), key=lambda e: (-e[0], e[5]))
        return [dict(dtype=e[3], shape=e[4], bytes=e[0], created_by=e[2]) for e in ents]

    def _release(self, key):
        ent = self.live.get(key)
        if ent is not None:
            ent[1] -= 1
            if ent[1] == 0:
                self.cur -= ent[0]
                del self.live[key]

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if self.window == "backward/loss" and func is torch.ops.aten.mm.default:
            self.start("backward/projection")  # first output-layer mm backward
        out = func(*args, **(kwargs or {}))
        in_ptrs = {sptr(t) for t in tree_flatten((args, kwargs))[0] if isinstance(t, torch.Tensor)}
        for t in tree_flatten(out)[0]:
            if not isinstance(t, torch.Tensor):
                continue
            key, op = sptr(t), "%s (%s)" % (func, TAG[0])
            if self.keep is not None:
                self.keep.append(t)
            if key not in in_ptrs:
                self.producer[key] = op
            if not self.track_live:
                continue
            if key not in self.live:
                if key in in_ptrs:
                    continue  # view / in-place result of a storage made outside the window
                self.order += 1
                self.live[key] = [t.storage().nbytes(), 0, op, dt(t), list(t.shape), self.order]
                self.cur += self.live[key][0]
                p = self.peaks[self.window]
                if self.cur > p["bytes"]:
                    p.update(bytes=self.cur, at_op=op, live=self.snapshot())
            self.live[key][1] += 1
            weakref.finalize(t, self._release, key)
        return out


# ---------------------------------------------------------------- torchtune v0.6.1, mirrored
def chunked_output(output, h, n):  # TransformerDecoder.chunked_output
    outs = []
    for i, chunk in enumerate(h.chunk(n, dim=1)):
        TAG[0] = "output[%d]" % i
        outs.append(output(chunk))
    return outs


UPCAST = [True]  # False: cross-entropy on the 16-bit logits as they are (LitGPT's)


def compute_cross_entropy(logits, labels):  # CEWithChunkedOutputLoss.compute_cross_entropy
    return F.cross_entropy(logits.float() if UPCAST[0] else logits, labels, ignore_index=IGNORE,
                           reduction="sum")


def chunked_ce_loss(logits, labels, n):  # CEWithChunkedOutputLoss.forward
    TAG[0] = "loss"
    total_elements = (labels != IGNORE).sum()
    labels = [target_chunk.reshape(-1) for target_chunk in labels.chunk(n, dim=1)]
    logits = [logit_chunk.reshape(-1, logit_chunk.size(-1)) for logit_chunk in logits]
    total_loss = 0.0
    for i, (logits_chunk, labels_chunk) in enumerate(zip(logits, labels)):
        TAG[0] = "ce[%d]" % i
        total_loss += compute_cross_entropy(logits_chunk, labels_chunk)
    TAG[0] = "loss"
    return total_loss / total_elements


def setup():
    D = DIMS
    torch.manual_seed(0)
    output = nn.Linear(D["hidden"], D["V"], bias=False).to(torch.bfloat16).train()
    x = torch.randn(D["b"], D["s"], D["hidden"], dtype=torch.bfloat16, requires_grad=True)
    tokens = torch.randint(0, D["V"], (D["b"], D["s"]))
    labels = torch.hstack((tokens[..., 1:], torch.full((D["b"], 1), IGNORE)))  # recipe's shift
    current_num_tokens = (labels != IGNORE).sum()
    TAG[0] = "setup"
    return output, x, x * 1.5, labels, current_num_tokens


def step(output, h, labels, current_num_tokens, n, tracker):
    with tracker:
        logits = chunked_output(output, h, n)
        loss = chunked_ce_loss(logits, labels, n)
        del logits  # recipe: "free logits otherwise it peaks backward memory"
        TAG[0] = "recipe"
        return loss * current_num_tokens


# ---------------------------------------------------------------- measurements
def measure_saved(n):
    output, x, h, labels, cnt = setup()
    param_ptrs = {sptr(p) for p in output.parameters()}
    records, unpacked = [], []

    def unpack(i):
        unpacked.append(i)
        return records[i][0]

    tr = OpTracker(track_live=False)
    with torch.autograd.graph.saved_tensors_hooks(lambda t: records.append((t, [])) or len(records) - 1,
                                                  unpack):
        loss = step(output, h, labels, cnt, n, tr)
    seen, keep, stack = set(), [], [loss.grad_fn]  # graph walk: which node.attribute holds what
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        keep.append(node)  # node wrappers are cached weakly; keep them so id() stays unique
        for attr in sorted(a for a in dir(node) if a.startswith("_saved_")):
            del unpacked[:]
            try:
                getattr(node, attr)
            except Exception:
                pass
            for i in unpacked:
                records[i][1].append(node.name() + "." + attr[len("_saved_"):])
        stack.extend(nx for nx, _ in node.next_functions if nx is not None)
    storages = {}
    for t, nodes in records:
        if sptr(t) in param_ptrs:
            continue
        st = storages.setdefault(sptr(t), dict(t=t, nodes=[], views=[]))
        st["nodes"] += [x_ for x_ in nodes if x_ not in st["nodes"]]
        if dict(dtype=dt(t), shape=list(t.shape)) not in st["views"]:
            st["views"].append(dict(dtype=dt(t), shape=list(t.shape)))
    out = []
    for key, st in storages.items():
        e = dict(dtype=dt(st["t"]), shape=list(st["t"].shape), bytes=st["t"].storage().nbytes(),
                 saved_by=st["nodes"] or ["(not found in graph walk)"],
                 created_by=tr.producer.get(key, "input (created before the window)"))
        if len(st["views"]) > 1:
            e["other_views_saved"] = st["views"][1:]
        out.append(e)
    tr.keep = None
    loss.backward()
    assert output.weight.grad is not None and x.grad is not None
    return dict(bytes=sum(e["bytes"] for e in out),
                bytes_created_in_window=sum(e["bytes"] for e in out if not e["created_by"].startswith("input")),
                tensors=out)


def measure_live(n):
    output, x, h, labels, cnt = setup()
    tr = OpTracker(track_live=True)
    tr.start("forward")
    # identity hooks: saved tensors stay the Python objects the tracker watches
    with torch.autograd.graph.saved_tensors_hooks(lambda t: t, lambda t: t):
        loss = step(output, h, labels, cnt, n, tr)
        after_fwd = dict(bytes=tr.cur, live=tr.snapshot())
        tr.start("backward/loss")
        with tr:
            TAG[0] = "backward"
            loss.backward()
        del loss
        tr.window = None
        after_bwd = dict(bytes=tr.cur, live=tr.snapshot())
    return tr.peaks, after_fwd, after_bwd


def annotate(d, n):
    """Add per_sbV and a composition (sbV-, V*hidden-, s*b*hidden-sized, other) to a live list."""
    D = DIMS
    sbV, Vh, sbh = D["s"] * D["b"] * D["V"], D["V"] * D["hidden"], D["s"] * D["b"] * D["hidden"]
    c = dict(sbV_bytes=0, Vh_bytes=0, sbh_bytes=0, other_bytes=0)
    lst = d.get("live", d.get("tensors"))
    for e in lst:
        e["per_sbV"] = round(e["bytes"] / sbV, 6)
        numel = torch.Size(e["shape"]).numel()
        if numel == Vh and D["V"] in e["shape"]:
            c["Vh_bytes"] += e["bytes"]      # weight-gradient shaped
        elif e["shape"] and e["shape"][-1] == D["V"] and (numel * n) % sbV == 0:
            c["sbV_bytes"] += e["bytes"]     # logits-like (one chunk or all)
        elif e["shape"] and e["shape"][-1] == D["hidden"] and (numel * n) % sbh == 0:
            c["sbh_bytes"] += e["bytes"]     # hidden-state shaped (copies of h chunks, dh)
        else:
            c["other_bytes"] += e["bytes"]
    c.update(sbV_coeff=round(c["sbV_bytes"] / sbV, 6), Vh_coeff=round(c["Vh_bytes"] / Vh, 6),
             sbh_coeff=round(c["sbh_bytes"] / sbh, 6))
    out = dict(bytes=d["bytes"], per_sbV=round(d["bytes"] / sbV, 6), **{k: d[k] for k in ("at_op",) if k in d})
    return dict(out, composition=c, **{k: v for k, v in d.items() if k not in out})


def main():
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    D = DIMS
    cases = []
    for n, upcast in ((1, True), (2, True), (4, True), (8, True), (1, False)):
        UPCAST[0] = upcast
        saved = annotate(measure_saved(n), n)
        peaks, after_fwd, after_bwd = measure_live(n)
        bl, bp = (annotate(peaks[w], n) for w in ("backward/loss", "backward/projection"))
        cases.append(dict(chunks=n, upcast=upcast, saved=saved,
                          forward_peak=annotate(peaks["forward"], n),
                          after_forward_bytes=after_fwd["bytes"], after_forward=annotate(after_fwd, n),
                          backward_peak=bl if bl["bytes"] >= bp["bytes"] else bp,
                          backward_phase_peaks=dict(loss=bl, projection=bp),
                          after_backward=annotate(after_bwd, n)))
    doc = dict(
        source=SOURCE,
        dims=dict(D, sbV=D["s"] * D["b"] * D["V"], dtype="bfloat16", ignore_index=IGNORE,
                  ignored_label_positions=D["b"]),
        method=(
            "Forward window: first chunk's output projection .. after `del logits` and the recipe's "
            "`loss * current_num_tokens`. Backward: loss.backward() incl. AccumulateGrad into weight.grad "
            "and x.grad, split at the first backward aten.mm into phase 'loss' (all chunks' CE backward) "
            "and 'projection' (output mm backwards, weight-grad accumulation, cat of dh, x*1.5 backward); "
            "backward_peak is the larger. Live bytes = storages created by aten ops inside the windows and "
            "still referenced; x, h, labels, current_num_tokens and parameters are made before and not "
            "counted; backward numbers include what forward left. Saved: saved_tensors_hooks in the forward "
            "window, dedup by storage at full storage nbytes, weight and weight.t() excluded; created_by "
            "'input' = made before the window. Live-list shapes are as created. per_sbV = bytes/(s*b*V) "
            "(bf16 (b,s,V) = 2.0, fp32 = 4.0); composition: sbV (last dim V), Vh (weight-grad shaped; "
            "coeff = bytes/(V*hidden), one bf16 grad = 2.0), sbh (last dim hidden), other. created_by "
            "tags: output[i] = projection of chunk i, ce[i] = loss of chunk i."),
        notes=[
            "Autograd runs every chunk's CE backward (NllLoss, LogSoftmax, ToCopy) before any output mm "
            "backward: the mm nodes were created first and have lower sequence numbers. All bf16 dlogits "
            "chunks (2*s*b*V bytes in total) are live when the projection phase starts.",
            "torch 1.13 sums the N weight-grad contributions in the engine's InputBuffer out of place (old + "
            "new: three V*hidden bf16 buffers at the aten.add; also seen with torch.autograd.profiler "
            "outside any dispatch mode). PyTorch >= 2.0 (pytorch/pytorch#88339) adds in place when it holds "
            "the last reference, but not while a dispatch mode is active, so this tracker cannot show that.",
            "For N > 1 (b > 1) the h chunks are not contiguous: F.linear -> matmul copies each one "
            "(aten.clone, saved by MmBackward0.self; 2*s*b*hidden bytes in total). The label chunks' "
            "reshape(-1) copies likewise (int64, NllLossBackward0.target). For N = 1 both are views of "
            "the inputs.",
            "F.cross_entropy = log_softmax + nll_loss. The fp32 upcast is freed after each chunk "
            "(ToCopyBackward0 saves nothing); the fp32 log-probs are saved once, shared by "
            "LogSoftmaxBackward0.result and NllLossBackward0.self.",
        ],
        cases=cases,
    )
    os.makedirs(os.path.dirname(OUT_PATH), exist_ok=True)
    with open(OUT_PATH, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    print("torch", torch.__version__, "dims", D, "s*b*V =", D["s"] * D["b"] * D["V"])
    for c in cases:
        print("N=%d  saved %d B (%.4f sbV); after forward %d B (%.4f sbV)" % (
            c["chunks"], c["saved"]["bytes"], c["saved"]["per_sbV"], c["after_forward_bytes"],
            c["after_forward"]["per_sbV"]))
        for name, p in (("forward peak", c["forward_peak"]),
                        ("backward peak, loss phase", c["backward_phase_peaks"]["loss"]),
                        ("backward peak, projection phase", c["backward_phase_peaks"]["projection"])):
            cm = p["composition"]
            print("   %s %d B = %.4f*sbV + %.1f*V*hidden + %d B sbh-sized + %d B other, at %s" % (
                name, p["bytes"], cm["sbV_coeff"], cm["Vh_coeff"], cm["sbh_bytes"], cm["other_bytes"],
                p["at_op"]))
            print("      live: " + ", ".join("%s%s %s" % (e["dtype"], e["shape"], e["created_by"])
                                             for e in p["live"] if e["bytes"] >= 1000))
    print("wrote", OUT_PATH)


if __name__ == "__main__":
    main()
