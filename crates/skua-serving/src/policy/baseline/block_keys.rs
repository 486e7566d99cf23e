//! A request's prompt as the chain of prefix-block keys the routers' own prefix state is built
//! from (key *i* identifies the whole prefix up to block *i*, as vLLM's and Dynamo's block hashes
//! and SGLang's radix-tree paths do).

use crate::workload::Request;

/// One prefix block of a prompt: its chained key and the prompt tokens it covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PrefixUnit {
    /// Identifies the prefix up to and including this block.
    pub key: u64,
    /// Prompt tokens covered by this block (the last block of a prompt may be partial).
    pub tokens: u32,
}

/// The prompt's prefix blocks (`block_tokens` tokens each, the last one clipped to the prompt).
/// Empty when the request carries no prefix hashes or `block_tokens` is 0.
pub(crate) fn prefix_units(req: &Request, block_tokens: u32) -> impl Iterator<Item = PrefixUnit> {
    let bt = u64::from(block_tokens);
    let input = u64::from(req.input_tokens);
    let blocks = if bt == 0 { &[][..] } else { &req.prefix_blocks };
    let mut chain = 0u64;
    blocks.iter().enumerate().map_while(move |(i, &id)| {
        let start = i as u64 * bt;
        if start >= input {
            return None;
        }
        chain = mix(chain ^ mix(id));
        let tokens = (start + bt).min(input) - start;
        Some(PrefixUnit {
            key: chain,
            tokens: tokens as u32,
        })
    })
}

/// SplitMix64's finaliser: a cheap, well-mixed 64-bit hash step.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::test_support::request;

    fn req(input: u32, blocks: &[u64]) -> Request {
        Request {
            input_tokens: input,
            prefix_blocks: blocks.to_vec(),
            ..request(0)
        }
    }

    #[test]
    fn keys_chain_the_whole_prefix_and_clip_the_last_block() {
        let a: Vec<_> = prefix_units(&req(40, &[7, 8, 9]), 16).collect();
        assert_eq!(
            a.iter().map(|u| u.tokens).collect::<Vec<_>>(),
            vec![16, 16, 8]
        );
        // Same second block after a different first block: a different prefix, a different key.
        let b: Vec<_> = prefix_units(&req(40, &[6, 8, 9]), 16).collect();
        assert_ne!(a[1].key, b[1].key);
        // Same leading blocks: same keys.
        let c: Vec<_> = prefix_units(&req(32, &[7, 8]), 16).collect();
        assert_eq!(c, a[..2].to_vec());
    }

    #[test]
    fn no_hashes_or_no_block_size_means_no_units() {
        assert_eq!(prefix_units(&req(40, &[]), 16).count(), 0);
        assert_eq!(prefix_units(&req(40, &[1, 2]), 0).count(), 0);
        // Blocks beyond the prompt are ignored.
        assert_eq!(prefix_units(&req(16, &[1, 2, 3]), 16).count(), 1);
    }
}
