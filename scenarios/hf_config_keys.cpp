#include "scenarios/hf_config_keys.h"

namespace memsim::scenarios {

namespace {

constexpr HfKeyUse kIgnored = HfKeyUse::kIgnored;
constexpr HfKeyUse kRefused = HfKeyUse::kRefused;

constexpr std::string_view kPretrainedSetting =
    "a setting of Transformers' PretrainedConfig, not of the architecture";
constexpr std::string_view kMoe = "a mixture of experts";
constexpr std::string_view kMla = "multi-head latent attention";

// Transformers' configuration classes (transformers 4.46: configuration_utils.py
// PretrainedConfig, models/llama, mistral, qwen2 and gpt2 configuration_*.py) and the
// architecture keys of the families memsim does not model (mixtral, qwen2_moe, deepseek_v3,
// gemma2, ...), which appear when a config is relabelled.
constexpr HfKeyRule kRules[] = {
    // Metadata and token ids.
    {"architectures", "", kIgnored, "names the Transformers class"},
    {"transformers_version", "", kIgnored, "metadata"},
    {"auto_map", "", kIgnored, "names custom code"},
    {"bos_token_id", "", kIgnored, "a token id"},
    {"eos_token_id", "", kIgnored, "a token id"},
    {"pad_token_id", "", kIgnored, "a token id"},
    {"sep_token_id", "", kIgnored, "a token id"},
    {"decoder_start_token_id", "", kIgnored, "a token id"},
    // Values that change numbers inside an op, not what it keeps.
    {"torch_dtype", "", kIgnored, "the scenario's precision decides every dtype"},
    {"dtype", "", kIgnored, "the scenario's precision decides every dtype"},
    {"initializer_range", "", kIgnored, "initialisation only"},
    {"rms_norm_eps", "", kIgnored, "a constant inside the norm"},
    {"layer_norm_epsilon", "", kIgnored, "a constant inside the norm"},
    {"layer_norm_eps", "", kIgnored, "a constant inside the norm"},
    {"rope_theta", "", kIgnored, "rotary frequencies: no parameters, the same tensors"},
    {"rope_scaling", "", kIgnored, "rotary frequencies: no parameters, the same tensors"},
    {"rope_parameters", "", kIgnored, "rotary frequencies: no parameters, the same tensors"},
    {"max_position_embeddings", "", kIgnored,
     "rotary positions have no table; the scenario gives the sequence length"},
    {"pretraining_tp", "", kIgnored,
     "reproduces pre-training's split matmuls numerically; the same shapes"},
    {"use_cache", "", kIgnored, "serving keeps a KV cache as memsim's inference keys say"},
    // PretrainedConfig's own settings.
    {"output_attentions", "", kIgnored, kPretrainedSetting},
    {"output_hidden_states", "", kIgnored, kPretrainedSetting},
    {"return_dict", "", kIgnored, kPretrainedSetting},
    {"torchscript", "", kIgnored, kPretrainedSetting},
    {"use_bfloat16", "", kIgnored, kPretrainedSetting},
    {"tf_legacy_loss", "", kIgnored, kPretrainedSetting},
    {"pruned_heads", "", kIgnored, kPretrainedSetting},
    {"chunk_size_feed_forward", "", kIgnored, kPretrainedSetting},
    {"is_decoder", "", kIgnored, kPretrainedSetting},
    {"id2label", "", kIgnored, "labels of a classification head"},
    {"label2id", "", kIgnored, "labels of a classification head"},
    {"problem_type", "", kIgnored, "a classification head's loss"},
    {"finetuning_task", "", kIgnored, kPretrainedSetting},
    {"tokenizer_class", "", kIgnored, "names the tokenizer"},
    {"prefix", "", kIgnored, kPretrainedSetting},
    {"task_specific_params", "", kIgnored, "generation settings"},
    {"max_length", "", kIgnored, "a generation setting"},
    {"min_length", "", kIgnored, "a generation setting"},
    {"do_sample", "", kIgnored, "a generation setting"},
    {"early_stopping", "", kIgnored, "a generation setting"},
    {"num_beams", "", kIgnored, "a generation setting"},
    {"temperature", "", kIgnored, "a generation setting"},
    {"top_k", "", kIgnored, "a generation setting"},
    {"top_p", "", kIgnored, "a generation setting"},
    {"repetition_penalty", "", kIgnored, "a generation setting"},
    {"length_penalty", "", kIgnored, "a generation setting"},
    {"no_repeat_ngram_size", "", kIgnored, "a generation setting"},
    {"num_return_sequences", "", kIgnored, "a generation setting"},
    // GPT-2 (GPT2Config).
    {"n_ctx", "gpt2", kIgnored, "an old spelling of n_positions, which memsim reads"},
    {"embd_pdrop", "gpt2", kIgnored,
     "memsim applies resid_pdrop's rate at every dropout (GPT-2 uses one rate for all)"},
    {"attn_pdrop", "gpt2", kIgnored,
     "memsim applies resid_pdrop's rate at every dropout (GPT-2 uses one rate for all)"},
    {"summary_type", "gpt2", kIgnored, "a sequence-classification head"},
    {"summary_use_proj", "gpt2", kIgnored, "a sequence-classification head"},
    {"summary_activation", "gpt2", kIgnored, "a sequence-classification head"},
    {"summary_proj_to_labels", "gpt2", kIgnored, "a sequence-classification head"},
    {"summary_first_dropout", "gpt2", kIgnored, "a sequence-classification head"},
    {"scale_attn_weights", "gpt2", kIgnored, "a constant factor on the scores"},
    {"scale_attn_by_inverse_layer_idx", "gpt2", kIgnored, "a constant factor on the scores"},
    {"reorder_and_upcast_attn", "gpt2", kRefused, "attention scores upcast to fp32"},
    // Architectures memsim does not model (refused when set).
    {"num_local_experts", "", kRefused, kMoe},
    {"num_experts", "", kRefused, kMoe},
    {"n_routed_experts", "", kRefused, kMoe},
    {"n_shared_experts", "", kRefused, kMoe},
    {"num_experts_per_tok", "", kRefused, kMoe},
    {"moe_intermediate_size", "", kRefused, kMoe},
    {"shared_expert_intermediate_size", "", kRefused, kMoe},
    {"decoder_sparse_step", "", kRefused, kMoe},
    {"mlp_only_layers", "", kRefused, kMoe},
    {"first_k_dense_replace", "", kRefused, kMoe},
    {"moe_layer_freq", "", kRefused, kMoe},
    {"router_aux_loss_coef", "", kRefused, kMoe},
    {"q_lora_rank", "", kRefused, kMla},
    {"kv_lora_rank", "", kRefused, kMla},
    {"qk_nope_head_dim", "", kRefused, kMla},
    {"qk_rope_head_dim", "", kRefused, kMla},
    {"v_head_dim", "", kRefused, kMla},
    {"num_nextn_predict_layers", "", kRefused, "multi-token prediction modules"},
    {"attn_logit_softcapping", "", kRefused, "soft-capped attention logits"},
    {"final_logit_softcapping", "", kRefused, "soft-capped output logits"},
    {"layer_types", "", kRefused, "layers of different kinds"},
    {"cross_attention_layers", "", kRefused, "cross-attention layers"},
    {"add_cross_attention", "", kRefused, "cross-attention layers"},
    {"is_encoder_decoder", "", kRefused, "an encoder-decoder model"},
    {"parallel_attn", "", kRefused, "attention and MLP side by side"},
    {"parallel_residual", "", kRefused, "attention and MLP side by side"},
    {"use_parallel_residual", "", kRefused, "attention and MLP side by side"},
    {"qk_layernorm", "", kRefused, "norms on q and k"},
    {"use_qk_norm", "", kRefused, "norms on q and k"},
    {"vision_config", "", kRefused, "a multimodal model (give its text model's config.json)"},
    {"text_config", "", kRefused, "a multimodal model (give its text model's config.json)"},
    {"audio_config", "", kRefused, "a multimodal model (give its text model's config.json)"},
    {"quantization_config", "", kRefused,
     "quantised weights (read the model unquantised and set inference.weights)"},
};

}  // namespace

const HfKeyRule* find_hf_key_rule(std::string_view model_type, std::string_view key) {
  for (const HfKeyRule& rule : kRules) {
    if (rule.key == key && (rule.model_type.empty() || rule.model_type == model_type)) {
      return &rule;
    }
  }
  return nullptr;
}

}  // namespace memsim::scenarios
