//! Every routing/role policy by name, set up the way it runs in production: its router, its role
//! controller, the initial role of each instance, and how old the engine metrics it reads are
//! (the benchmark protocol's staleness). The benchmark and `skua simulate --router` build policies
//! only through here, so each one is run the same way everywhere.

use std::fmt;
use std::sync::Arc;

use super::{InstanceRole, RoleController, Router, StaticRoles, baseline, skua};
use crate::profile::{LatencyModel, SloSpec};

/// What a policy may know about the cluster when it is set up (a gateway's static config).
#[derive(Debug, Clone)]
pub struct PolicyContext {
    /// The latency model of each instance, indexed by instance id (its length is the cluster size).
    pub models: Vec<Arc<dyn LatencyModel>>,
    /// The SLO rule requests are judged by.
    pub slo: SloSpec,
    /// Prefix-block size of the workload's `prefix_blocks`, tokens (0: no prefix information).
    pub block_tokens: u32,
    /// Seed for randomised policies.
    pub seed: u64,
}

impl PolicyContext {
    /// Number of instances.
    pub fn instances(&self) -> usize {
        self.models.len()
    }
}

/// A policy ready to simulate or serve.
pub struct PolicySetup {
    /// The name it was built from, e.g. `sglang_cache_aware`.
    pub name: String,
    /// One line for report headers: what it does and where the rule comes from.
    pub description: String,
    /// The request router.
    pub router: Box<dyn Router>,
    /// The role controller (`StaticRoles` for fixed roles).
    pub controller: Box<dyn RoleController>,
    /// Initial role of each instance (length = `PolicyContext::instances`).
    pub roles: Vec<InstanceRole>,
    /// Age of the scraped engine metrics the policy reads, seconds (the simulator's scrape interval).
    pub staleness_s: f64,
    /// True for policies that know the future (the oracle): reported, never counted as a baseline.
    pub oracle: bool,
}

impl fmt::Debug for PolicySetup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PolicySetup")
            .field("name", &self.name)
            .field("router", &self.router.name())
            .field("controller", &self.controller.name())
            .field("roles", &self.roles)
            .field("staleness_s", &self.staleness_s)
            .field("oracle", &self.oracle)
            .finish()
    }
}

impl PolicySetup {
    /// A setup with fixed roles.
    pub fn fixed(
        name: &str,
        description: &str,
        router: Box<dyn Router>,
        roles: Vec<InstanceRole>,
        staleness_s: f64,
    ) -> Self {
        Self {
            name: name.to_string(),
            description: description.to_string(),
            router,
            controller: Box::new(StaticRoles),
            roles,
            staleness_s,
            oracle: false,
        }
    }
}

/// A policy name the catalog does not know, or a cluster it cannot be set up on.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PolicyError {
    /// No policy of that name.
    #[error("unknown policy `{name}`; known: {known}")]
    Unknown {
        /// The name asked for.
        name: String,
        /// Every known name, comma-separated.
        known: String,
    },
    /// The policy cannot run on this cluster (e.g. P/D needs at least two instances).
    #[error("policy `{name}` cannot run on {instances} instance(s): {why}")]
    Cluster {
        /// The policy.
        name: String,
        /// Cluster size.
        instances: usize,
        /// Why not.
        why: String,
    },
}

/// Every policy name: the baselines, then skua's, then the oracle.
pub fn names() -> Vec<&'static str> {
    let mut v: Vec<&'static str> = baseline::NAMES.to_vec();
    v.extend_from_slice(skua::NAMES);
    v
}

/// Builds the policy `name` for the cluster of `ctx`.
pub fn build(name: &str, ctx: &PolicyContext) -> Result<PolicySetup, PolicyError> {
    if ctx.instances() == 0 {
        return Err(PolicyError::Cluster {
            name: name.to_string(),
            instances: 0,
            why: "the cluster has no instances".into(),
        });
    }
    if let Some(setup) = baseline::build(name, ctx)? {
        return Ok(setup);
    }
    if let Some(setup) = skua::build(name, ctx)? {
        return Ok(setup);
    }
    Err(PolicyError::Unknown {
        name: name.to_string(),
        known: names().join(", "),
    })
}
