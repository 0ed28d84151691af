//! [`TlsInfo`]: what a finished handshake tells rules, logs and headers.

use std::fmt::Write as _;
use std::sync::Arc;

use lb_tcp::proxy_protocol::{Ssl, SslClient, Tlvs};
use rustls::pki_types::CertificateDer;
use rustls::{CommonState, HandshakeKind, ServerConnection};

use crate::options::{suite_name, version_name};
use crate::x509::{CertInfo, Name};

/// The TLS facts of an accepted connection, named after HAProxy's sample fetches.
///
/// Taken once after the handshake ([`TlsInfo::from_server`], [`TlsInfo::of`]); cheap to
/// clone.
#[derive(Clone, Debug)]
pub struct TlsInfo {
    sni: Option<Arc<str>>,
    alpn: Option<Arc<[u8]>>,
    version: &'static str,
    cipher: &'static str,
    group: Option<&'static str>,
    resumed: bool,
    client_cert: Option<Arc<ClientCert>>,
}

impl TlsInfo {
    /// The facts of a server connection whose handshake is done.
    pub fn from_server(conn: &ServerConnection) -> Self {
        let mut info = Self::from_common(conn);
        info.sni = conn.server_name().map(Into::into);
        info
    }

    /// The facts of an accepted stream.
    pub fn of<IO>(stream: &tokio_rustls::server::TlsStream<IO>) -> Self {
        Self::from_server(stream.get_ref().1)
    }

    /// The parts that do not depend on the side (used for both).
    pub(crate) fn from_common(conn: &CommonState) -> Self {
        Self {
            sni: None,
            alpn: conn.alpn_protocol().map(Into::into),
            version: conn.protocol_version().map_or("UNKNOWN", version_name),
            cipher: conn
                .negotiated_cipher_suite()
                .map_or("UNKNOWN", |s| suite_name(s.suite())),
            group: conn
                .negotiated_key_exchange_group()
                .and_then(|g| g.name().as_str()),
            resumed: conn.handshake_kind() == Some(HandshakeKind::Resumed),
            client_cert: conn
                .peer_certificates()
                .and_then(|chain| chain.first())
                .map(|leaf| Arc::new(ClientCert::new(leaf.clone().into_owned()))),
        }
    }

    /// `ssl_fc`: the connection is TLS (always true for a `TlsInfo`).
    pub fn ssl_fc(&self) -> bool {
        true
    }

    /// `ssl_fc_sni`: the server name the client asked for.
    pub fn sni(&self) -> Option<&str> {
        self.sni.as_deref()
    }

    /// `ssl_fc_alpn`: the negotiated application protocol (`h2`, `http/1.1`).
    pub fn alpn(&self) -> Option<&[u8]> {
        self.alpn.as_deref()
    }

    /// `ssl_fc_protocol`: `TLSv1.2` or `TLSv1.3`.
    pub fn version(&self) -> &'static str {
        self.version
    }

    /// `ssl_fc_cipher`: the cipher suite's OpenSSL name (`TLS_AES_256_GCM_SHA384`,
    /// `ECDHE-RSA-AES128-GCM-SHA256`).
    pub fn cipher(&self) -> &'static str {
        self.cipher
    }

    /// The key exchange group (`X25519`, `secp256r1`, `X25519MLKEM768`).
    pub fn group(&self) -> Option<&'static str> {
        self.group
    }

    /// `ssl_fc_is_resumed`: the session was resumed (ticket or session id).
    pub fn resumed(&self) -> bool {
        self.resumed
    }

    /// `ssl_c_used`: the client presented a certificate (in this handshake, or in the
    /// session it resumed). With `verify optional` this tells whether a valid certificate
    /// was presented: an invalid one fails the handshake.
    pub fn client_cert_used(&self) -> bool {
        self.client_cert.is_some()
    }

    /// `ssl_c_verify`: 0 when the client certificate (if any) verified. A certificate that
    /// does not verify fails the handshake, so an established connection always has 0.
    pub fn verify_result(&self) -> u32 {
        0
    }

    /// The client certificate, if one was presented.
    pub fn client_cert(&self) -> Option<&ClientCert> {
        self.client_cert.as_deref()
    }

    /// The `PP2_TYPE_SSL` TLV for PROXY protocol v2 (`send-proxy-v2-ssl`,
    /// `send-proxy-v2-ssl-cn`): version, cipher, group, the client certificate's CN and,
    /// with `include_cert`, the certificate itself.
    pub fn to_proxy_ssl(&self, include_cert: bool) -> Ssl {
        let mut ssl = Ssl::default();
        ssl.client = SslClient::SSL;
        if self.client_cert.is_some() {
            ssl.client |= SslClient::CERT_SESS;
            if !self.resumed {
                ssl.client |= SslClient::CERT_CONN;
            }
        }
        ssl.verify = self.verify_result();
        ssl.version = Some(self.version.into());
        ssl.cipher = Some(self.cipher.into());
        ssl.group = self.group.map(Into::into);
        if let Some(cert) = &self.client_cert {
            ssl.cn = cert.common_name().map(Into::into);
            if include_cert {
                ssl.client_cert = Some(cert.der().to_vec());
            }
        }
        ssl
    }

    /// The PROXY protocol v2 TLVs this connection contributes: ALPN, authority (the SNI)
    /// and the SSL TLV (see [`TlsInfo::to_proxy_ssl`]).
    pub fn to_proxy_tlvs(&self, include_cert: bool) -> Tlvs {
        let mut tlvs = Tlvs::default();
        tlvs.alpn = self.alpn.as_deref().map(<[u8]>::to_vec);
        tlvs.authority = self.sni.as_deref().map(Into::into);
        tlvs.ssl = Some(self.to_proxy_ssl(include_cert));
        tlvs
    }
}

/// A client certificate: DER, names, fingerprint.
#[derive(Clone, Debug)]
pub struct ClientCert {
    der: CertificateDer<'static>,
    subject: Name,
    issuer: Name,
    not_after: String,
    sha1: [u8; 20],
}

impl ClientCert {
    fn new(der: CertificateDer<'static>) -> Self {
        // webpki accepted it, so it parses; if this reader cannot, the names stay empty.
        let info = CertInfo::parse(&der).ok();
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, &der);
        let mut sha1 = [0u8; 20];
        sha1.copy_from_slice(digest.as_ref());
        let (subject, issuer, not_after) = info
            .map(|i| (i.subject, i.issuer, i.not_after))
            .unwrap_or_default();
        Self {
            der,
            subject,
            issuer,
            not_after,
            sha1,
        }
    }

    /// The certificate, DER (`ssl_c_der`).
    pub fn der(&self) -> &CertificateDer<'static> {
        &self.der
    }

    /// `ssl_c_s_dn`: the subject in OpenSSL's one-line form, `/C=FR/O=Example/CN=alice`.
    pub fn subject_dn(&self) -> String {
        self.subject.oneline()
    }

    /// `ssl_c_s_dn(rfc2253)`: `CN=alice,O=Example,C=FR`.
    pub fn subject_dn_rfc2253(&self) -> String {
        self.subject.rfc2253()
    }

    /// `ssl_c_i_dn`: the issuer in one-line form.
    pub fn issuer_dn(&self) -> String {
        self.issuer.oneline()
    }

    /// `ssl_c_i_dn(rfc2253)`.
    pub fn issuer_dn_rfc2253(&self) -> String {
        self.issuer.rfc2253()
    }

    /// `ssl_c_s_dn(CN)`: the subject's common name.
    pub fn common_name(&self) -> Option<&str> {
        self.subject.common_name()
    }

    /// `ssl_c_notafter`, as written in the certificate (`YYMMDDHHMMSSZ`).
    pub fn not_after(&self) -> &str {
        &self.not_after
    }

    /// `ssl_c_sha1`: SHA-1 of the DER certificate.
    pub fn sha1(&self) -> [u8; 20] {
        self.sha1
    }

    /// `ssl_c_sha1,hex`: uppercase hex, as HAProxy's `hex` converter prints.
    pub fn sha1_hex(&self) -> String {
        self.sha1
            .iter()
            .fold(String::with_capacity(40), |mut s, b| {
                let _ = write!(s, "{b:02X}");
                s
            })
    }
}
