//! `check_host()` against DNS answers held in memory.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;

use super::*;

#[derive(Default)]
struct FakeDns {
    txt: HashMap<String, Vec<Vec<u8>>>,
    a: HashMap<String, Vec<Ipv4Addr>>,
    aaaa: HashMap<String, Vec<Ipv6Addr>>,
    mx: HashMap<String, Vec<String>>,
    ptr: HashMap<IpAddr, Vec<String>>,
    /// Names whose queries fail (time out).
    failing: HashSet<String>,
    queries: AtomicUsize,
}

impl FakeDns {
    fn txt(mut self, name: &str, text: &str) -> Self {
        self.txt
            .entry(name.to_owned())
            .or_default()
            .push(text.as_bytes().to_vec());
        self
    }

    fn a(mut self, name: &str, ip: &str) -> Self {
        self.a
            .entry(name.to_owned())
            .or_default()
            .push(ip.parse().unwrap());
        self
    }

    fn aaaa(mut self, name: &str, ip: &str) -> Self {
        self.aaaa
            .entry(name.to_owned())
            .or_default()
            .push(ip.parse().unwrap());
        self
    }

    fn mx(mut self, name: &str, exchange: &str) -> Self {
        self.mx
            .entry(name.to_owned())
            .or_default()
            .push(exchange.to_owned());
        self
    }

    fn ptr(mut self, ip: &str, name: &str) -> Self {
        self.ptr
            .entry(ip.parse().unwrap())
            .or_default()
            .push(name.to_owned());
        self
    }

    fn failing(mut self, name: &str) -> Self {
        self.failing.insert(name.to_owned());
        self
    }

    fn answer<T: Clone>(&self, map: &HashMap<String, Vec<T>>, name: &str) -> LookupAnswer<T> {
        self.queries.fetch_add(1, Ordering::Relaxed);
        let name = name.to_ascii_lowercase();
        if self.failing.contains(&name) {
            return Err(DnsFailure);
        }
        Ok(map.get(&name).cloned().unwrap_or_default())
    }
}

impl SpfLookup for FakeDns {
    async fn txt(&self, name: &str) -> LookupAnswer<Vec<u8>> {
        self.answer(&self.txt, name)
    }

    async fn a(&self, name: &str) -> LookupAnswer<Ipv4Addr> {
        self.answer(&self.a, name)
    }

    async fn aaaa(&self, name: &str) -> LookupAnswer<Ipv6Addr> {
        self.answer(&self.aaaa, name)
    }

    async fn mx(&self, name: &str) -> LookupAnswer<String> {
        self.answer(&self.mx, name)
    }

    async fn ptr(&self, ip: IpAddr) -> LookupAnswer<String> {
        self.queries.fetch_add(1, Ordering::Relaxed);
        Ok(self.ptr.get(&ip).cloned().unwrap_or_default())
    }
}

fn check(dns: &FakeDns, ip: &str, sender: &str) -> Outcome {
    let domain = sender.rsplit_once('@').map_or(sender, |(_, d)| d);
    let identity = Identity {
        ip: ip.parse().unwrap(),
        sender,
        domain,
        helo: "mail.example.org",
        receiver: "mx.receiver.example",
    };
    futures::executor::block_on(check_host(dns, &identity))
}

fn result(dns: &FakeDns, ip: &str, sender: &str) -> SpfResult {
    check(dns, ip, sender).result
}

#[test]
fn qualifiers_decide_the_result() {
    let dns = FakeDns::default()
        .txt(
            "example.com",
            "v=spf1 ip4:192.0.2.0/24 ~ip4:198.51.100.1 ?ip6:2001:db8::/32 -all",
        )
        .txt("neutral.example.com", "v=spf1 ip4:192.0.2.1");
    assert_eq!(result(&dns, "192.0.2.77", "a@example.com"), SpfResult::Pass);
    assert_eq!(
        result(&dns, "198.51.100.1", "a@example.com"),
        SpfResult::SoftFail
    );
    assert_eq!(
        result(&dns, "2001:db8::5", "a@example.com"),
        SpfResult::Neutral
    );
    assert_eq!(
        result(&dns, "203.0.113.9", "a@example.com"),
        SpfResult::Fail
    );
    // RFC 7208 §5: an IPv4-mapped client is an IPv4 client.
    assert_eq!(
        result(&dns, "::ffff:192.0.2.77", "a@example.com"),
        SpfResult::Pass
    );
    assert_eq!(
        result(&dns, "203.0.113.9", "a@neutral.example.com"),
        SpfResult::Neutral
    );
    assert_eq!(
        result(&dns, "203.0.113.9", "a@nothing.example.com"),
        SpfResult::None
    );
    assert_eq!(result(&dns, "203.0.113.9", "a@localhost"), SpfResult::None);
    // One TXT query per check, none for the malformed domain.
    assert_eq!(dns.queries.load(Ordering::Relaxed), 7);
}

#[test]
fn record_selection() {
    let dns = FakeDns::default()
        .txt("two.example.com", "v=spf1 -all")
        .txt("two.example.com", "V=SPF1 +all")
        .txt("other.example.com", "google-site-verification=x")
        .txt("other.example.com", "v=spf1 +all")
        .failing("down.example.com");
    assert_eq!(
        result(&dns, "192.0.2.1", "a@two.example.com"),
        SpfResult::PermError
    );
    assert_eq!(
        result(&dns, "192.0.2.1", "a@other.example.com"),
        SpfResult::Pass
    );
    assert_eq!(
        result(&dns, "192.0.2.1", "a@down.example.com"),
        SpfResult::TempError
    );
}

#[test]
fn a_mx_and_ptr_follow_the_client_family() {
    let dns = FakeDns::default()
        .txt("example.com", "v=spf1 a mx/24//64 ptr -all")
        .a("example.com", "192.0.2.10")
        .aaaa("example.com", "2001:db8::10")
        .mx("example.com", "mx.example.net")
        .a("mx.example.net", "198.51.100.10")
        .aaaa("mx.example.net", "2001:db8:1::10")
        .ptr("203.0.113.5", "host.example.com")
        .a("host.example.com", "203.0.113.5")
        .ptr("203.0.113.6", "liar.example.com");
    assert_eq!(result(&dns, "192.0.2.10", "a@example.com"), SpfResult::Pass);
    assert_eq!(
        result(&dns, "2001:db8::10", "a@example.com"),
        SpfResult::Pass
    );
    assert_eq!(
        result(&dns, "198.51.100.99", "a@example.com"),
        SpfResult::Pass
    );
    assert_eq!(
        result(&dns, "2001:db8:1::ffff", "a@example.com"),
        SpfResult::Pass
    );
    assert_eq!(
        result(&dns, "2001:db8:1:1::1", "a@example.com"),
        SpfResult::Fail
    );
    assert_eq!(
        result(&dns, "203.0.113.5", "a@example.com"),
        SpfResult::Pass
    );
    // The PTR name does not point back at the client.
    assert_eq!(
        result(&dns, "203.0.113.6", "a@example.com"),
        SpfResult::Fail
    );
}

#[test]
fn include_results_map_as_rfc_7208_section_5_2_says() {
    let dns = FakeDns::default()
        .txt("pass.example", "v=spf1 +all")
        .txt("fail.example", "v=spf1 -all")
        .txt("soft.example", "v=spf1 ~all")
        .txt("neutral.example", "v=spf1 ?all")
        .txt("perm.example", "v=spf1 bogus")
        .failing("temp.example");
    let cases = [
        ("pass.example", SpfResult::Fail),
        ("fail.example", SpfResult::SoftFail),
        ("soft.example", SpfResult::SoftFail),
        ("neutral.example", SpfResult::SoftFail),
        ("perm.example", SpfResult::PermError),
        ("temp.example", SpfResult::TempError),
        ("none.example", SpfResult::PermError),
    ];
    for (target, expected) in cases {
        let dns = FakeDns {
            txt: dns.txt.clone(),
            failing: dns.failing.clone(),
            ..FakeDns::default()
        }
        .txt("example.com", &format!("v=spf1 -include:{target} ~all"));
        assert_eq!(
            result(&dns, "192.0.2.1", "a@example.com"),
            expected,
            "{target}"
        );
    }
}

#[test]
fn limits_are_enforced() {
    // Ten terms that query DNS are fine; the eleventh is a permerror.
    let ten = "v=spf1 a:a.example a:a.example a:a.example a:a.example a:a.example \
               a:a.example a:a.example a:a.example a:a.example a:a.example ip4:192.0.2.1";
    let dns = FakeDns::default()
        .txt("ten.example.com", ten)
        .txt(
            "eleven.example.com",
            &format!("{} a:a.example", ten.trim_end_matches(" ip4:192.0.2.1")),
        )
        .a("a.example", "198.51.100.1")
        .txt("loop.example.com", "v=spf1 include:loop.example.com")
        .txt(
            "void.example.com",
            "v=spf1 a:n1.example a:n2.example a:n3.example ?all",
        )
        .txt(
            "twovoid.example.com",
            "v=spf1 a:n1.example exists:n2.example ?all",
        );
    assert_eq!(
        result(&dns, "192.0.2.1", "a@ten.example.com"),
        SpfResult::Pass
    );
    assert_eq!(
        result(&dns, "192.0.2.1", "a@eleven.example.com"),
        SpfResult::PermError
    );
    assert_eq!(
        result(&dns, "192.0.2.1", "a@loop.example.com"),
        SpfResult::PermError
    );
    assert_eq!(
        result(&dns, "192.0.2.1", "a@void.example.com"),
        SpfResult::PermError
    );
    assert_eq!(
        result(&dns, "192.0.2.1", "a@twovoid.example.com"),
        SpfResult::Neutral
    );

    // More than ten MX names is a permerror; more than ten PTR names are
    // cut to ten.
    let mut dns = FakeDns::default()
        .txt("mx.example.com", "v=spf1 mx")
        .txt("ptr.example.com", "v=spf1 ptr");
    for n in 0..11 {
        dns = dns
            .mx("mx.example.com", &format!("mx{n}.example.com"))
            .ptr("192.0.2.1", &format!("h{n}.ptr.example.com"));
    }
    dns = dns
        .a("mx10.example.com", "192.0.2.1")
        .a("h10.ptr.example.com", "192.0.2.1");
    assert_eq!(
        result(&dns, "192.0.2.1", "a@mx.example.com"),
        SpfResult::PermError
    );
    assert_eq!(
        result(&dns, "192.0.2.1", "a@ptr.example.com"),
        SpfResult::Neutral
    );
}

#[test]
fn redirect_and_explanations() {
    let dns = FakeDns::default()
        .txt(
            "example.com",
            "v=spf1 ip4:192.0.2.1 exp=no.example.com redirect=_spf.example.com",
        )
        .txt(
            "_spf.example.com",
            "v=spf1 -ip4:198.51.100.0/24 exp=why.%{d}",
        )
        .txt(
            "why._spf.example.com",
            "%{i} is not one of %{d}'s (%{c}, %{r}, %{s}, %{p})",
        )
        .txt("no.example.com", "not this one")
        .txt("all.example.com", "v=spf1 -all redirect=_spf.example.com")
        .txt("broken.example.com", "v=spf1 redirect=nothing.example.com");
    assert_eq!(result(&dns, "192.0.2.1", "a@example.com"), SpfResult::Pass);
    let outcome = check(&dns, "198.51.100.7", "a@example.com");
    assert_eq!(outcome.result, SpfResult::Fail);
    assert_eq!(
        outcome.explanation.as_deref(),
        Some(
            "198.51.100.7 is not one of _spf.example.com's (198.51.100.7, mx.receiver.example, \
             a@example.com, unknown)"
        )
    );
    // No mechanism matched in the target: neutral, not the original's.
    assert_eq!(
        result(&dns, "203.0.113.1", "a@example.com"),
        SpfResult::Neutral
    );
    // An all mechanism makes redirect= ignored.
    assert_eq!(
        result(&dns, "198.51.100.7", "a@all.example.com"),
        SpfResult::Fail
    );
    assert_eq!(
        check(&dns, "198.51.100.7", "a@all.example.com").explanation,
        None
    );
    assert_eq!(
        result(&dns, "192.0.2.1", "a@broken.example.com"),
        SpfResult::PermError
    );
}

#[test]
fn explanations_that_cannot_be_used_are_dropped() {
    let base = || {
        FakeDns::default()
            .txt("two.example.com", "v=spf1 -all exp=two.exp.example.com")
            .txt("two.exp.example.com", "one")
            .txt("two.exp.example.com", "two")
            .txt("bad.example.com", "v=spf1 -all exp=bad.exp.example.com")
            .txt("bad.exp.example.com", "The %{x}-files")
            .txt("utf8.example.com", "v=spf1 -all exp=utf8.exp.example.com")
            .txt("utf8.exp.example.com", "caf\u{e9}")
            .txt("down.example.com", "v=spf1 -all exp=down.exp.example.com")
            .failing("down.exp.example.com")
            .txt("none.example.com", "v=spf1 -all exp=none.exp.example.com")
    };
    let dns = base();
    for domain in [
        "two.example.com",
        "bad.example.com",
        "utf8.example.com",
        "down.example.com",
        "none.example.com",
    ] {
        let outcome = check(&dns, "192.0.2.1", &format!("a@{domain}"));
        assert_eq!(outcome.result, SpfResult::Fail, "{domain}");
        assert_eq!(outcome.explanation, None, "{domain}");
    }
}

#[test]
fn macros_build_the_target_names() {
    let dns = FakeDns::default()
        .txt("example.com", "v=spf1 exists:%{ir}.%{l1r-}.lp.%{d2} -all")
        .a("1.2.0.192.strong.lp.example.com", "127.0.0.2")
        .txt("helo.example.com", "v=spf1 a:%{h} -all")
        .a("mail.example.org", "192.0.2.9");
    assert_eq!(
        result(&dns, "192.0.2.1", "strong-bad@example.com"),
        SpfResult::Pass
    );
    assert_eq!(
        result(&dns, "192.0.2.1", "good@example.com"),
        SpfResult::Fail
    );
    assert_eq!(
        result(&dns, "192.0.2.9", "x@helo.example.com"),
        SpfResult::Pass
    );
}

#[test]
fn long_names_are_cut_from_the_left() {
    assert_eq!(fit_name("example.com."), "example.com");
    let long = format!("{}.example.com", ["abcdefghi"; 30].join("."));
    let cut = fit_name(&long);
    assert!(cut.len() <= 253 && cut.ends_with(".example.com"), "{cut}");
    assert!(cut.starts_with("abcdefghi."));
    assert_eq!(fit_name(&"x".repeat(300)), "");
}

#[test]
fn networks_match_by_prefix() {
    let ip = Ipv4Addr::new(192, 0, 2, 130);
    assert!(in_network4(ip, Ipv4Addr::new(192, 0, 2, 128), 25));
    assert!(!in_network4(ip, Ipv4Addr::new(192, 0, 2, 0), 25));
    assert!(in_network4(ip, Ipv4Addr::new(10, 0, 0, 0), 0));
    assert!(in_network4(ip, ip, 32));
    let ip6: Ipv6Addr = "2001:db8::1".parse().unwrap();
    assert!(in_network6(ip6, "2001:db8::".parse().unwrap(), 32));
    assert!(in_network6(ip6, "::".parse().unwrap(), 0));
    assert!(!in_network6(ip6, "2001:db8::2".parse().unwrap(), 128));
}

#[test]
fn checkable_domains_are_multi_label_with_short_labels() {
    assert!(is_checkable_domain("example.com"));
    assert!(is_checkable_domain("example.com."));
    assert!(!is_checkable_domain("localhost"));
    assert!(!is_checkable_domain("[192.0.2.1]"));
    assert!(!is_checkable_domain("a..example.com"));
    assert!(!is_checkable_domain(""));
    assert!(!is_checkable_domain(&format!(
        "{}.example.com",
        "a".repeat(64)
    )));
    assert!(is_checkable_domain(&format!(
        "{}.example.com",
        "a".repeat(63)
    )));
}

/// Terms, well-formed and not, to build random records from.
fn term() -> impl Strategy<Value = String> {
    let names = prop::sample::select(vec![
        "example.com",
        "a.example.com",
        "b.example.com",
        "%{d}",
        "%{ir}.%{v}.example.com",
        "%{p}.example.com",
        "%{l2r-}.%{o}",
        "%{H}.x.example.com",
        "..example.com",
        "example",
    ]);
    let fixed = prop::sample::select(vec![
        "all",
        "-all",
        "~all",
        "?all",
        "+all",
        "a",
        "mx",
        "ptr",
        "a/24",
        "mx//64",
        "a/24//64",
        "ip4:192.0.2.0/24",
        "ip6:2001:db8::/32",
        "ip4:0.0.0.0/0",
        "exp=",
        "redirect=",
        "foo=bar",
        "%",
        "a:",
        "ip4:1.2.3.4/33",
        "\u{e9}",
    ]);
    prop_oneof![
        fixed.prop_map(str::to_owned),
        (
            prop::sample::select(vec![
                "include:",
                "a:",
                "mx:",
                "ptr:",
                "exists:",
                "redirect=",
                "exp=",
                "-a:",
                "~mx:"
            ]),
            names
        )
            .prop_map(|(m, n)| format!("{m}{n}")),
        "[ -~]{0,12}",
    ]
}

fn record() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(term(), 0..12)
            .prop_map(|t| format!("v=spf1 {}", t.join(" ")).into_bytes()),
        prop::collection::vec(any::<u8>(), 0..64).prop_map(|mut b| {
            let mut r = b"v=spf1 ".to_vec();
            r.append(&mut b);
            r
        }),
        prop::collection::vec(term(), 0..4).prop_map(|t| t.join(" ").into_bytes()),
    ]
}

const NAMES: [&str; 4] = [
    "example.com",
    "a.example.com",
    "b.example.com",
    "192.2.0.192.in-addr.example.com",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Random records and answers give a result, never a panic, and the
    /// number of queries stays bounded.
    #[test]
    fn random_records_and_answers_never_panic(
        records in prop::collection::vec((0usize..4, record()), 0..8),
        addresses in prop::collection::vec((0usize..4, any::<[u8; 4]>()), 0..8),
        exchanges in prop::collection::vec((0usize..4, 0usize..4), 0..14),
        pointers in prop::collection::vec(0usize..4, 0..14),
        failing in prop::collection::vec(0usize..4, 0..2),
        client in prop_oneof![Just("192.0.2.1"), Just("2001:db8::1"), Just("::ffff:192.0.2.1")],
        sender in prop_oneof![Just("a-b@example.com"), Just("@example.com"), Just("x@a.example.com")],
    ) {
        let mut dns = FakeDns::default().a("a.example.com", "192.0.2.1").aaaa("b.example.com", "2001:db8::1");
        let name = |i: usize| NAMES.get(i).copied().unwrap_or("example.com");
        for (i, text) in records {
            dns.txt.entry(name(i).to_owned()).or_default().push(text);
        }
        for (i, octets) in addresses {
            dns.a.entry(name(i).to_owned()).or_default().push(Ipv4Addr::from(octets));
        }
        for (i, j) in exchanges {
            dns.mx.entry(name(i).to_owned()).or_default().push(name(j).to_owned());
        }
        for i in pointers {
            dns.ptr.entry("192.0.2.1".parse().unwrap()).or_default().push(name(i).to_owned());
            dns.ptr.entry("2001:db8::1".parse().unwrap()).or_default().push(name(i).to_owned());
        }
        for i in failing {
            dns.failing.insert(name(i).to_owned());
        }
        let outcome = check(&dns, client, sender);
        if outcome.result != SpfResult::Fail {
            prop_assert_eq!(outcome.explanation, None);
        }
        prop_assert!(dns.queries.load(Ordering::Relaxed) < 1000);
    }

    /// Any text parses or fails cleanly, as a record and as macro strings.
    #[test]
    fn any_text_parses_or_fails(text in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = record::parse(&text);
        let text = String::from_utf8_lossy(&text);
        let _ = MacroString::domain_spec(&text);
        if let Ok(explanation) = MacroString::explanation(&text) {
            let env = MacroEnv {
                sender: "a@example.com",
                local: "a",
                sender_domain: "example.com",
                domain: "example.com",
                ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
                validated: None,
                helo: "h.example.com",
                receiver: "r.example",
                timestamp: 0,
            };
            let _ = explanation.expand(&env);
        }
    }
}
