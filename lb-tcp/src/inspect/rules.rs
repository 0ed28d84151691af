//! `tcp-request content` rules: ordered (condition, action) pairs over [`Facts`].

use std::fmt;
use std::ops::Not;
use std::sync::Arc;

use super::{Facts, Protocol};

type Predicate = dyn Fn(&Facts) -> bool + Send + Sync;

/// A test on [`Facts`], HAProxy's ACL.
///
/// Built from the constructors below and combined with [`and`](Condition::and),
/// [`or`](Condition::or) and `!`. Cloning is cheap (the predicate is shared), so one
/// condition can serve several rules, like a named ACL. `Debug` prints the expression.
///
/// # Examples
///
/// ```
/// use lb_tcp::inspect::{Condition, Facts, Protocol};
///
/// let h2_api = Condition::sni_ends_with(".api.example.com").and(Condition::alpn_contains("h2"));
/// let plain = !Condition::protocol(Protocol::Tls);
/// assert_eq!(
///     format!("{:?}", h2_api.or(plain.clone())),
///     r#"Condition(((sni_ends_with(".api.example.com") && alpn_contains("h2")) || !protocol(Tls)))"#,
/// );
/// assert!(plain.matches(&Facts::default()));
/// ```
#[derive(Clone)]
pub struct Condition {
    expr: Arc<str>,
    test: Arc<Predicate>,
}

impl Condition {
    fn with(expr: String, test: impl Fn(&Facts) -> bool + Send + Sync + 'static) -> Self {
        Self {
            expr: expr.into(),
            test: Arc::new(test),
        }
    }

    /// A condition from a closure; `Debug` shows the closure's type name.
    pub fn from_fn<F>(f: F) -> Self
    where
        F: Fn(&Facts) -> bool + Send + Sync + 'static,
    {
        Self::with(format!("from_fn({})", std::any::type_name::<F>()), f)
    }

    /// Always true, for a catch-all last rule.
    pub fn always() -> Self {
        Self::with("always".to_owned(), |_| true)
    }

    /// The client spoke `protocol` ([`Facts::protocol`]).
    pub fn protocol(protocol: Protocol) -> Self {
        Self::with(format!("protocol({protocol:?})"), move |facts| {
            facts.protocol() == protocol
        })
    }

    /// The client sent an SSH banner.
    pub fn ssh() -> Self {
        Self::with("ssh".to_owned(), |facts| facts.ssh_banner.is_some())
    }

    /// The SNI is `name`, compared case-insensitively (HAProxy `req.ssl_sni -i name`).
    pub fn sni_eq(name: impl AsRef<str>) -> Self {
        let name = name.as_ref().to_ascii_lowercase();
        Self::with(format!("sni_eq({name:?})"), move |facts| {
            facts.sni() == Some(name.as_str())
        })
    }

    /// The SNI ends with `suffix`, compared case-insensitively (HAProxy `-m end`).
    ///
    /// A plain suffix match: `"example.com"` also matches `"badexample.com"`; use
    /// `".example.com"` for subdomains only.
    pub fn sni_ends_with(suffix: impl AsRef<str>) -> Self {
        let suffix = suffix.as_ref().to_ascii_lowercase();
        Self::with(format!("sni_ends_with({suffix:?})"), move |facts| {
            facts
                .sni()
                .is_some_and(|sni| sni.ends_with(suffix.as_str()))
        })
    }

    /// The ClientHello offers the ALPN protocol `protocol` (e.g. `"h2"`), exactly.
    pub fn alpn_contains(protocol: impl AsRef<[u8]>) -> Self {
        let protocol = protocol.as_ref().to_vec();
        let expr = format!("alpn_contains({:?})", String::from_utf8_lossy(&protocol));
        Self::with(expr, move |facts| {
            facts
                .tls
                .as_ref()
                .is_some_and(|tls| tls.alpn.contains(&protocol))
        })
    }

    /// Both `self` and `other` hold; `other` is only tested when `self` holds.
    pub fn and(self, other: Condition) -> Self {
        let expr = format!("({} && {})", self.expr, other.expr);
        Self::with(expr, move |facts| {
            self.matches(facts) && other.matches(facts)
        })
    }

    /// `self` or `other` holds; `other` is only tested when `self` does not.
    pub fn or(self, other: Condition) -> Self {
        let expr = format!("({} || {})", self.expr, other.expr);
        Self::with(expr, move |facts| {
            self.matches(facts) || other.matches(facts)
        })
    }

    /// Tests the facts.
    pub fn matches(&self, facts: &Facts) -> bool {
        (self.test)(facts)
    }
}

impl Not for Condition {
    type Output = Condition;

    /// The condition does not hold.
    fn not(self) -> Condition {
        let expr = format!("!{}", self.expr);
        Self::with(expr, move |facts| !self.matches(facts))
    }
}

impl fmt::Debug for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Condition")
            .field(&format_args!("{}", self.expr))
            .finish()
    }
}

/// What a matching rule does with the connection.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum InspectAction<B> {
    /// Stop evaluating and keep the connection (HAProxy `tcp-request content accept`);
    /// it goes to the default backend.
    Accept,
    /// Close the connection (HAProxy `tcp-request content reject`).
    Reject,
    /// Send the connection to backend `B` (HAProxy `use_backend`).
    UseBackend(B),
}

/// An ordered list of `(condition, action)` rules; the first match wins.
///
/// `B` names a backend: a string, an index, a `Service` handle, whatever the frontend
/// routes with.
///
/// # Examples
///
/// ```
/// use lb_tcp::inspect::{Condition, ContentRules, Facts, InspectAction};
///
/// let rules = ContentRules::new()
///     .rule(Condition::ssh(), InspectAction::Reject)
///     .rule(Condition::sni_eq("db.example.com"), InspectAction::UseBackend(2));
/// // Nothing matched: fall through to the default backend.
/// assert_eq!(rules.evaluate(&Facts::default()), None);
/// ```
#[derive(Clone, Debug)]
pub struct ContentRules<B> {
    rules: Vec<(Condition, InspectAction<B>)>,
}

impl<B> ContentRules<B> {
    /// No rules: everything falls through.
    pub const fn new() -> Self {
        Self { rules: Vec::new() }
    }

    /// Appends a rule: when `condition` holds, `action`.
    pub fn rule(mut self, condition: Condition, action: InspectAction<B>) -> Self {
        self.push(condition, action);
        self
    }

    /// Appends a rule in place.
    pub fn push(&mut self, condition: Condition, action: InspectAction<B>) {
        self.rules.push((condition, action));
    }

    /// The action of the first rule whose condition holds; `None` to fall through to the
    /// default.
    pub fn evaluate(&self, facts: &Facts) -> Option<&InspectAction<B>> {
        self.rules
            .iter()
            .find(|(condition, _)| condition.matches(facts))
            .map(|(_, action)| action)
    }

    /// The number of rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// `true` when there are no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

impl<B> Default for ContentRules<B> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::{ClientHelloFacts, Http1Facts, Http1Version};

    fn tls(sni: Option<&str>, alpn: &[&[u8]]) -> Facts {
        Facts {
            tls: Some(ClientHelloFacts {
                sni: sni.map(str::to_owned),
                alpn: alpn.iter().map(|p| p.to_vec()).collect(),
                complete: true,
                ..ClientHelloFacts::default()
            }),
            ..Facts::default()
        }
    }

    fn ssh() -> Facts {
        Facts {
            ssh_banner: Some("SSH-2.0-OpenSSH_9.6".to_owned()),
            ..Facts::default()
        }
    }

    fn http1() -> Facts {
        Facts {
            http1: Some(Http1Facts {
                method: "GET".to_owned(),
                target: "/".to_owned(),
                version: Http1Version::Http11,
                host: None,
                head_len: 18,
            }),
            ..Facts::default()
        }
    }

    #[test]
    fn helpers() {
        let example = tls(Some("www.example.com"), &[b"h2", b"http/1.1"]);
        assert!(Condition::sni_eq("WWW.example.com").matches(&example));
        assert!(!Condition::sni_eq("example.com").matches(&example));
        assert!(Condition::sni_ends_with(".Example.com").matches(&example));
        assert!(!Condition::sni_ends_with(".example.org").matches(&example));
        assert!(Condition::alpn_contains("h2").matches(&example));
        assert!(Condition::alpn_contains(b"http/1.1").matches(&example));
        assert!(!Condition::alpn_contains("h").matches(&example));
        assert!(Condition::protocol(Protocol::Tls).matches(&example));
        assert!(!Condition::ssh().matches(&example));
        assert!(Condition::always().matches(&example));

        let no_sni = tls(None, &[]);
        assert!(!Condition::sni_ends_with("").matches(&no_sni));
        assert!(!Condition::alpn_contains("h2").matches(&no_sni));
        assert!(!Condition::alpn_contains("h2").matches(&ssh()));

        assert!(Condition::ssh().matches(&ssh()));
        assert!(Condition::protocol(Protocol::Ssh).matches(&ssh()));
        assert!(Condition::protocol(Protocol::Http1).matches(&http1()));
        assert!(Condition::protocol(Protocol::Unknown).matches(&Facts::default()));
        let custom = Condition::from_fn(|facts| facts.len > 10);
        assert!(!custom.matches(&Facts::default()));
    }

    #[test]
    fn combinators() {
        let example = tls(Some("example.com"), &[b"h2"]);
        let sni = Condition::sni_eq("example.com");
        let h2 = Condition::alpn_contains("h2");
        let never = !Condition::always();
        assert!(sni.clone().and(h2.clone()).matches(&example));
        assert!(!sni.clone().and(never.clone()).matches(&example));
        assert!(never.clone().or(sni.clone()).matches(&example));
        assert!(!never.clone().or(never.clone()).matches(&example));
        assert!(!(!sni.clone()).matches(&example));
        assert!((!sni).matches(&ssh()));
    }

    #[test]
    fn first_match_wins() {
        let rules = ContentRules::new()
            .rule(Condition::ssh(), InspectAction::Reject)
            .rule(
                Condition::sni_eq("a.example"),
                InspectAction::UseBackend("a"),
            )
            .rule(
                Condition::protocol(Protocol::Tls),
                InspectAction::UseBackend("tls"),
            )
            .rule(Condition::protocol(Protocol::Tls), InspectAction::Accept);
        assert_eq!(rules.len(), 4);
        assert_eq!(rules.evaluate(&ssh()), Some(&InspectAction::Reject));
        let a = tls(Some("a.example"), &[]);
        assert_eq!(rules.evaluate(&a), Some(&InspectAction::UseBackend("a")));
        let b = tls(Some("b.example"), &[]);
        assert_eq!(rules.evaluate(&b), Some(&InspectAction::UseBackend("tls")));
        assert_eq!(rules.evaluate(&http1()), None);

        let mut empty = ContentRules::<u8>::default();
        assert!(empty.is_empty());
        assert_eq!(empty.evaluate(&http1()), None);
        empty.push(Condition::always(), InspectAction::UseBackend(7));
        assert_eq!(
            empty.evaluate(&http1()),
            Some(&InspectAction::UseBackend(7))
        );
    }

    #[test]
    fn debug_prints_the_expression() {
        let condition = !Condition::ssh().or(Condition::always());
        assert_eq!(format!("{condition:?}"), "Condition(!(ssh || always))");
        let rules = ContentRules::new().rule(Condition::ssh(), InspectAction::UseBackend(1));
        assert_eq!(
            format!("{rules:?}"),
            "ContentRules { rules: [(Condition(ssh), UseBackend(1))] }"
        );
        let custom = format!("{:?}", Condition::from_fn(|_| true));
        assert!(custom.starts_with("Condition(from_fn(lb_tcp::inspect::rules::tests::"));
    }

    #[test]
    fn rules_are_send_and_sync() {
        fn assert_send_sync<T: Send + Sync + 'static>() {}
        assert_send_sync::<Condition>();
        assert_send_sync::<ContentRules<String>>();
    }
}
