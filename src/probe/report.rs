//! What a probe pod prints and what the doctor makes of it. The pod's shell script (see
//! [`super::pod::SCRIPT`]) writes one line per check, `bkdoctor-probe KIND key=value ...`, so that
//! a line survives any other output (a shell's warning, an image's banner) around it. A line the
//! parser does not know is ignored: a newer script must not break an older reader. The types it
//! fills are snapshot data ([`crate::snapshot::probe_report`]), re-exported here.

pub use crate::snapshot::probe_report::{Ipv6, Lookup, LookupResult, NodeProbe, Outcome, Report};

pub const LINE_PREFIX: &str = "bkdoctor-probe ";

/// Reads a probe pod's log.
pub fn parse(log: &str) -> Report {
    let mut r = Report::default();
    for line in log.lines() {
        let Some(rest) = line.trim_end().strip_prefix(LINE_PREFIX) else {
            continue;
        };
        let (kind, fields) = rest.split_once(' ').unwrap_or((rest, ""));
        let fields = Fields(fields);
        match kind {
            "dns" => {
                let (Some(name), Some(server)) = (fields.get("name"), fields.get("server")) else {
                    continue;
                };
                let result = match fields.get("result") {
                    Some("ok") => LookupResult::Resolved(fields.get("addr").unwrap_or("").into()),
                    Some("timeout") => LookupResult::TimedOut,
                    Some("nxdomain") => LookupResult::NxDomain,
                    Some("error") => LookupResult::Error(fields.rest("detail").trim().into()),
                    _ => continue,
                };
                r.dns.push(Lookup {
                    name: name.into(),
                    server: server.into(),
                    result,
                });
            }
            "ipv6" => {
                let in_kernel = match fields.get("if_inet6") {
                    Some("1") => true,
                    Some("0") => false,
                    _ => continue,
                };
                let disabled_by_sysctl = match fields.get("disable_ipv6") {
                    Some("0") => Some(false),
                    Some("1") => Some(true),
                    _ => None,
                };
                r.ipv6 = Some(Ipv6 {
                    in_kernel,
                    disabled_by_sysctl,
                });
            }
            "clock" => {
                if let Some(t) = fields.get("epoch").and_then(|e| e.parse().ok()) {
                    r.clock = Some(t);
                }
            }
            "end" => r.complete = true,
            _ => {}
        }
    }
    r
}

/// `key=value key=value ... detail=the rest of the line`
struct Fields<'a>(&'a str);

impl<'a> Fields<'a> {
    fn get(&self, key: &str) -> Option<&'a str> {
        self.0
            .split(' ')
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
    }

    /// A free-text field, which the script always puts last.
    fn rest(&self, key: &str) -> &'a str {
        let marker = format!("{key}=");
        let at = if self.0.starts_with(&marker) {
            Some(0)
        } else {
            self.0.find(&format!(" {marker}")).map(|i| i + 1)
        };
        at.map(|i| &self.0[i + marker.len()..]).unwrap_or("")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_healthy_node() {
        let r = parse(
            "bkdoctor-probe dns name=kubernetes.default.svc.cluster.local server=10.96.0.10 result=ok addr=10.96.0.1\n\
             bkdoctor-probe ipv6 if_inet6=1 disable_ipv6=0\n\
             bkdoctor-probe clock epoch=1795000000\n\
             bkdoctor-probe end\n",
        );
        assert_eq!(
            r.dns,
            [Lookup {
                name: "kubernetes.default.svc.cluster.local".into(),
                server: "10.96.0.10".into(),
                result: LookupResult::Resolved("10.96.0.1".into()),
            }]
        );
        assert!(r.ipv6.unwrap().usable());
        assert_eq!(r.clock, Some(1_795_000_000));
        assert!(r.complete);
    }

    #[test]
    fn failures_and_noise() {
        let r = parse(
            "sh: warning: something\n\
             bkdoctor-probe dns name=a.b.svc.cluster.local server=10.96.0.10 result=timeout\n\
             bkdoctor-probe dns name=x.y.svc.cluster.local server=10.96.0.10 result=nxdomain\n\
             bkdoctor-probe dns name=z.svc.cluster.local server=10.96.0.10 result=error detail=nslookup: not found here\n\
             bkdoctor-probe dns name=broken\n\
             bkdoctor-probe ipv6 if_inet6=0 disable_ipv6=none\r\n\
             bkdoctor-probe future-check whatever=1\n\
             bkdoctor-probe clock epoch=soon\n",
        );
        let results: Vec<_> = r.dns.iter().map(|l| l.result.clone()).collect();
        assert_eq!(
            results,
            [
                LookupResult::TimedOut,
                LookupResult::NxDomain,
                LookupResult::Error("nslookup: not found here".into()),
            ]
        );
        let ipv6 = r.ipv6.unwrap();
        assert!(!ipv6.in_kernel && ipv6.disabled_by_sysctl.is_none() && !ipv6.usable());
        assert_eq!(r.clock, None);
        assert!(!r.complete, "no end line: cut short");
    }

    #[test]
    fn sysctl_off_is_not_usable_and_key_prefixes_do_not_collide() {
        let r = parse("bkdoctor-probe ipv6 if_inet6=1 disable_ipv6=1\n");
        assert!(!r.ipv6.unwrap().usable());
        assert_eq!(Fields("addrx=1 addr=2").get("addr"), Some("2"));
        assert_eq!(Fields("a=1 detail=x y=z").rest("detail"), "x y=z");
        assert_eq!(Fields("xdetail=1").rest("detail"), "");
    }
}
