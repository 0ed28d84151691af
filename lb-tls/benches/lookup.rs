//! Certificate lookup by SNI in a store of 50,000 names (45,000 exact, 5,000 wildcard
//! domains) spread over 100 certificates with crt-list style SNI filters.
//!
//! `cargo bench -p lb-tls --bench lookup`
#![allow(missing_docs)]

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use lb_tls::{Cert, CertStore, SniFilters};
use rustls::SignatureScheme;

const CERTS: usize = 100;
const EXACT_PER_CERT: usize = 450;
const WILDCARDS_PER_CERT: usize = 50;

fn cert(name: &str, alg: &'static rcgen::SignatureAlgorithm) -> Cert {
    let key = rcgen::KeyPair::generate_for(alg).expect("key");
    let c = rcgen::CertificateParams::new(vec![name.to_string()])
        .expect("params")
        .self_signed(&key)
        .expect("cert");
    Cert::from_pem_parts(c.pem().as_bytes(), key.serialize_pem().as_bytes()).expect("cert")
}

fn store() -> CertStore {
    let store = CertStore::new();
    store
        .update(|b| {
            b.add(
                "default",
                cert("default.test", &rcgen::PKCS_ECDSA_P256_SHA256),
            )?;
            for c in 0..CERTS {
                let mut words = Vec::new();
                for n in 0..EXACT_PER_CERT {
                    words.push(format!("host{n}.site{c}.example.com"));
                }
                for n in 0..WILDCARDS_PER_CERT {
                    words.push(format!("*.zone{n}.site{c}.example.net"));
                }
                let filters = SniFilters::parse(&words)?;
                let binding = lb_tls::Binding::with_filters(filters);
                b.add_with(
                    format!("cert{c}"),
                    cert(&format!("site{c}.test"), &rcgen::PKCS_ECDSA_P256_SHA256),
                    binding,
                )?;
            }
            // One name with both an RSA and an ECDSA certificate.
            b.add(
                "dual-rsa",
                cert("dual.example.org", &rcgen::PKCS_RSA_SHA256),
            )?;
            b.add(
                "dual-ec",
                cert("dual.example.org", &rcgen::PKCS_ECDSA_P256_SHA256),
            )
        })
        .expect("store");
    assert_eq!(
        store.name_count(),
        (CERTS * EXACT_PER_CERT + 2, CERTS * WILDCARDS_PER_CERT)
    );
    store
}

fn bench(c: &mut Criterion) {
    let store = store();
    // What a current browser offers.
    let schemes = [
        SignatureScheme::ECDSA_NISTP256_SHA256,
        SignatureScheme::RSA_PSS_SHA256,
        SignatureScheme::RSA_PKCS1_SHA256,
        SignatureScheme::ECDSA_NISTP384_SHA384,
        SignatureScheme::RSA_PSS_SHA384,
        SignatureScheme::RSA_PKCS1_SHA384,
        SignatureScheme::RSA_PSS_SHA512,
        SignatureScheme::RSA_PKCS1_SHA512,
    ];
    let rsa_only = [SignatureScheme::RSA_PSS_SHA256];
    let mut g = c.benchmark_group("lookup_50k_names");
    let cases = [
        ("exact", "host321.site77.example.com", &schemes[..]),
        ("wildcard", "api.zone42.site13.example.net", &schemes[..]),
        ("miss_default", "nowhere.example.org", &schemes[..]),
        ("no_sni_default", "", &schemes[..]),
        ("dual_ecdsa", "dual.example.org", &schemes[..]),
        ("dual_rsa_only_client", "dual.example.org", &rsa_only[..]),
    ];
    for (label, sni, schemes) in cases {
        let sni = (!sni.is_empty()).then_some(sni);
        assert!(store.lookup(sni, schemes).is_some());
        g.bench_function(label, |b| {
            b.iter(|| store.lookup(black_box(sni), black_box(schemes)))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
