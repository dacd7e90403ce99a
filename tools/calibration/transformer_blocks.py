"""The transformer blocks the calibration scripts measure, written as Hugging Face
Transformers writes them (GPT-2 and LLaMA layers, their norms, attention, MLP and loss
head), with labelled regions for the parts a module's forward runs inline."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from labels import region


class Dropout(nn.Module):
    """mode 'F.dropout': what eager PyTorch runs (on CPU this is x * noise,
    noise a tensor of x's dtype holding 0 or 1/(1-p)); mode 'native_dropout':
    the fused path at::dropout takes on CUDA when 0<p<1 (saves a bool mask)."""

    def __init__(self, p, mode):
        super().__init__()
        self.p, self.mode = p, mode

    def forward(self, x):
        if self.mode == "F.dropout":
            return F.dropout(x, self.p, self.training)
        if self.training and 0.0 < self.p < 1.0:
            return torch.native_dropout(x, self.p, True)[0]
        return x


class NewGELUActivation(nn.Module):  # HF "gelu_new", verbatim formula
    def forward(self, x):
        return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


class GPT2Attention(nn.Module):
    def __init__(self, h, a, max_pos, p, dmode):
        super().__init__()
        self.h, self.a, self.d = h, a, h // a
        self.register_buffer("bias", torch.tril(torch.ones((max_pos, max_pos), dtype=torch.bool))
                             .view(1, 1, max_pos, max_pos), persistent=False)
        self.c_attn = nn.Linear(h, 3 * h)
        self.c_proj = nn.Linear(h, h)
        self.attn_dropout = Dropout(p, dmode)
        self.resid_dropout = Dropout(p, dmode)

    def _split_heads(self, t):
        b, s, _ = t.shape
        return t.view(b, s, self.a, self.d).permute(0, 2, 1, 3)

    def _attn(self, q, k, v):
        w = torch.matmul(q, k.transpose(-1, -2))
        w = w / torch.full([], v.size(-1) ** 0.5, dtype=w.dtype, device=w.device)
        ql, kl = q.size(-2), k.size(-2)
        causal_mask = self.bias[:, :, kl - ql:kl, :kl]
        mask_value = torch.full([], torch.finfo(w.dtype).min, dtype=w.dtype, device=w.device)
        w = torch.where(causal_mask, w.to(w.dtype), mask_value)
        w = F.softmax(w, dim=-1)
        w = w.type(v.dtype)
        w = self.attn_dropout(w)
        return torch.matmul(w, v)

    def forward(self, x):
        q, k, v = self.c_attn(x).split(self.h, dim=2)
        q, k, v = self._split_heads(q), self._split_heads(k), self._split_heads(v)
        with region("core"):
            o = self._attn(q, k, v)
        b, _, s, _ = o.shape
        o = o.permute(0, 2, 1, 3).contiguous().view(b, s, self.h)
        o = self.c_proj(o)
        return self.resid_dropout(o)


class GPT2MLP(nn.Module):
    def __init__(self, h, f, p, dmode, act):
        super().__init__()
        self.c_fc = nn.Linear(h, f)
        self.c_proj = nn.Linear(f, h)
        self.act = NewGELUActivation() if act == "gelu_new" else nn.GELU()
        self.dropout = Dropout(p, dmode)

    def forward(self, x):
        return self.dropout(self.c_proj(self.act(self.c_fc(x))))


class GPT2Block(nn.Module):
    def __init__(self, h, a, f, max_pos, p, dmode, act):
        super().__init__()
        self.ln_1 = nn.LayerNorm(h, eps=1e-5)
        self.attn = GPT2Attention(h, a, max_pos, p, dmode)
        self.ln_2 = nn.LayerNorm(h, eps=1e-5)
        self.mlp = GPT2MLP(h, f, p, dmode, act)

    def forward(self, x):
        r = x
        x = r + self.attn(self.ln_1(x))
        r = x
        return r + self.mlp(self.ln_2(x))


class LlamaRMSNorm(nn.Module):  # HF eager implementation
    def __init__(self, h, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(h))
        self.variance_epsilon = eps

    def forward(self, hidden_states):
        input_dtype = hidden_states.dtype
        hidden_states = hidden_states.to(torch.float32)
        variance = hidden_states.pow(2).mean(-1, keepdim=True)
        hidden_states = hidden_states * torch.rsqrt(variance + self.variance_epsilon)
        return self.weight * hidden_states.to(input_dtype)


class LitGPTRMSNorm(LlamaRMSNorm):  # litgpt/model.py RMSNorm: the weight applied in fp32
    def forward(self, x):
        dtype = x.dtype
        x = x.float()
        norm_x = torch.mean(x * x, dim=-1, keepdim=True)
        x_normed = x * torch.rsqrt(norm_x + self.variance_epsilon)
        return (x_normed * self.weight.float()).to(dtype=dtype)


class FusedRMSNormFn(torch.autograd.Function):
    """Fused-kernel style: saves only the input, the weight and fp32 rstd."""

    @staticmethod
    def forward(ctx, x, weight, eps):
        xf = x.float()
        rstd = torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps)
        y = weight * (xf * rstd).to(x.dtype)
        ctx.save_for_backward(x, weight, rstd)
        return y

    @staticmethod
    def backward(ctx, gy):
        x, weight, rstd = ctx.saved_tensors
        xhat = x.float() * rstd
        gyf = gy.float()
        gw = (gyf * xhat).reshape(-1, x.shape[-1]).sum(0).to(weight.dtype)
        gxhat = gyf * weight.float()
        gx = rstd * (gxhat - xhat * (gxhat * xhat).mean(-1, keepdim=True))
        return gx.to(x.dtype), gw, None


class FusedRMSNorm(LlamaRMSNorm):
    def forward(self, x):
        return FusedRMSNormFn.apply(x, self.weight, self.variance_epsilon)


def rotate_half(x):
    x1 = x[..., : x.shape[-1] // 2]
    x2 = x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def apply_rotary_pos_emb(q, k, cos, sin, unsqueeze_dim=1):
    cos = cos.unsqueeze(unsqueeze_dim)
    sin = sin.unsqueeze(unsqueeze_dim)
    return (q * cos) + (rotate_half(q) * sin), (k * cos) + (rotate_half(k) * sin)


def repeat_kv(x, n_rep):
    b, kvh, s, d = x.shape
    if n_rep == 1:
        return x
    x = x[:, :, None, :, :].expand(b, kvh, n_rep, s, d)
    return x.reshape(b, kvh * n_rep, s, d)


def llama_rope_cos_sin(d, position_ids, dtype, base=10000.0):
    # HF LlamaRotaryEmbedding: computed once per model forward (no grad), shared by all layers
    with torch.no_grad():
        inv_freq = 1.0 / (base ** (torch.arange(0, d, 2, dtype=torch.int64).float() / d))
        inv = inv_freq[None, :, None].float().expand(position_ids.shape[0], -1, 1)
        pos = position_ids[:, None, :].float()
        freqs = (inv @ pos).transpose(1, 2)
        emb = torch.cat((freqs, freqs), dim=-1)
        return emb.cos().to(dtype), emb.sin().to(dtype)


def llama_causal_mask(b, s, dtype):
    # HF eager: additive (b, 1, s, s) mask, 0 / finfo.min, built once in LlamaModel
    m = torch.full((s, s), torch.finfo(dtype).min, dtype=dtype).triu(1)
    return m[None, None].expand(b, 1, s, s).clone()


class LlamaAttention(nn.Module):
    def __init__(self, h, a, kv):
        super().__init__()
        self.h, self.a, self.kv, self.d = h, a, kv, h // a
        self.q_proj = nn.Linear(h, a * self.d, bias=False)
        self.k_proj = nn.Linear(h, kv * self.d, bias=False)
        self.v_proj = nn.Linear(h, kv * self.d, bias=False)
        self.o_proj = nn.Linear(a * self.d, h, bias=False)
        self.attention_dropout = 0.0

    def forward(self, x, cos, sin, mask):
        b, s, _ = x.shape
        q = self.q_proj(x).view(b, s, self.a, self.d).transpose(1, 2)
        k = self.k_proj(x).view(b, s, self.kv, self.d).transpose(1, 2)
        v = self.v_proj(x).view(b, s, self.kv, self.d).transpose(1, 2)
        with region("rope"):
            q, k = apply_rotary_pos_emb(q, k, cos, sin)
        with region("repeat_kv"):
            k = repeat_kv(k, self.a // self.kv)
            v = repeat_kv(v, self.a // self.kv)
        with region("core"):
            w = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(self.d)
            w = w + mask
            w = F.softmax(w, dim=-1, dtype=torch.float32).to(q.dtype)
            w = F.dropout(w, p=self.attention_dropout, training=self.training)
            o = torch.matmul(w, v)
            o = o.transpose(1, 2).contiguous().reshape(b, s, self.h)
        return self.o_proj(o)


class LlamaMLP(nn.Module):
    def __init__(self, h, f):
        super().__init__()
        self.gate_proj = nn.Linear(h, f, bias=False)
        self.up_proj = nn.Linear(h, f, bias=False)
        self.down_proj = nn.Linear(f, h, bias=False)
        self.act_fn = nn.SiLU()

    def forward(self, x):
        return self.down_proj(self.act_fn(self.gate_proj(x)) * self.up_proj(x))


class LlamaDecoderLayer(nn.Module):
    def __init__(self, h, a, kv, f, norm_cls):
        super().__init__()
        self.input_layernorm = norm_cls(h)
        self.self_attn = LlamaAttention(h, a, kv)
        self.post_attention_layernorm = norm_cls(h)
        self.mlp = LlamaMLP(h, f)

    def forward(self, x, cos, sin, mask):
        r = x
        x = r + self.self_attn(self.input_layernorm(x), cos, sin, mask)
        r = x
        return r + self.mlp(self.post_attention_layernorm(x))


class LossHead(nn.Module):
    def __init__(self, h, V):
        super().__init__()
        self.norm = LlamaRMSNorm(h)
        self.lm_head = nn.Linear(h, V, bias=False)

    def forward(self, x, labels):
        logits = self.lm_head(self.norm(x))
        logits = logits.float()
        V = logits.shape[-1]
        with region("cross_entropy"):
            loss = F.cross_entropy(logits.view(-1, V), labels.view(-1))
        return loss, logits


class GPT2Embeddings(nn.Module):
    def __init__(self, V, max_pos, h, p, dmode):
        super().__init__()
        self.wte = nn.Embedding(V, h)
        self.wpe = nn.Embedding(max_pos, h)
        self.drop = Dropout(p, dmode)

    def forward(self, ids, pos_ids):
        return self.drop(self.wte(ids) + self.wpe(pos_ids))
