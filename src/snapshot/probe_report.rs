//! What the node probes found, as the rules read it: one [`NodeProbe`] per node. The probe module
//! creates the pods and parses their output into these; the rules only read them, so they live
//! with the snapshot and neither side imports the other.

use jiff::Timestamp;

/// Per lookup: CoreDNS answers in milliseconds; the guide's failing nodes never answered at all.
/// A [`LookupResult::TimedOut`] means no answer within this many seconds.
pub const DNS_TIMEOUT_SECS: u64 = 5;

/// One node's probe, as the rules see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeProbe {
    pub node: String,
    /// The pod that ran it (deleted by now; its events stay for an hour).
    pub namespace: String,
    pub pod: String,
    pub image: String,
    pub outcome: Outcome,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Ran {
        report: Report,
        /// The API server's clock when the pod was first seen finished; the script reads the
        /// node's clock as its very last step, so the two are at most `margin_secs` apart. `None`
        /// when the server sent no `Date` header.
        server_time: Option<Timestamp>,
        margin_secs: i64,
    },
    /// The pod never ran the script to its end.
    Failed { reason: String, message: String },
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub dns: Vec<Lookup>,
    pub ipv6: Option<Ipv6>,
    /// The node's clock, `date +%s`.
    pub clock: Option<i64>,
    /// The script's last line arrived: a report without it was cut short.
    pub complete: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookup {
    pub name: String,
    pub server: String,
    pub result: LookupResult,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LookupResult {
    Resolved(String),
    /// No answer in time: the way to the DNS pods is blocked (the guide's elasticsearch case).
    TimedOut,
    /// The DNS server answered that the name does not exist.
    NxDomain,
    Error(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6 {
    /// `/proc/net/if_inet6` exists: the kernel has IPv6 at all (absent with `ipv6.disable=1`).
    pub in_kernel: bool,
    /// `net.ipv6.conf.all.disable_ipv6`; `None` when the kernel has no such setting.
    pub disabled_by_sysctl: Option<bool>,
}

impl Ipv6 {
    pub fn usable(&self) -> bool {
        self.in_kernel && self.disabled_by_sysctl != Some(true)
    }
}
