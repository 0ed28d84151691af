//! Stateless session resumption: [`TicketKeys`], rustls's [`ProducesTickets`] over keys
//! that rotate from a file (HAProxy `tls-ticket-keys`) or from the runtime API (HAProxy
//! `set ssl tls-key`).
//!
//! # Keys
//! A key is 48 or 80 bytes, base64 on one line of the key file (`openssl rand 80 | openssl
//! base64 -A`). Its first 16 bytes name it; an AES-256-GCM key is derived from the rest
//! with HKDF-SHA256. (HAProxy feeds the bytes to OpenSSL's AES-CBC + HMAC ticket scheme;
//! tickets are not portable between HAProxy and lb either way, the key files are.)
//!
//! # Rotation, as HAProxy does it
//! The store keeps the newest 3 keys. The *penultimate* one encrypts new tickets, all
//! decrypt: a new key is appended first as the "next" key, which every node can decrypt
//! with before any node encrypts with it; the following rotation makes it current. So a
//! ticket survives two rotations after the one that made its key current.
//!
//! # Tickets
//! `name (16) | nonce (12) | ciphertext | tag (16)`, the name as associated data. Nonces
//! are random: rotate keys well before 2^32 tickets per key.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use arc_swap::ArcSwap;
use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use aws_lc_rs::hkdf::{Salt, HKDF_SHA256};
use rustls::server::ProducesTickets;

use crate::cert_store::read;
use crate::error::TlsError;

/// How many keys are kept (HAProxy's `TLS_TICKETS_NO`).
pub const KEYS_KEPT: usize = 3;

/// Default ticket lifetime hint, in seconds (HAProxy `tune.ssl.lifetime`).
pub const DEFAULT_LIFETIME: u32 = 300;

/// Length of a key name.
const NAME_LEN: usize = 16;
/// AES-GCM tag length.
const TAG_LEN: usize = 16;
/// Salt of the key derivation.
const HKDF_SALT: &[u8] = b"lb-tls session ticket key v1";

/// One ticket key.
struct TicketKey {
    name: [u8; NAME_LEN],
    aead: LessSafeKey,
}

impl TicketKey {
    /// A key from the 48 or 80 raw bytes of an HAProxy key line.
    fn from_raw(raw: &[u8]) -> Result<Self, &'static str> {
        if raw.len() != 48 && raw.len() != 80 {
            return Err("a key is 48 or 80 bytes");
        }
        let (name, secret) = raw.split_at(NAME_LEN);
        let name: [u8; NAME_LEN] = name.try_into().map_err(|_| "a key is 48 or 80 bytes")?;
        let prk = Salt::new(HKDF_SHA256, HKDF_SALT).extract(secret);
        let info = [name.as_slice()];
        let okm = prk
            .expand(&info, &AES_256_GCM)
            .map_err(|_| "key derivation failed")?;
        let aead = LessSafeKey::new(UnboundKey::from(okm));
        Ok(Self { name, aead })
    }

    fn random() -> Result<Self, &'static str> {
        let mut raw = [0u8; 80];
        aws_lc_rs::rand::fill(&mut raw).map_err(|_| "no randomness")?;
        Self::from_raw(&raw)
    }
}

/// The current keys, oldest first.
struct KeySet {
    keys: Vec<Arc<TicketKey>>,
}

impl KeySet {
    /// The key that encrypts: the penultimate one (the last is the "next" key).
    fn encrypting(&self) -> Option<&TicketKey> {
        let n = self.keys.len();
        self.keys.get(n.saturating_sub(2)).map(|k| &**k)
    }
}

/// Session ticket keys, rotated at runtime; see the [module docs](self).
///
/// Give it to [`TlsAcceptorBuilder::tickets`](crate::TlsAcceptorBuilder::tickets) and keep
/// an `Arc` for the runtime API.
///
/// # Examples
/// ```
/// use lb_tls::TicketKeys;
/// use rustls::server::ProducesTickets;
///
/// let keys = TicketKeys::from_raw(&[[1u8; 80].as_slice()])?;
/// let ticket = keys.encrypt(b"session state").unwrap();
/// keys.rotate(&[2u8; 48])?; // the next key
/// keys.rotate(&[3u8; 80])?; // now [2; 48] encrypts, [1; 80] still decrypts
/// assert_eq!(keys.decrypt(&ticket).unwrap(), b"session state");
/// keys.rotate(&[4u8; 80])?; // [1; 80] is gone
/// assert!(keys.decrypt(&ticket).is_none());
/// # Ok::<(), lb_tls::TlsError>(())
/// ```
pub struct TicketKeys {
    set: ArcSwap<KeySet>,
    lifetime: u32,
}

impl fmt::Debug for TicketKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let set = self.set.load();
        f.debug_struct("TicketKeys")
            .field("keys", &set.keys.len())
            .field("lifetime", &self.lifetime)
            .finish_non_exhaustive()
    }
}

impl TicketKeys {
    /// One random key (what HAProxy does without `tls-ticket-keys`): tickets last until
    /// the process ends or the keys are rotated.
    ///
    /// # Errors
    /// [`TlsError::TicketKey`] when the system has no randomness.
    pub fn random() -> Result<Self, TlsError> {
        let key = TicketKey::random().map_err(api_error)?;
        Ok(Self::with_keys(vec![Arc::new(key)]))
    }

    /// Keys from raw bytes (48 or 80 each), oldest first; the newest [`KEYS_KEPT`] are
    /// kept.
    ///
    /// # Errors
    /// [`TlsError::TicketKey`] for a bad length or no key at all.
    pub fn from_raw(keys: &[&[u8]]) -> Result<Self, TlsError> {
        let keys = keys
            .iter()
            .enumerate()
            .map(|(i, raw)| {
                TicketKey::from_raw(raw)
                    .map(Arc::new)
                    .map_err(|reason| TlsError::TicketKey {
                        origin: "api".into(),
                        line: i + 1,
                        reason,
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if keys.is_empty() {
            return Err(api_error("no key"));
        }
        Ok(Self::with_keys(keys))
    }

    /// Parses a `tls-ticket-keys` document: one base64 key per line, oldest first; blank
    /// lines and `#` comments are skipped. `origin` names it in errors.
    ///
    /// # Errors
    /// [`TlsError::TicketKey`] with the line of a bad key, or when there is none.
    pub fn parse(text: &str, origin: &str) -> Result<Self, TlsError> {
        Ok(Self::with_keys(parse_keys(text, origin)?))
    }

    /// Loads a `tls-ticket-keys` file (reads a file: call from a blocking context).
    ///
    /// # Errors
    /// [`TlsError::Read`], or as [`TicketKeys::parse`].
    pub fn load(path: impl AsRef<Path>) -> Result<Self, TlsError> {
        let path = path.as_ref();
        Self::parse(&file_text(path)?, &path.display().to_string())
    }

    fn with_keys(mut keys: Vec<Arc<TicketKey>>) -> Self {
        keep_newest(&mut keys);
        Self {
            set: ArcSwap::from_pointee(KeySet { keys }),
            lifetime: DEFAULT_LIFETIME,
        }
    }

    /// Sets the ticket lifetime hint given to clients, in seconds (HAProxy
    /// `tune.ssl.lifetime`). Default is 300.
    #[must_use]
    pub fn lifetime(mut self, seconds: u32) -> Self {
        self.lifetime = seconds;
        self
    }

    /// Appends `raw` (48 or 80 bytes) as the next key: the previous "next" key starts
    /// encrypting and the oldest beyond [`KEYS_KEPT`] is dropped (HAProxy `set ssl
    /// tls-key`).
    ///
    /// # Errors
    /// [`TlsError::TicketKey`] for a bad length; the keys are unchanged then.
    pub fn rotate(&self, raw: &[u8]) -> Result<(), TlsError> {
        let key = TicketKey::from_raw(raw).map_err(api_error)?;
        let key = Arc::new(key);
        self.set.rcu(|set| {
            let mut keys = set.keys.clone();
            keys.push(Arc::clone(&key));
            keep_newest(&mut keys);
            KeySet { keys }
        });
        Ok(())
    }

    /// Replaces all keys with those of a `tls-ticket-keys` file (a reload after the file
    /// gained a line).
    ///
    /// # Errors
    /// As [`TicketKeys::load`]; the keys are unchanged then.
    pub fn reload(&self, path: impl AsRef<Path>) -> Result<(), TlsError> {
        let path = path.as_ref();
        let mut keys = parse_keys(&file_text(path)?, &path.display().to_string())?;
        keep_newest(&mut keys);
        self.set.store(Arc::new(KeySet { keys }));
        Ok(())
    }

    /// How many keys are held.
    pub fn len(&self) -> usize {
        self.set.load().keys.len()
    }

    /// Whether no key is held (never true: constructors need one).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl ProducesTickets for TicketKeys {
    fn enabled(&self) -> bool {
        true
    }

    fn lifetime(&self) -> u32 {
        self.lifetime
    }

    fn encrypt(&self, plain: &[u8]) -> Option<Vec<u8>> {
        let set = self.set.load();
        let key = set.encrypting()?;
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce).ok()?;
        let mut out = Vec::with_capacity(NAME_LEN + NONCE_LEN + plain.len() + TAG_LEN);
        out.extend_from_slice(&key.name);
        out.extend_from_slice(&nonce);
        let mut body = plain.to_vec();
        key.aead
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(&key.name),
                &mut body,
            )
            .ok()?;
        out.extend_from_slice(&body);
        Some(out)
    }

    fn decrypt(&self, ticket: &[u8]) -> Option<Vec<u8>> {
        let (name, rest) = ticket.split_at_checked(NAME_LEN)?;
        let (nonce, sealed) = rest.split_at_checked(NONCE_LEN)?;
        if sealed.len() < TAG_LEN {
            return None;
        }
        let set = self.set.load();
        let key = set.keys.iter().find(|k| k.name == name)?;
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut body = sealed.to_vec();
        let plain_len = key
            .aead
            .open_in_place(nonce, Aad::from(&key.name), &mut body)
            .ok()?
            .len();
        body.truncate(plain_len);
        Some(body)
    }
}

fn keep_newest<T>(keys: &mut Vec<T>) {
    let extra = keys.len().saturating_sub(KEYS_KEPT);
    keys.drain(..extra);
}

fn api_error(reason: &'static str) -> TlsError {
    TlsError::TicketKey {
        origin: "api".into(),
        line: 1,
        reason,
    }
}

fn file_text(path: &Path) -> Result<String, TlsError> {
    let raw = read(path)?;
    String::from_utf8(raw).map_err(|_| TlsError::TicketKey {
        origin: path.display().to_string(),
        line: 1,
        reason: "the file is not text",
    })
}

fn parse_keys(text: &str, origin: &str) -> Result<Vec<Arc<TicketKey>>, TlsError> {
    let mut keys = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.split_once('#').map_or(line, |(l, _)| l).trim();
        if line.is_empty() {
            continue;
        }
        let err = |reason| TlsError::TicketKey {
            origin: origin.into(),
            line: i + 1,
            reason,
        };
        let raw = lb_core::codec::base64_decode(line).ok_or_else(|| err("not base64"))?;
        keys.push(Arc::new(TicketKey::from_raw(&raw).map_err(err)?));
    }
    if keys.is_empty() {
        return Err(TlsError::TicketKey {
            origin: origin.into(),
            line: 1,
            reason: "no key in the file",
        });
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(raw: &[u8]) -> String {
        const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::new();
        for chunk in raw.chunks(3) {
            let mut b = [0u8; 3];
            b[..chunk.len()].copy_from_slice(chunk);
            let n = u32::from_be_bytes([0, b[0], b[1], b[2]]);
            for i in 0..=chunk.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            }
        }
        out
    }

    #[test]
    fn file_keys_penultimate_encrypts() {
        let text = format!(
            "# keys\n{}\n\n{}\n{}\n{}\n",
            b64(&[1; 80]),
            b64(&[2; 48]),
            b64(&[3; 80]),
            b64(&[4; 80])
        );
        let keys = TicketKeys::parse(&text, "keys.txt").unwrap();
        assert_eq!(keys.len(), KEYS_KEPT, "the oldest is dropped");
        let t = keys.encrypt(b"x").unwrap();
        assert_eq!(&t[..NAME_LEN], &[3; 16], "penultimate key encrypts");
        assert_eq!(t.len(), NAME_LEN + NONCE_LEN + 1 + TAG_LEN);
        assert_eq!(keys.decrypt(&t).unwrap(), b"x");
    }

    #[test]
    fn bad_keys_name_the_line() {
        let text = format!("{}\nnot base64!\n", b64(&[1; 80]));
        let err = TicketKeys::parse(&text, "k").unwrap_err();
        assert_eq!(err.to_string(), "k:2: bad TLS ticket key: not base64");
        let err = TicketKeys::parse(&b64(&[1; 40]), "k").unwrap_err();
        assert_eq!(
            err.to_string(),
            "k:1: bad TLS ticket key: a key is 48 or 80 bytes"
        );
        assert!(TicketKeys::parse("# nothing\n", "k").is_err());
        let keys = TicketKeys::random().unwrap();
        assert!(keys.rotate(&[0; 10]).is_err());
        assert_eq!(keys.len(), 1);
    }

    #[test]
    fn tampered_or_foreign_tickets_are_refused() {
        let keys = TicketKeys::from_raw(&[&[7; 80]]).unwrap();
        let mut t = keys.encrypt(b"secret").unwrap();
        let last = t.len() - 1;
        t[last] ^= 1;
        assert!(keys.decrypt(&t).is_none());
        let other = TicketKeys::random().unwrap();
        assert!(other.decrypt(&keys.encrypt(b"s").unwrap()).is_none());
        for n in 0..40 {
            assert!(keys.decrypt(&vec![7; n]).is_none());
        }
    }
}
