//! Model architectures, GPUs and the KV-cache sizing derived from them.
//!
//! KV bytes per token = 2 (K and V) × layers × KV heads × head dim × 2 bytes (fp16), summed over
//! the tensor-parallel shards of one instance. Capacity of one instance, in tokens =
//! (GPU memory × TP × utilisation − weight bytes − activation reserve × TP) / bytes per token,
//! which is how vLLM sizes its KV pool (`gpu_memory_utilization`, default 0.9, minus the weights
//! and the peak activation memory of a profiling forward pass).
//!
//! | model | layers | hidden | heads | KV heads | head dim | KV bytes/token | fp16 weights |
//! |---|---|---|---|---|---|---|---|
//! | OPT-13B | 40 | 5,120 | 40 | 40 | 128 | 819,200 | 25.7 GB |
//! | OPT-66B | 64 | 9,216 | 72 | 72 | 128 | 2,359,296 | 131.4 GB |
//! | OPT-175B | 96 | 12,288 | 96 | 96 | 128 | 4,718,592 | 349.2 GB |
//! | Llama2-70B | 80 | 8,192 | 64 | 8 (GQA) | 128 | 327,680 | 138.0 GB |
//! | BLOOM-176B | 70 | 14,336 | 112 | 112 | 128 | 4,014,080 | 352.5 GB |
//!
//! Sources: OPT — Zhang et al., "OPT: Open Pre-trained Transformer Language Models" (2022),
//! Table 1, and the `facebook/opt-*` configs (also DistServe's SwiftTransformer model table);
//! Llama2-70B — Touvron et al., "Llama 2" (2023) and `meta-llama/Llama-2-70b-hf` config
//! (`num_key_value_heads` = 8, `intermediate_size` = 28,672); BLOOM-176B — BigScience,
//! "BLOOM: A 176B-Parameter Open-Access Multilingual Language Model" (2022), 70 layers, hidden
//! 14,336, 112 heads, 176,247,271,424 parameters. The OPT and Llama parameter counts are computed
//! from the architecture (embeddings incl. OPT's 2,050 learned positions, projections, MLP,
//! biases, norms); Llama2-70B's equals the checkpoint's published 68,976,648,192.
//!
//! GPU memory: A100-80G and H100-80G both have 80 GiB = 85,899,345,920 bytes (the "80 GB" of the
//! data sheets is the GiB figure `nvidia-smi` shows as 81,920 MiB).

use super::ProfileError;

/// Architecture facts of one model that KV sizing needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelArch {
    /// Canonical short name, e.g. `opt-13b`.
    pub name: &'static str,
    /// Transformer layers.
    pub layers: u32,
    /// Hidden size (d_model).
    pub hidden: u32,
    /// Query heads.
    pub heads: u32,
    /// KV heads (equal to `heads` without grouped-query attention).
    pub kv_heads: u32,
    /// Parameter count.
    pub params: u64,
    /// Tensor-parallel degree used when a profile name does not say.
    pub default_tp: u32,
}

/// The models of the DistServe and Splitwise profile files.
pub const MODELS: &[ModelArch] = &[
    ModelArch {
        name: "opt-13b",
        layers: 40,
        hidden: 5120,
        heads: 40,
        kv_heads: 40,
        params: 12_853_473_280,
        default_tp: 1,
    },
    ModelArch {
        name: "opt-66b",
        layers: 64,
        hidden: 9216,
        heads: 72,
        kv_heads: 72,
        params: 65_719_701_504,
        default_tp: 2,
    },
    ModelArch {
        name: "opt-175b",
        layers: 96,
        hidden: 12288,
        heads: 96,
        kv_heads: 96,
        params: 174_604_468_224,
        default_tp: 8,
    },
    ModelArch {
        name: "llama2-70b",
        layers: 80,
        hidden: 8192,
        heads: 64,
        kv_heads: 8,
        params: 68_976_648_192,
        // The benchmark protocol names TP4 and TP8 for Llama2-70B; at TP2 the KV pool holds only
        // ~38k tokens (Splitwise's own TP2 batch-64 runs ran out of it).
        default_tp: 4,
    },
    ModelArch {
        name: "bloom-176b",
        layers: 70,
        hidden: 14336,
        heads: 112,
        kv_heads: 112,
        params: 176_247_271_424,
        default_tp: 8,
    },
];

impl ModelArch {
    /// Looks a model up by name: case-insensitive, an organisation prefix (`facebook/`) ignored,
    /// `llama-2-70b` accepted for `llama2-70b`.
    pub fn lookup(name: &str) -> Result<&'static ModelArch, ProfileError> {
        let key = canonical_model_name(name);
        MODELS
            .iter()
            .find(|m| m.name == key)
            .ok_or_else(|| ProfileError::UnknownArch {
                model: name.to_string(),
                known: MODELS.iter().map(|m| m.name).collect::<Vec<_>>().join(", "),
            })
    }

    /// Dimension of one attention head.
    pub fn head_dim(&self) -> u32 {
        self.hidden / self.heads
    }

    /// KV-cache bytes of one token over the whole instance (all TP shards), fp16.
    pub fn kv_bytes_per_token(&self) -> u64 {
        2 * u64::from(self.layers) * u64::from(self.kv_heads) * u64::from(self.head_dim()) * 2
    }

    /// fp16 weight bytes.
    pub fn weight_bytes(&self) -> u64 {
        self.params * 2
    }
}

/// `facebook/OPT-13B` → `opt-13b`; `Llama-2-70b-hf` → `llama2-70b`.
pub(crate) fn canonical_model_name(name: &str) -> String {
    let lower = name.trim().to_ascii_lowercase();
    let base = lower.rsplit('/').next().unwrap_or(&lower);
    let base = base.strip_suffix("-hf").unwrap_or(base);
    base.replace("llama-2-", "llama2-")
}

/// A GPU type and its memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gpu {
    /// Canonical name as the profile files spell it, e.g. `a100-80gb`.
    pub name: &'static str,
    /// Device memory, bytes.
    pub memory_bytes: u64,
}

const GIB: u64 = 1 << 30;

/// The GPUs of the profile files. `h100-80gb-pcap` is Splitwise's power-capped H100: same
/// memory, slower kernels.
pub const GPUS: &[Gpu] = &[
    Gpu {
        name: "a100-80gb",
        memory_bytes: 80 * GIB,
    },
    Gpu {
        name: "h100-80gb",
        memory_bytes: 80 * GIB,
    },
    Gpu {
        name: "h100-80gb-pcap",
        memory_bytes: 80 * GIB,
    },
];

impl Gpu {
    /// Looks a GPU up: `a100`, `a100-80g` and `a100-80gb` are the same; `h100-pcap` is
    /// `h100-80gb-pcap`.
    pub fn lookup(name: &str) -> Result<&'static Gpu, ProfileError> {
        let key = canonical_gpu_name(name);
        GPUS.iter()
            .find(|g| g.name == key)
            .ok_or_else(|| ProfileError::UnknownGpu {
                gpu: name.to_string(),
                known: "a100 (a100-80gb), h100 (h100-80gb), h100-pcap (h100-80gb-pcap)".into(),
            })
    }

    /// The short name used in profile specs: `a100`, `h100`, `h100-pcap`.
    pub fn short_name(&self) -> &'static str {
        match self.name {
            "a100-80gb" => "a100",
            "h100-80gb" => "h100",
            _ => "h100-pcap",
        }
    }
}

/// `A100` / `a100-80g` / `a100-80gb` → `a100-80gb`; `h100-pcap` → `h100-80gb-pcap`.
pub(crate) fn canonical_gpu_name(name: &str) -> String {
    let lower = name.trim().to_ascii_lowercase();
    let (base, pcap) = match lower.strip_suffix("-pcap") {
        Some(b) => (b, true),
        None => (lower.as_str(), false),
    };
    let base = base
        .strip_suffix("-80gb")
        .or_else(|| base.strip_suffix("-80g"))
        .unwrap_or(base);
    if pcap {
        format!("{base}-80gb-pcap")
    } else {
        format!("{base}-80gb")
    }
}

/// How much of the GPUs the KV cache may use.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MemoryBudget {
    /// Memory of one GPU, bytes.
    pub gpu_memory_bytes: u64,
    /// Fraction of GPU memory the engine may use (vLLM `gpu_memory_utilization`, default 0.9).
    pub utilisation: f64,
    /// Memory per GPU held back for activations, CUDA graphs and communication buffers, bytes.
    /// Default 2 GiB: vLLM's profiling pass at its default 2,048–8,192 batched tokens peaks at
    /// roughly 1–2 GB of activations for these models; an assumption, not a measurement.
    pub activation_reserve_per_gpu: u64,
}

impl MemoryBudget {
    /// vLLM's defaults on `gpu`: 90 % utilisation, 2 GiB activation reserve per GPU.
    pub fn for_gpu(gpu: &Gpu) -> Self {
        Self {
            gpu_memory_bytes: gpu.memory_bytes,
            utilisation: 0.9,
            activation_reserve_per_gpu: 2 * GIB,
        }
    }
}

/// KV sizing of one instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KvSizing {
    /// KV bytes per token over the instance.
    pub bytes_per_token: u64,
    /// Tokens the instance's KV pool holds.
    pub capacity_tokens: u64,
}

impl KvSizing {
    /// Sizes the KV pool of `arch` at tensor-parallel degree `tp` within `budget`.
    pub fn from_memory(
        arch: &ModelArch,
        tp: u32,
        budget: &MemoryBudget,
    ) -> Result<Self, ProfileError> {
        let bytes_per_token = arch.kv_bytes_per_token();
        let usable = budget.gpu_memory_bytes as f64 * f64::from(tp) * budget.utilisation;
        let weights = arch.weight_bytes() as f64;
        let reserve = budget.activation_reserve_per_gpu as f64 * f64::from(tp);
        let free = usable - weights - reserve;
        if free.is_nan() || free <= 0.0 {
            return Err(ProfileError::DoesNotFit {
                model: arch.name.to_string(),
                tp,
                weights_gb: weights / 1e9,
                reserve_gb: reserve / 1e9,
                usable_gb: usable / 1e9,
            });
        }
        Ok(Self {
            bytes_per_token,
            capacity_tokens: (free / bytes_per_token as f64).floor() as u64,
        })
    }

    /// An explicit capacity (a measured vLLM block count × block size, say).
    pub fn with_capacity(arch: &ModelArch, capacity_tokens: u64) -> Self {
        Self {
            bytes_per_token: arch.kv_bytes_per_token(),
            capacity_tokens,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opt_13b_kv_bytes_per_token_is_2_40_5120_2() {
        let arch = ModelArch::lookup("facebook/opt-13b").expect("opt-13b is in the table");
        assert_eq!(arch.kv_bytes_per_token(), 2 * 40 * 5120 * 2);
    }

    #[test]
    fn llama_uses_kv_heads_not_query_heads() {
        let arch = ModelArch::lookup("Llama-2-70b-hf").expect("alias resolves");
        // 8 KV heads × 128 = 1,024 per layer instead of 8,192: 8× smaller than MHA.
        assert_eq!(arch.kv_bytes_per_token(), 2 * 80 * 1024 * 2);
    }

    #[test]
    fn unknown_model_lists_known_ones() {
        let err = ModelArch::lookup("gpt-4").expect_err("not in the table");
        let msg = err.to_string();
        assert!(msg.contains("gpt-4") && msg.contains("opt-13b") && msg.contains("bloom-176b"));
    }

    #[test]
    fn gpu_aliases_resolve() {
        for alias in ["a100", "A100-80G", "a100-80gb"] {
            assert_eq!(Gpu::lookup(alias).map(|g| g.name).ok(), Some("a100-80gb"));
        }
        assert_eq!(
            Gpu::lookup("h100-pcap").map(|g| g.name).ok(),
            Some("h100-80gb-pcap")
        );
        assert!(Gpu::lookup("v100").is_err());
    }

    #[test]
    fn capacity_follows_the_memory_formula() {
        let arch = ModelArch::lookup("opt-13b").expect("known");
        let budget = MemoryBudget {
            gpu_memory_bytes: 80_000_000_000,
            utilisation: 0.5,
            activation_reserve_per_gpu: 1_000_000_000,
        };
        let kv = KvSizing::from_memory(arch, 2, &budget).expect("fits");
        // 80e9·2·0.5 − 25,706,946,560 − 2e9 = 52,293,053,440 free bytes.
        let expected: f64 = (80e9 - 2.0 * 12_853_473_280.0 - 2e9) / 819_200.0;
        assert_eq!(kv.capacity_tokens, expected.floor() as u64);
    }

    #[test]
    fn weights_that_do_not_fit_are_an_error() {
        let arch = ModelArch::lookup("opt-175b").expect("known");
        let gpu = Gpu::lookup("a100").expect("known");
        let err = KvSizing::from_memory(arch, 1, &MemoryBudget::for_gpu(gpu))
            .expect_err("349 GB of weights on one 80 GB GPU");
        assert!(err.to_string().contains("does not fit"));
        assert!(KvSizing::from_memory(arch, 8, &MemoryBudget::for_gpu(gpu)).is_ok());
    }
}
