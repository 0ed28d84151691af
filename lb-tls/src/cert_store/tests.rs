use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use rcgen::{CertificateParams, DnType, KeyPair, PKCS_ECDSA_P256_SHA256, PKCS_RSA_SHA256};
use rustls::SignatureScheme;

use super::*;

/// A self-signed certificate for `names` with a key of `alg`, as a PEM pair.
fn pem_pair(names: &[&str], alg: &'static rcgen::SignatureAlgorithm) -> (String, String) {
    let key = KeyPair::generate_for(alg).unwrap();
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let cert = CertificateParams::new(names)
        .unwrap()
        .self_signed(&key)
        .unwrap();
    (cert.pem(), key.serialize_pem())
}

fn ecdsa(names: &[&str]) -> Cert {
    let (c, k) = pem_pair(names, &PKCS_ECDSA_P256_SHA256);
    Cert::from_pem_parts(c.as_bytes(), k.as_bytes()).unwrap()
}

fn rsa(names: &[&str]) -> Cert {
    let (c, k) = pem_pair(names, &PKCS_RSA_SHA256);
    Cert::from_pem_parts(c.as_bytes(), k.as_bytes()).unwrap()
}

/// The first name of the certificate picked for `sni`.
fn served(store: &CertStore, sni: Option<&str>) -> Option<String> {
    store
        .lookup_cert(sni, &[])
        .map(|c| c.names()[0].to_string())
}

/// A fresh directory under the system temp dir.
fn temp_dir() -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "lb-tls-store-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn exact_wildcard_default() {
    let store = CertStore::new();
    store.add("d", ecdsa(&["default.test"])).unwrap();
    store.add("w", ecdsa(&["*.example.com"])).unwrap();
    store
        .add("e", ecdsa(&["www.example.com", "example.com"]))
        .unwrap();
    assert_eq!(
        served(&store, Some("www.example.com")).unwrap(),
        "www.example.com"
    );
    assert_eq!(
        served(&store, Some("example.com")).unwrap(),
        "www.example.com"
    );
    assert_eq!(
        served(&store, Some("api.example.com")).unwrap(),
        "*.example.com"
    );
    // One label only: not a.b.example.com, not the bare domain.
    assert_eq!(
        served(&store, Some("a.b.example.com")).unwrap(),
        "default.test"
    );
    assert_eq!(
        served(&store, Some("unknown.test")).unwrap(),
        "default.test"
    );
    assert_eq!(served(&store, None).unwrap(), "default.test");
    // Case and a trailing dot do not matter.
    assert_eq!(
        served(&store, Some("API.Example.COM.")).unwrap(),
        "*.example.com"
    );
    assert_eq!(store.name_count(), (3, 1));
}

#[test]
fn empty_store_serves_nothing() {
    let store = CertStore::new();
    assert!(store.lookup(Some("x.test"), &[]).is_none());
    assert!(store.lookup(None, &[]).is_none());
    assert!(store.is_empty());
}

#[test]
fn rsa_or_ecdsa_by_signature_schemes() {
    let store = CertStore::new();
    store.add("rsa", rsa(&["www.example.com"])).unwrap();
    store.add("ec", ecdsa(&["www.example.com"])).unwrap();
    let alg = |schemes: &[SignatureScheme]| {
        store
            .lookup_cert(Some("www.example.com"), schemes)
            .unwrap()
            .algorithm()
    };
    assert_eq!(
        alg(&[SignatureScheme::RSA_PSS_SHA256]),
        SignatureAlgorithm::RSA
    );
    assert_eq!(
        alg(&[SignatureScheme::RSA_PKCS1_SHA256]),
        SignatureAlgorithm::RSA
    );
    assert_eq!(
        alg(&[SignatureScheme::ECDSA_NISTP256_SHA256]),
        SignatureAlgorithm::ECDSA
    );
    assert_eq!(
        alg(&[
            SignatureScheme::RSA_PSS_SHA256,
            SignatureScheme::ECDSA_NISTP256_SHA256
        ]),
        SignatureAlgorithm::ECDSA,
        "ECDSA preferred when the client takes both"
    );
    // Nothing usable: the first one anyway (the handshake will say why it fails).
    assert_eq!(alg(&[SignatureScheme::ED448]), SignatureAlgorithm::ECDSA);
}

#[test]
fn negative_filters_only_stop_wildcards() {
    let store = CertStore::new();
    store.add("d", ecdsa(&["default.test"])).unwrap();
    let filters =
        SniFilters::parse(["*.example.com", "!secret.example.com", "!admin.example.com"]).unwrap();
    store
        .add_filtered("w", ecdsa(&["ignored.test"]), filters)
        .unwrap();
    store.add("admin", ecdsa(&["admin.example.com"])).unwrap();
    let w = store.get("w").unwrap();
    let is_w = |sni| Arc::ptr_eq(&store.lookup(Some(sni), &[]).unwrap(), w.certified_key());
    assert!(is_w("www.example.com"));
    assert!(
        !is_w("ignored.test"),
        "filters replace the certificate's names"
    );
    assert_eq!(
        served(&store, Some("secret.example.com")).unwrap(),
        "default.test"
    );
    assert_eq!(
        served(&store, Some("admin.example.com")).unwrap(),
        "admin.example.com"
    );
}

#[test]
fn two_wildcards_for_one_domain_fall_through_exclusions() {
    let store = CertStore::new();
    store.add("d", ecdsa(&["default.test"])).unwrap();
    let a = SniFilters::parse(["*.example.com", "!x.example.com"]).unwrap();
    store.add_filtered("a", ecdsa(&["a.test"]), a).unwrap();
    store
        .add_filtered(
            "b",
            ecdsa(&["b.test"]),
            SniFilters::parse(["*.example.com"]).unwrap(),
        )
        .unwrap();
    let b = store.get("b").unwrap();
    assert!(Arc::ptr_eq(
        &store.lookup(Some("x.example.com"), &[]).unwrap(),
        b.certified_key()
    ));
    assert!(!Arc::ptr_eq(
        &store.lookup(Some("y.example.com"), &[]).unwrap(),
        b.certified_key()
    ));
}

#[test]
fn cn_is_used_without_san() {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "Legacy.Example.com");
    params
        .distinguished_name
        .push(DnType::OrganizationName, "Example, Inc.");
    let cert = params.self_signed(&key).unwrap();
    let cert = Cert::from_pem_parts(cert.pem().as_bytes(), key.serialize_pem().as_bytes()).unwrap();
    assert_eq!(cert.names(), ["legacy.example.com"]);
    assert_eq!(cert.subject(), "/CN=Legacy.Example.com/O=Example, Inc.");
}

#[test]
fn add_replace_remove_default() {
    let store = CertStore::new();
    store.add("a", ecdsa(&["a.test"])).unwrap();
    store.add("b", ecdsa(&["b.test"])).unwrap();
    assert!(matches!(
        store.add("a", ecdsa(&["x"])),
        Err(TlsError::DuplicateCert { .. })
    ));
    assert!(matches!(
        store.replace("zz", ecdsa(&["x"])),
        Err(TlsError::UnknownCert { .. })
    ));
    assert_eq!(
        served(&store, None).unwrap(),
        "a.test",
        "the first is the default"
    );
    store.set_default("b").unwrap();
    assert_eq!(served(&store, None).unwrap(), "b.test");
    let g = store.generation();
    store.replace("b", ecdsa(&["b2.test"])).unwrap();
    assert!(store.generation() > g);
    assert!(
        store
            .lookup(Some("b.test"), &[])
            .is_some_and(|k| Arc::ptr_eq(&k, store.get("b").unwrap().certified_key())),
        "unknown now: the default, which is the new b"
    );
    assert_eq!(served(&store, Some("b2.test")).unwrap(), "b2.test");
    store.remove("b").unwrap();
    assert_eq!(
        served(&store, None).unwrap(),
        "a.test",
        "default falls back to the first"
    );
    assert_eq!(store.ids().len(), 1);
    assert!(format!("{store:?}").contains("certs: 1"));
}

#[test]
fn failed_batch_changes_nothing() {
    let store = CertStore::new();
    store.add("a", ecdsa(&["a.test"])).unwrap();
    let g = store.generation();
    let err = store.update(|b| {
        b.remove("a")?;
        b.add("c", ecdsa(&["c.test"]))?;
        b.remove("nope")
    });
    assert!(err.is_err());
    assert_eq!(store.generation(), g);
    assert_eq!(served(&store, Some("a.test")).unwrap(), "a.test");
}

#[test]
fn transactions_stage_commit_abort() {
    let store = CertStore::new();
    store.add("a", ecdsa(&["a.test"])).unwrap();
    store.add("b", ecdsa(&["b.test"])).unwrap();
    assert!(matches!(
        store.stage("zz", ecdsa(&["x"])),
        Err(TlsError::UnknownCert { .. })
    ));
    store.stage("a", ecdsa(&["a-new.test"])).unwrap();
    assert_eq!(
        served(&store, Some("a.test")).unwrap(),
        "a.test",
        "staged is not live"
    );
    let err = store.stage("b", ecdsa(&["x"])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "a transaction is already in progress for \"a\""
    );
    assert!(matches!(
        store.commit("b"),
        Err(TlsError::NoTransaction { .. })
    ));
    assert_eq!(store.staged().as_deref(), Some("a"));
    store.commit("a").unwrap();
    assert_eq!(served(&store, Some("a-new.test")).unwrap(), "a-new.test");
    assert!(store.staged().is_none());

    store.stage("b", ecdsa(&["b-new.test"])).unwrap();
    store.abort("b").unwrap();
    assert!(matches!(
        store.abort("b"),
        Err(TlsError::NoTransaction { .. })
    ));
    assert_eq!(served(&store, Some("b.test")).unwrap(), "b.test");
}

#[test]
fn ocsp_set_and_cleared() {
    let store = CertStore::new();
    store.add("a", ecdsa(&["a.test"])).unwrap();
    store.set_ocsp("a", Some(vec![1, 2, 3])).unwrap();
    assert_eq!(
        store.lookup(Some("a.test"), &[]).unwrap().ocsp.as_deref(),
        Some(&[1, 2, 3][..])
    );
    store.set_ocsp("a", None).unwrap();
    assert!(store.lookup(Some("a.test"), &[]).unwrap().ocsp.is_none());
}

#[test]
fn load_files_dirs_and_extras() {
    let dir = temp_dir();
    let (c, k) = pem_pair(&["one.test"], &PKCS_ECDSA_P256_SHA256);
    std::fs::write(dir.join("1-one.pem"), format!("{c}{k}")).unwrap();
    // Key beside the certificate, replacing the extension.
    let (c, k) = pem_pair(&["two.test"], &PKCS_ECDSA_P256_SHA256);
    std::fs::write(dir.join("2-two.pem"), &c).unwrap();
    std::fs::write(dir.join("2-two.key"), &k).unwrap();
    // Key appended to the full name, plus an OCSP response.
    let (c, k) = pem_pair(&["three.test"], &PKCS_RSA_SHA256);
    std::fs::write(dir.join("3-three.crt"), &c).unwrap();
    std::fs::write(dir.join("3-three.crt.key"), &k).unwrap();
    std::fs::write(dir.join("3-three.crt.ocsp"), [0x30, 0x00]).unwrap();
    std::fs::write(dir.join(".hidden"), "junk").unwrap();

    let store = CertStore::new();
    store.load_crt(&dir).unwrap();
    assert_eq!(store.len(), 3);
    assert_eq!(
        served(&store, None).unwrap(),
        "one.test",
        "first file is the default"
    );
    let three = store.lookup_cert(Some("three.test"), &[]).unwrap();
    assert_eq!(three.ocsp(), Some(&[0x30, 0x00][..]));
    assert_eq!(three.algorithm(), SignatureAlgorithm::RSA);

    // Refresh the OCSP response from the file.
    std::fs::write(dir.join("3-three.crt.ocsp"), [0x30, 0x01, 0x00]).unwrap();
    let id = dir.join("3-three.crt").display().to_string();
    store.reload_ocsp(&id).unwrap();
    assert_eq!(
        store.get(&id).unwrap().ocsp(),
        Some(&[0x30, 0x01, 0x00][..])
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn crt_list_loads_with_filters_and_base() {
    let dir = temp_dir();
    let (c, k) = pem_pair(&["site.test"], &PKCS_ECDSA_P256_SHA256);
    std::fs::write(dir.join("site.pem"), format!("{c}{k}")).unwrap();
    let (c, k) = pem_pair(&["wild.test"], &PKCS_ECDSA_P256_SHA256);
    std::fs::write(dir.join("wild.pem"), format!("{k}{c}")).unwrap();
    let list = dir.join("list.txt");
    std::fs::write(
        &list,
        "site.pem\n\
         wild.pem [alpn h2] *.example.com !secret.example.com\n\
         wild.pem other.test\n",
    )
    .unwrap();
    let store = CertStore::new();
    store.load_crt_list(&list, Some(&dir)).unwrap();
    assert_eq!(store.len(), 2, "one certificate, two bindings");
    let wild_id = dir.join("wild.pem").display().to_string();
    let bindings = store.bindings(&wild_id).unwrap();
    assert_eq!(bindings.len(), 2);
    assert_eq!(&*bindings[0].options, ["alpn", "h2"]);
    assert_eq!(served(&store, Some("a.example.com")).unwrap(), "wild.test");
    assert_eq!(served(&store, Some("other.test")).unwrap(), "wild.test");
    assert_eq!(
        served(&store, Some("secret.example.com")).unwrap(),
        "site.test"
    );
    assert_eq!(
        served(&store, Some("wild.test")).unwrap(),
        "site.test",
        "filters replace names"
    );

    // A missing file names the crt-list line.
    std::fs::write(&list, "site.pem\nmissing.pem\n").unwrap();
    let err = CertStore::new()
        .load_crt_list(&list, Some(&dir))
        .unwrap_err();
    let msg = err.to_string();
    assert!(msg.starts_with(&format!("{}:2: ", list.display())), "{msg}");
    assert!(msg.contains("missing.pem"), "{msg}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn loading_errors_are_clear() {
    let dir = temp_dir();
    let (c, k) = pem_pair(&["a.test"], &PKCS_ECDSA_P256_SHA256);
    let (_, other_key) = pem_pair(&["b.test"], &PKCS_ECDSA_P256_SHA256);

    let no_key = dir.join("nokey.pem");
    std::fs::write(&no_key, &c).unwrap();
    let err = Cert::load(&no_key).unwrap_err();
    assert!(matches!(err, TlsError::NoPrivateKey { .. }), "{err}");
    assert!(
        err.to_string().contains("nokey.pem: no private key found"),
        "{err}"
    );

    let mismatch = dir.join("mismatch.pem");
    std::fs::write(&mismatch, format!("{c}{other_key}")).unwrap();
    let err = Cert::load(&mismatch).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}: the private key does not match the certificate",
            mismatch.display()
        )
    );

    let bad = dir.join("bad.pem");
    std::fs::write(&bad, format!("{}{k}", &c[..c.len() / 2])).unwrap();
    let err = Cert::load(&bad).unwrap_err();
    assert!(matches!(err, TlsError::Pem { .. }), "{err}");
    assert!(
        err.to_string()
            .starts_with(&format!("{}: bad PEM", bad.display())),
        "{err}"
    );

    let only_key = dir.join("onlykey.pem");
    std::fs::write(&only_key, &k).unwrap();
    assert!(matches!(
        Cert::load(&only_key),
        Err(TlsError::NoCertificate { .. })
    ));

    let garbage = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    let err = Cert::from_pem_parts(garbage.as_bytes(), k.as_bytes()).unwrap_err();
    assert!(
        matches!(err, TlsError::BadCertificate { index: 0, .. }),
        "{err}"
    );

    let missing = dir.join("missing.pem");
    let err = Cert::load(&missing).unwrap_err();
    assert!(matches!(err, TlsError::Read { .. }));
    assert!(err.to_string().contains("missing.pem"));
    std::fs::remove_dir_all(&dir).unwrap();
}
