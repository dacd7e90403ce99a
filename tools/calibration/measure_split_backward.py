#!/usr/bin/env python3
"""Measure what a pipeline stage keeps between the two halves of a split backward.

Calibration tool for memsim -- NOT part of the test suite. Run by hand with the
Debian CPU build of PyTorch (`/usr/bin/python3 <this file>`); writes
tests/fixtures/pytorch_split_backward.json, which the simulator's input and weight
steps (sim/microbatch_recipe.cpp) are checked against.

PyTorch's zero-bubble schedules split a stage's backward in two
(torch/distributed/pipelining/_backward.py at commit 00722e6):
  * stage_backward_input registers a prehook on each "intermediate" node, the node
    where a parameter's gradient path meets the input's (a linear's mm, the norm's
    weight multiply), storing the gradient flowing into it, then runs
    torch.autograd.grad(outputs, inputs, grad_outputs, retain_graph=True);
  * stage_backward_weight later runs torch.autograd.grad from those nodes to the
    parameters with the stored gradients, without retaining the graph.
torch 1.13 has neither GradientEdge nor node prehooks, so this script stores the same
gradients with a tensor hook on each weighted module's output (the gradient of that
output is what its node receives) and runs the weight step from those outputs.

Case: one Hugging Face LlamaDecoderLayer (transformer_blocks.py: eager RMSNorm, eager
attention with an fp32 softmax, SwiGLU) in bf16, as a middle pipeline stage: its input
x requires grad (received from the previous stage), the gradient of its output arrives
from the next. Live storages made by aten ops are tracked as measure_saved_tensors.py
does (TorchDispatchMode + weakref finalizers): what the forward leaves, what the input step
leaves beside it (the input gradient sent back and dropped), and what the weight step
leaves (the weight gradients only). Deterministic; runs in seconds.
"""
import json
import os

import torch

from measure_saved_tensors import DIMS, OpTracker
from transformer_blocks import LlamaDecoderLayer, LlamaRMSNorm, llama_causal_mask, llama_rope_cos_sin

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT_PATH = os.path.join(REPO, "tests", "fixtures", "pytorch_split_backward.json")


def main():
    D = DIMS
    dt = torch.bfloat16
    torch.manual_seed(0)
    layer = LlamaDecoderLayer(D["h"], D["a"], D["kv"], D["ffn_llama"], LlamaRMSNorm).to(dt)
    x = torch.randn(D["b"], D["s"], D["h"], dtype=dt, requires_grad=True)
    cos, sin = llama_rope_cos_sin(D["d"], torch.arange(D["s"]).unsqueeze(0), dt)
    mask = llama_causal_mask(D["b"], D["s"], dt)
    weighted = [(n, m) for n, m in layer.named_modules()
                if isinstance(m, (torch.nn.Linear, LlamaRMSNorm))]
    outputs, kept = {}, {}

    def keep_output(name):
        def hook(module, inputs, out):
            outputs[name] = out
            out.register_hook(lambda g: kept.__setitem__(name, g))
        return hook

    for name, module in weighted:
        module.register_forward_hook(keep_output(name))
    tr = OpTracker(track_live=True)
    with tr:
        y = layer(x, cos, sin, mask)
        after_forward = tr.cur
        dy = torch.randn_like(y)  # the next stage's gradient, received
        (dx,) = torch.autograd.grad(y, x, dy, retain_graph=True)
        del dx, dy  # the input gradient is sent back
        y.detach_()
        after_input = tr.cur
        names = [n for n, _ in weighted]
        weights = [m.weight for _, m in weighted]
        grads = torch.autograd.grad([outputs[n] for n in names], weights,
                                    [kept[n] for n in names])
        for w, g in zip(weights, grads):
            w.grad = g
        del grads, outputs, kept, y
        after_weight = tr.cur
    weight_bytes = sum(w.grad.numel() * w.grad.element_size() for w in weights)
    case = dict(
        name="llama_layer_bfloat16_hf_rmsnorm_middle_stage",
        dims=dict(s=D["s"], b=D["b"], h=D["h"], a=D["a"], kv=D["kv"], d=D["d"], ffn=D["ffn_llama"]),
        dtype="bfloat16",
        forward_bytes=after_forward,
        input_step_kept_bytes=after_input - after_forward,
        after_weight_step_bytes=after_weight,
        weight_gradient_bytes=weight_bytes,
        weighted_modules=names,
    )
    doc = dict(
        source=dict(script="tools/calibration/measure_split_backward.py", torch=torch.__version__,
                    python="/usr/bin/python3 (Debian python3-torch build)", date="2026-12-03",
                    device="CPU",
                    pytorch=("torch/distributed/pipelining/_backward.py (stage_backward_input, "
                             "stage_backward_weight) at commit 00722e6, emulated with tensor hooks")),
        method=("live storages made by aten ops inside the window (TorchDispatchMode, weakref "
                "finalizers); x, cos/sin, mask and parameters made outside it"),
        cases=[case],
    )
    with open(OUT_PATH, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print(json.dumps(case, indent=1))


if __name__ == "__main__":
    main()
