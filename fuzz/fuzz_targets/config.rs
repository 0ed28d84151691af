//! Fuzzes the configuration parser: on any UTF-8 text it must return a configuration or
//! errors, never panic, and what it accepts must hold together (every route names an
//! existing backend of the same mode, every tracked server exists).
#![no_main]

use lb::config::Config;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let env = |name: &str| (name == "FUZZ").then(|| "127.0.0.1".to_owned());
    let config = match Config::parse_str("fuzz.cfg", text, &env) {
        Ok(config) => config,
        Err(errors) => {
            assert!(!errors.is_empty());
            // Every error renders.
            let _ = errors.to_string();
            return;
        }
    };
    for fe in &config.frontends {
        assert!(!fe.binds.is_empty());
        let routes = fe
            .default_backend
            .iter()
            .map(|r| &r.name)
            .chain(fe.use_backends.iter().map(|u| &u.backend));
        for name in routes {
            let be = config
                .backend(name)
                .expect("an accepted route names an existing backend");
            assert_eq!(be.mode, fe.mode);
        }
    }
    for be in &config.backends {
        for server in &be.servers {
            if let Some(t) = &server.track {
                let target = config.backend(&t.backend).and_then(|b| b.server(&t.server));
                assert!(
                    target.is_some(),
                    "an accepted track names an existing server"
                );
            }
        }
    }
});
