//! The SNI certificate store: [`CertStore`], what `bind ... ssl crt ...` serves.
//!
//! Certificates are found by server name: exact names, then one-level wildcards
//! (`*.example.com` matches `a.example.com`, not `example.com` nor `a.b.example.com`, as
//! RFC 6125 says), then the default certificate (when SNI is absent or unknown). A name may
//! have an RSA and an ECDSA certificate: the client's signature schemes pick one (ECDSA when
//! the client can use it).
//!
//! Lookups read an immutable snapshot through [`ArcSwap`]: no lock, two hash lookups at
//! most. Every update (add, replace, remove, a [`CertBatch`] of them, or a staged
//! `set ssl cert` committed with [`CertStore::commit`]) builds a new snapshot and swaps it
//! in; handshakes in flight keep the snapshot they started with, and established
//! connections never look at the store again.
//!
//! A `crt-list` line may carry SSL options (`site.pem [alpn h2 ssl-min-ver TLSv1.3 verify
//! required ca-file ca.pem] www.example.com`): `alpn`, `no-alpn`, `ssl-min-ver`,
//! `ssl-max-ver`, `ciphers`, `ciphersuites`, `verify`, `ca-file` and `crl-file` are checked
//! (files read) when the list loads, and the acceptor applies them to handshakes whose SNI
//! picks that line's certificate (the default certificate's first line when no name
//! matches); any other option is a load error naming the file and line.
//!
//! # Examples
//! ```
//! use lb_tls::{Cert, CertStore};
//!
//! fn cert(names: &[&str]) -> Cert {
//!     let key = rcgen::KeyPair::generate().unwrap();
//!     let names = names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
//!     let c = rcgen::CertificateParams::new(names).unwrap().self_signed(&key).unwrap();
//!     Cert::from_pem_parts(c.pem().as_bytes(), key.serialize_pem().as_bytes()).unwrap()
//! }
//!
//! let store = CertStore::new();
//! store.add("default", cert(&["default.test"]))?;
//! store.add("wild", cert(&["*.example.com"]))?;
//! store.add("www", cert(&["www.example.com"]))?;
//!
//! let subject = |sni| store.lookup_cert(sni, &[]).map(|c| c.names()[0].to_string());
//! assert_eq!(subject(Some("www.example.com")).as_deref(), Some("www.example.com"));
//! assert_eq!(subject(Some("api.example.com")).as_deref(), Some("*.example.com"));
//! assert_eq!(subject(Some("a.b.example.com")).as_deref(), Some("default.test"));
//! assert_eq!(subject(None).as_deref(), Some("default.test"));
//!
//! // A hot replace: the next handshakes get the new certificate.
//! store.replace("www", cert(&["www.example.com", "www2.example.com"]))?;
//! assert_eq!(store.lookup_cert(Some("www2.example.com"), &[]).unwrap().names().len(), 2);
//! # Ok::<(), lb_tls::TlsError>(())
//! ```

mod cert;
mod crt_list;
mod line_options;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use arc_swap::ArcSwap;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{SignatureAlgorithm, SignatureScheme};

pub use self::cert::Cert;
pub(crate) use self::cert::{parse_chain, provider, read};
pub(crate) use self::line_options::LineOptions;

pub use self::crt_list::{parse_crt_list, Binding, CrtListLine, SniFilters};
use crate::error::TlsError;

/// Files in a `crt` directory that are not certificates (HAProxy's extra files).
const EXTRA_EXTENSIONS: [&str; 5] = ["key", "ocsp", "issuer", "sctl", "crl"];

/// A certificate in the store: the certificate, and the lines that use it.
#[derive(Clone, Debug)]
struct Entry {
    cert: Cert,
    bindings: Vec<Binding>,
    /// Insertion order: the first certificate is the default one, and among certificates
    /// for the same name and algorithm, the first wins.
    seq: u64,
}

/// One certificate that can answer for a name.
#[derive(Clone)]
struct Candidate {
    key: Arc<CertifiedKey>,
    /// The SSL options of the crt-list line that made this candidate.
    ssl: Option<Arc<LineOptions>>,
    /// Names this candidate's wildcard must not match (negative SNI filters).
    excluded: Option<Arc<HashSet<String>>>,
}

impl Candidate {
    fn excludes(&self, name: &str) -> bool {
        self.excluded.as_ref().is_some_and(|ex| ex.contains(name))
    }
}

/// The lookup tables of one snapshot.
#[derive(Default)]
struct Index {
    /// Exact names.
    exact: HashMap<Box<str>, Box<[Candidate]>>,
    /// Wildcards, by the parent domain (`*.example.com` is under `example.com`).
    wildcard: HashMap<Box<str>, Box<[Candidate]>>,
    /// What answers when nothing else does.
    default: Option<Arc<CertifiedKey>>,
    /// The SSL options of the default certificate's first line.
    default_ssl: Option<Arc<LineOptions>>,
    /// Whether any line has SSL options (else handshakes skip looking for them).
    any_ssl: bool,
}

/// An immutable state of the store.
#[derive(Default)]
struct Snapshot {
    entries: BTreeMap<Arc<str>, Entry>,
    default_id: Option<Arc<str>>,
    index: Index,
}

/// Writers' state, behind the writer lock.
#[derive(Default)]
struct Writer {
    /// The staged `set ssl cert` transaction.
    staged: Option<(Arc<str>, Cert)>,
    next_seq: u64,
}

/// The SNI certificate store; see the [module docs](self).
///
/// Shared as `Arc<CertStore>`: the acceptor's rustls configuration holds one (it is the
/// [`ResolvesServerCert`]), the runtime API another.
pub struct CertStore {
    current: ArcSwap<Snapshot>,
    writer: Mutex<Writer>,
    generation: AtomicU64,
}

impl fmt::Debug for CertStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let snap = self.current.load();
        f.debug_struct("CertStore")
            .field("certs", &snap.entries.len())
            .field("exact_names", &snap.index.exact.len())
            .field("wildcards", &snap.index.wildcard.len())
            .field("default", &snap.default_id)
            .field("generation", &self.generation.load(Ordering::Relaxed))
            .finish()
    }
}

impl Default for CertStore {
    fn default() -> Self {
        Self::new()
    }
}

impl CertStore {
    /// An empty store.
    pub fn new() -> Self {
        Self {
            current: ArcSwap::from_pointee(Snapshot::default()),
            writer: Mutex::new(Writer::default()),
            generation: AtomicU64::new(0),
        }
    }

    /// The certificate rustls should serve for `sni`, given the client's signature schemes
    /// (an empty slice: no preference). This is what [`ResolvesServerCert::resolve`] calls.
    ///
    /// Order: exact name, wildcard for the parent domain, default certificate. Among
    /// several certificates for the name, the first (ECDSA before RSA, then insertion
    /// order) whose key can sign with one of `schemes` wins.
    pub fn lookup(
        &self,
        sni: Option<&str>,
        schemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        let snap = self.current.load();
        find(&snap.index, sni, schemes).map(|(key, _)| Arc::clone(key))
    }

    /// The SSL options of the crt-list line whose certificate [`CertStore::lookup`] picks
    /// for `sni`, if that line has any.
    pub(crate) fn lookup_options(
        &self,
        sni: Option<&str>,
        schemes: &[SignatureScheme],
    ) -> Option<Arc<LineOptions>> {
        let snap = self.current.load();
        if !snap.index.any_ssl {
            return None;
        }
        find(&snap.index, sni, schemes).and_then(|(_, ssl)| ssl.clone())
    }

    /// Every crt-list line's SSL options, for the acceptor to check them at start.
    pub(crate) fn line_options(&self) -> Vec<Arc<LineOptions>> {
        let snap = self.current.load();
        let mut out: Vec<Arc<LineOptions>> = Vec::new();
        for ssl in snap
            .entries
            .values()
            .flat_map(|e| &e.bindings)
            .filter_map(|b| b.ssl.as_ref())
        {
            if !out.iter().any(|o| o.id == ssl.id) {
                out.push(Arc::clone(ssl));
            }
        }
        out
    }
}

/// The certificate for `sni` and the options of its line; see [`CertStore::lookup`].
fn find<'a>(
    index: &'a Index,
    sni: Option<&str>,
    schemes: &[SignatureScheme],
) -> Option<(&'a Arc<CertifiedKey>, &'a Option<Arc<LineOptions>>)> {
    if let Some(sni) = sni {
        let sni = sni.strip_suffix('.').unwrap_or(sni);
        let lowered;
        let name = if sni.bytes().any(|b| b.is_ascii_uppercase()) {
            lowered = sni.to_ascii_lowercase();
            lowered.as_str()
        } else {
            sni
        };
        if let Some(found) = index.exact.get(name).and_then(|c| pick(c, name, schemes)) {
            return Some((&found.key, &found.ssl));
        }
        if let Some((_, parent)) = name.split_once('.') {
            if let Some(found) = index
                .wildcard
                .get(parent)
                .and_then(|c| pick(c, name, schemes))
            {
                return Some((&found.key, &found.ssl));
            }
        }
    }
    index.default.as_ref().map(|key| (key, &index.default_ssl))
}

impl CertStore {
    /// Like [`CertStore::lookup`], returning the [`Cert`] (names, subject, origin): for the
    /// runtime API and tests; handshakes use `lookup`.
    pub fn lookup_cert(&self, sni: Option<&str>, schemes: &[SignatureScheme]) -> Option<Cert> {
        let key = self.lookup(sni, schemes)?;
        let snap = self.current.load();
        snap.entries
            .values()
            .find(|e| Arc::ptr_eq(e.cert.certified_key(), &key))
            .map(|e| e.cert.clone())
    }

    /// Adds a certificate under `id` (HAProxy uses the file path), serving its own names.
    ///
    /// The first certificate added is the default one until [`CertStore::set_default`].
    ///
    /// # Errors
    /// [`TlsError::DuplicateCert`] when `id` is taken.
    pub fn add(&self, id: impl Into<Arc<str>>, cert: Cert) -> Result<(), TlsError> {
        let id = id.into();
        self.update(|b| b.add(id, cert))
    }

    /// Adds a certificate under `id` serving the names of `filters`.
    ///
    /// # Errors
    /// [`TlsError::DuplicateCert`] when `id` is taken.
    pub fn add_filtered(
        &self,
        id: impl Into<Arc<str>>,
        cert: Cert,
        filters: SniFilters,
    ) -> Result<(), TlsError> {
        let id = id.into();
        self.update(|b| b.add_with(id, cert, Binding::with_filters(filters)))
    }

    /// Replaces the certificate `id` (its SNI filters and options stay): new handshakes get
    /// the new one, established connections keep theirs.
    ///
    /// # Errors
    /// [`TlsError::UnknownCert`].
    pub fn replace(&self, id: &str, cert: Cert) -> Result<(), TlsError> {
        self.update(|b| b.replace(id, cert))
    }

    /// Removes the certificate `id` and returns it.
    ///
    /// # Errors
    /// [`TlsError::UnknownCert`].
    pub fn remove(&self, id: &str) -> Result<Cert, TlsError> {
        self.update(|b| b.remove(id))
    }

    /// Makes `id` the default certificate (HAProxy `default-crt`).
    ///
    /// # Errors
    /// [`TlsError::UnknownCert`].
    pub fn set_default(&self, id: &str) -> Result<(), TlsError> {
        self.update(|b| b.set_default(id))
    }

    /// Staples a new OCSP response (DER) to the certificate `id`, or removes it with
    /// `None` (HAProxy `set ssl ocsp-response`).
    ///
    /// # Errors
    /// [`TlsError::UnknownCert`].
    pub fn set_ocsp(&self, id: &str, ocsp: Option<Vec<u8>>) -> Result<(), TlsError> {
        self.update(|b| {
            let cert = b.get(id)?.clone().with_ocsp(ocsp);
            b.replace(id, cert)
        })
    }

    /// Re-reads the `.ocsp` file beside the certificate `id` (loaded from a file).
    ///
    /// # Errors
    /// [`TlsError::UnknownCert`], or [`TlsError::Read`] when there is no such file.
    pub fn reload_ocsp(&self, id: &str) -> Result<(), TlsError> {
        let cert = self.get(id).ok_or_else(|| unknown(id))?;
        let path = cert.path().ok_or_else(|| TlsError::Config {
            option: "ocsp",
            reason: format!("certificate {id:?} was not loaded from a file"),
        })?;
        let mut ocsp_path = path.as_os_str().to_owned();
        ocsp_path.push(".ocsp");
        let ocsp_path = std::path::PathBuf::from(ocsp_path);
        let ocsp_path = if ocsp_path.is_file() {
            ocsp_path
        } else {
            path.with_extension("ocsp")
        };
        let der = read(&ocsp_path)?;
        self.set_ocsp(id, Some(der))
    }

    /// Stages a new certificate for `id`, to be swapped in by [`CertStore::commit`] or
    /// dropped by [`CertStore::abort`]: HAProxy's `set ssl cert`. Staging again for the
    /// same id replaces what was staged.
    ///
    /// # Errors
    /// [`TlsError::UnknownCert`]; [`TlsError::TransactionInProgress`] when another
    /// certificate has a staged update.
    pub fn stage(&self, id: &str, cert: Cert) -> Result<(), TlsError> {
        let mut w = self.lock();
        if let Some((pending, _)) = &w.staged {
            if &**pending != id {
                return Err(TlsError::TransactionInProgress {
                    pending: pending.to_string(),
                });
            }
        }
        let snap = self.current.load();
        let (key, _) = snap.entries.get_key_value(id).ok_or_else(|| unknown(id))?;
        w.staged = Some((Arc::clone(key), cert));
        Ok(())
    }

    /// Swaps in the certificate staged for `id` (HAProxy `commit ssl cert`).
    ///
    /// # Errors
    /// [`TlsError::NoTransaction`] when nothing is staged for `id`;
    /// [`TlsError::UnknownCert`] when `id` was removed meanwhile (the staged certificate
    /// is dropped).
    pub fn commit(&self, id: &str) -> Result<(), TlsError> {
        let mut w = self.lock();
        let cert = match w.staged.take() {
            Some((pending, cert)) if &*pending == id => cert,
            other => {
                w.staged = other;
                return Err(TlsError::NoTransaction { id: id.into() });
            }
        };
        self.apply(&mut w, |b| b.replace(id, cert))
    }

    /// Drops the certificate staged for `id` (HAProxy `abort ssl cert`).
    ///
    /// # Errors
    /// [`TlsError::NoTransaction`] when nothing is staged for `id`.
    pub fn abort(&self, id: &str) -> Result<(), TlsError> {
        let mut w = self.lock();
        match w.staged.take() {
            Some((pending, _)) if &*pending == id => Ok(()),
            other => {
                w.staged = other;
                Err(TlsError::NoTransaction { id: id.into() })
            }
        }
    }

    /// The id with a staged update, if any.
    pub fn staged(&self) -> Option<Arc<str>> {
        self.lock().staged.as_ref().map(|(id, _)| Arc::clone(id))
    }

    /// Applies several changes at once: `f` edits a [`CertBatch`] (a copy of the store's
    /// state); if it returns `Ok`, the result is swapped in whole (one index rebuild),
    /// otherwise nothing changes. Loading, reloads and bulk updates go through here.
    ///
    /// # Errors
    /// Whatever `f` returns.
    pub fn update<T>(
        &self,
        f: impl FnOnce(&mut CertBatch) -> Result<T, TlsError>,
    ) -> Result<T, TlsError> {
        let mut w = self.lock();
        self.apply(&mut w, f)
    }

    fn apply<T>(
        &self,
        w: &mut Writer,
        f: impl FnOnce(&mut CertBatch) -> Result<T, TlsError>,
    ) -> Result<T, TlsError> {
        let snap = self.current.load_full();
        let mut batch = CertBatch {
            entries: snap.entries.clone(),
            default_id: snap.default_id.clone(),
            next_seq: w.next_seq,
        };
        drop(snap);
        let out = f(&mut batch)?;
        w.next_seq = batch.next_seq;
        let index = build_index(&batch.entries, batch.default_id.as_deref());
        self.current.store(Arc::new(Snapshot {
            entries: batch.entries,
            default_id: batch.default_id,
            index,
        }));
        self.generation.fetch_add(1, Ordering::Release);
        Ok(out)
    }

    fn lock(&self) -> MutexGuard<'_, Writer> {
        // A panic in a writer leaves the published snapshot intact; keep going.
        self.writer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Loads an HAProxy `crt` argument: a PEM file (see [`Cert::load`]) or a directory
    /// (every certificate file in it, in name order, skipping `.key`, `.ocsp`, `.issuer`,
    /// `.sctl`, `.crl` and hidden files). Ids are the file paths. Reads files: call from a
    /// blocking context.
    ///
    /// # Errors
    /// The first file that fails to load; nothing is added then.
    pub fn load_crt(&self, path: impl AsRef<Path>) -> Result<(), TlsError> {
        self.update(|b| b.load_crt(path.as_ref(), Binding::default()))
    }

    /// Loads an HAProxy `crt-list` file; relative certificate paths are resolved against
    /// `crt_base` (HAProxy `crt-base`) when given. Reads files: call from a blocking
    /// context.
    ///
    /// # Errors
    /// The first line that fails ([`TlsError::CrtList`], or a certificate error naming the
    /// file); nothing is added then.
    pub fn load_crt_list(
        &self,
        path: impl AsRef<Path>,
        crt_base: Option<&Path>,
    ) -> Result<(), TlsError> {
        self.update(|b| b.load_crt_list(path.as_ref(), crt_base))
    }

    /// The certificate `id`.
    pub fn get(&self, id: &str) -> Option<Cert> {
        self.current.load().entries.get(id).map(|e| e.cert.clone())
    }

    /// The lines (SNI filters, options) that use the certificate `id`.
    pub fn bindings(&self, id: &str) -> Option<Vec<Binding>> {
        self.current
            .load()
            .entries
            .get(id)
            .map(|e| e.bindings.clone())
    }

    /// The ids, in order.
    pub fn ids(&self) -> Vec<Arc<str>> {
        self.current.load().entries.keys().cloned().collect()
    }

    /// The id of the default certificate.
    pub fn default_id(&self) -> Option<Arc<str>> {
        let snap = self.current.load();
        default_entry(&snap.entries, snap.default_id.as_deref()).map(|(id, _)| Arc::clone(id))
    }

    /// How many certificates there are.
    pub fn len(&self) -> usize {
        self.current.load().entries.len()
    }

    /// Whether the store is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many exact names and wildcard domains the index holds.
    pub fn name_count(&self) -> (usize, usize) {
        let snap = self.current.load();
        (snap.index.exact.len(), snap.index.wildcard.len())
    }

    /// A counter bumped by every change: cheap change detection for the runtime API.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let found = self.lookup(hello.server_name(), hello.signature_schemes());
        if found.is_none() {
            tracing::debug!(sni = ?hello.server_name(), "no certificate for this name and no default certificate");
        }
        found
    }
}

/// Picks among the candidates for `name`.
fn pick<'a>(
    cands: &'a [Candidate],
    name: &str,
    schemes: &[SignatureScheme],
) -> Option<&'a Candidate> {
    let mut first = None;
    for c in cands {
        if c.excludes(name) {
            continue;
        }
        if first.is_none() {
            first = Some(c);
            if cands.len() == 1 || schemes.is_empty() {
                break;
            }
        }
        if c.key.key.choose_scheme(schemes).is_some() {
            return Some(c);
        }
    }
    first
}

/// The default entry: the one named, or else the first added.
fn default_entry<'a>(
    entries: &'a BTreeMap<Arc<str>, Entry>,
    default_id: Option<&str>,
) -> Option<(&'a Arc<str>, &'a Entry)> {
    default_id
        .and_then(|id| entries.get_key_value(id))
        .or_else(|| entries.iter().min_by_key(|(_, e)| e.seq))
}

/// Preference among certificates for one name: ECDSA is cheaper to serve.
fn algorithm_rank(alg: SignatureAlgorithm) -> u8 {
    match alg {
        SignatureAlgorithm::ECDSA => 0,
        SignatureAlgorithm::ED25519 => 1,
        SignatureAlgorithm::RSA => 2,
        _ => 3,
    }
}

/// Builds the lookup tables.
fn build_index(entries: &BTreeMap<Arc<str>, Entry>, default_id: Option<&str>) -> Index {
    type Slot = Vec<(u8, u64, Candidate)>;
    let mut exact: HashMap<Box<str>, Slot> = HashMap::new();
    let mut wildcard: HashMap<Box<str>, Slot> = HashMap::new();
    for entry in entries.values() {
        let rank = algorithm_rank(entry.cert.algorithm());
        for binding in &entry.bindings {
            let names = if binding.filters.names().is_empty() {
                entry.cert.names()
            } else {
                binding.filters.names()
            };
            let excluded = (!binding.filters.excluded().is_empty()).then(|| {
                Arc::new(
                    binding
                        .filters
                        .excluded()
                        .iter()
                        .cloned()
                        .collect::<HashSet<_>>(),
                )
            });
            for name in names {
                if let Some(parent) = name.strip_prefix("*.") {
                    let cand = Candidate {
                        key: Arc::clone(entry.cert.certified_key()),
                        ssl: binding.ssl.clone(),
                        excluded: excluded.clone(),
                    };
                    wildcard
                        .entry(parent.into())
                        .or_default()
                        .push((rank, entry.seq, cand));
                } else if name.contains('*') {
                    tracing::warn!(cert = %entry.cert.origin(), %name, "partial wildcards are not supported; name ignored");
                } else {
                    let cand = Candidate {
                        key: Arc::clone(entry.cert.certified_key()),
                        ssl: binding.ssl.clone(),
                        excluded: None,
                    };
                    exact
                        .entry(name.as_str().into())
                        .or_default()
                        .push((rank, entry.seq, cand));
                }
            }
        }
    }
    let finish = |map: HashMap<Box<str>, Slot>| {
        map.into_iter()
            .map(|(name, mut slot)| {
                slot.sort_by_key(|(rank, seq, _)| (*rank, *seq));
                slot.dedup_by(|a, b| Arc::ptr_eq(&a.2.key, &b.2.key));
                let cands: Box<[Candidate]> = slot.into_iter().map(|(_, _, c)| c).collect();
                (name, cands)
            })
            .collect::<HashMap<_, _>>()
    };
    let default = default_entry(entries, default_id).map(|(_, e)| e);
    Index {
        exact: finish(exact),
        wildcard: finish(wildcard),
        default: default.map(|e| Arc::clone(e.cert.certified_key())),
        default_ssl: default
            .and_then(|e| e.bindings.first())
            .and_then(|b| b.ssl.clone()),
        any_ssl: entries
            .values()
            .any(|e| e.bindings.iter().any(|b| b.ssl.is_some())),
    }
}

fn unknown(id: &str) -> TlsError {
    TlsError::UnknownCert { id: id.into() }
}

/// A working copy of the store's certificates, edited inside [`CertStore::update`] and
/// swapped in whole when the closure returns `Ok`.
pub struct CertBatch {
    entries: BTreeMap<Arc<str>, Entry>,
    default_id: Option<Arc<str>>,
    next_seq: u64,
}

impl fmt::Debug for CertBatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertBatch")
            .field("certs", &self.entries.len())
            .field("default", &self.default_id)
            .finish()
    }
}

impl CertBatch {
    /// Adds a certificate serving its own names.
    ///
    /// # Errors
    /// [`TlsError::DuplicateCert`].
    pub fn add(&mut self, id: impl Into<Arc<str>>, cert: Cert) -> Result<(), TlsError> {
        self.add_with(id, cert, Binding::default())
    }

    /// Adds a certificate with one binding (SNI filters and options).
    ///
    /// # Errors
    /// [`TlsError::DuplicateCert`].
    pub fn add_with(
        &mut self,
        id: impl Into<Arc<str>>,
        cert: Cert,
        binding: Binding,
    ) -> Result<(), TlsError> {
        let id = id.into();
        if self.entries.contains_key(&id) {
            return Err(TlsError::DuplicateCert { id: id.to_string() });
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.entries.insert(
            id,
            Entry {
                cert,
                bindings: vec![binding],
                seq,
            },
        );
        Ok(())
    }

    /// Adds one more binding to the certificate `id` (the same file on several crt-list
    /// lines).
    ///
    /// # Errors
    /// [`TlsError::UnknownCert`].
    pub fn bind(&mut self, id: &str, binding: Binding) -> Result<(), TlsError> {
        let entry = self.entries.get_mut(id).ok_or_else(|| unknown(id))?;
        if !entry.bindings.contains(&binding) {
            entry.bindings.push(binding);
        }
        Ok(())
    }

    /// Replaces the certificate `id`, keeping its bindings.
    ///
    /// # Errors
    /// [`TlsError::UnknownCert`].
    pub fn replace(&mut self, id: &str, cert: Cert) -> Result<(), TlsError> {
        self.entries.get_mut(id).ok_or_else(|| unknown(id))?.cert = cert;
        Ok(())
    }

    /// Removes the certificate `id`.
    ///
    /// # Errors
    /// [`TlsError::UnknownCert`].
    pub fn remove(&mut self, id: &str) -> Result<Cert, TlsError> {
        let entry = self.entries.remove(id).ok_or_else(|| unknown(id))?;
        if self.default_id.as_deref() == Some(id) {
            self.default_id = None;
        }
        Ok(entry.cert)
    }

    /// Removes every certificate (a reload then loads the new set).
    pub fn clear(&mut self) {
        self.entries.clear();
        self.default_id = None;
    }

    /// Makes `id` the default certificate.
    ///
    /// # Errors
    /// [`TlsError::UnknownCert`].
    pub fn set_default(&mut self, id: &str) -> Result<(), TlsError> {
        let (key, _) = self.entries.get_key_value(id).ok_or_else(|| unknown(id))?;
        self.default_id = Some(Arc::clone(key));
        Ok(())
    }

    /// The certificate `id`.
    ///
    /// # Errors
    /// [`TlsError::UnknownCert`].
    pub fn get(&self, id: &str) -> Result<&Cert, TlsError> {
        self.entries
            .get(id)
            .map(|e| &e.cert)
            .ok_or_else(|| unknown(id))
    }

    /// Whether `id` is present.
    pub fn contains(&self, id: &str) -> bool {
        self.entries.contains_key(id)
    }

    /// Loads a `crt` file or directory with `binding`; see [`CertStore::load_crt`]. A file
    /// already present gets the binding added instead of being read again.
    ///
    /// # Errors
    /// As [`CertStore::load_crt`].
    pub fn load_crt(&mut self, path: &Path, binding: Binding) -> Result<(), TlsError> {
        if path.is_dir() {
            let mut files = Vec::new();
            let dir = std::fs::read_dir(path).map_err(|source| TlsError::Read {
                path: path.to_path_buf(),
                source,
            })?;
            for item in dir {
                let item = item.map_err(|source| TlsError::Read {
                    path: path.to_path_buf(),
                    source,
                })?;
                let file = item.path();
                let hidden = item.file_name().to_string_lossy().starts_with('.');
                let extra = file
                    .extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| EXTRA_EXTENSIONS.contains(&e));
                if !hidden && !extra && file.is_file() {
                    files.push(file);
                }
            }
            files.sort();
            for file in files {
                self.load_file(&file, binding.clone())?;
            }
            Ok(())
        } else {
            self.load_file(path, binding)
        }
    }

    fn load_file(&mut self, path: &Path, binding: Binding) -> Result<(), TlsError> {
        let id = path.display().to_string();
        if self.entries.contains_key(id.as_str()) {
            return self.bind(&id, binding);
        }
        let cert = Cert::load(path)?;
        self.add_with(id, cert, binding)
    }

    /// Loads a `crt-list` file; see [`CertStore::load_crt_list`].
    ///
    /// # Errors
    /// As [`CertStore::load_crt_list`].
    pub fn load_crt_list(&mut self, path: &Path, crt_base: Option<&Path>) -> Result<(), TlsError> {
        let text = read(path)?;
        let origin = path.display().to_string();
        let text = std::str::from_utf8(&text).map_err(|e| TlsError::CrtList {
            origin: origin.clone(),
            line: 1 + text[..e.valid_up_to()]
                .iter()
                .filter(|&&b| b == b'\n')
                .count(),
            reason: "not UTF-8".into(),
        })?;
        for line in parse_crt_list(text, &origin)? {
            let ssl = LineOptions::parse(&line.options, crt_base, &origin, line.line)?;
            let binding = Binding {
                filters: line.filters,
                options: line.options.into(),
                ssl: ssl.map(Arc::new),
            };
            let file = crt_list::resolve(&line.path, crt_base);
            self.load_crt(&file, binding).map_err(|e| match e {
                e @ (TlsError::Read { .. } | TlsError::CrtList { .. }) => TlsError::CrtList {
                    origin: origin.clone(),
                    line: line.line,
                    reason: e.to_string(),
                },
                other => other,
            })?;
        }
        Ok(())
    }
}
