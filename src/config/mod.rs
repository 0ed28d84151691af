//! HAProxy-style configuration files, parsed into a typed model.
//!
//! lb reads the same configuration language as HAProxy (`haproxy.cfg`): `global`,
//! `defaults`, `frontend`, `backend` and `listen` sections of keyword lines. The parser
//! produces a [`Config`] of plain structs holding lb's own types ([`lb_core::Algorithm`],
//! [`lb_tcp::listen::BindSpec`], [`lb_http::client::ReuseMode`], ...), with `defaults`
//! already applied, so assembling the running services is a matter of reading fields. It
//! does not start anything.
//!
//! Every keyword lb does not implement is an error, never silently ignored, and all errors
//! are reported at once ([`ConfigErrors`]), each with its file, line and keyword:
//!
//! ```text
//! haproxy.cfg:12: 'balance': unknown algorithm 'roundrobbin' (expected one of roundrobin, ...)
//! haproxy.cfg:20: 'compression': not supported yet
//! ```
//!
//! # Examples
//! ```
//! use std::time::Duration;
//! use lb::config::{Config, Mode};
//! use lb::core::Algorithm;
//!
//! let text = r#"
//! defaults
//!     mode http
//!     timeout connect 5s
//!     timeout client 30s
//!     timeout server 30s
//!
//! frontend www
//!     bind :8080
//!     acl is_api path_beg /api/
//!     use_backend api if is_api
//!     default_backend web
//!
//! backend api
//!     balance leastconn
//!     server api1 "${API_HOST}:9001" check
//!
//! backend web
//!     server web1 127.0.0.1:9002 weight 3
//!     server web2 127.0.0.1:9003
//! "#;
//! let env = |name: &str| (name == "API_HOST").then(|| "10.0.0.5".to_string());
//! let config = Config::parse_str("haproxy.cfg", text, &env)?;
//!
//! let www = config.frontend("www").unwrap();
//! assert_eq!(www.mode, Mode::Http);
//! assert_eq!(www.timeouts.client, Some(Duration::from_secs(30)));
//! assert_eq!(&*www.default_backend.as_ref().unwrap().name, "web");
//!
//! let api = config.backend("api").unwrap();
//! assert_eq!(api.balance.algorithm, Algorithm::LeastConn);
//! assert_eq!(api.servers[0].address.to_string(), "10.0.0.5:9001");
//! assert!(api.servers[0].check.enabled);
//!
//! // Errors name the file, the line and the keyword.
//! let err = Config::parse_str("bad.cfg", "backend b\n  balance roundrobbin\n", &env)
//!     .unwrap_err();
//! assert!(err.to_string().starts_with(
//!     "bad.cfg:2: 'balance': unknown algorithm 'roundrobbin' (expected one of roundrobin,"
//! ));
//! # Ok::<(), lb::config::ConfigErrors>(())
//! ```
//!
//! # Organization
//! - [`Config::load`] and [`Config::parse_str`]: the entry points.
//! - The model: [`Config`], [`Global`], [`Frontend`], [`Backend`], [`Server`], [`Acl`],
//!   [`Condition`] and their parts; every item that can fail at runtime keeps its [`Span`].
//! - [`ConfigError`] (with its [`ErrorKind`]), [`ConfigErrors`], [`Warning`].
//! - [`units`]: HAProxy's time and size formats.
//!
//! # Syntax
//! Lines are split into words as HAProxy does (see its `parse_line`): `#` starts a comment,
//! `"double quotes"` group words and expand `"${VAR}"`, `"${VAR-default}"` and
//! `"${VAR[*]}"`, `'single quotes'` are literal, a backslash escapes a space, `#`, quotes
//! and `\`, and gives `\t`, `\n`, `\r`, `\xHH`. There is no line continuation. An
//! environment variable that is not set and has no default is an error (HAProxy expands it
//! to nothing).
//!
//! A proxy inherits the last `defaults` section above it, or the named one of `from NAME`.
//! Files are read in the order given, a directory's `*.cfg` files in lexical order, as if
//! they were one file, except that each file starts outside any section.
#![cfg(all(feature = "tcp", feature = "http"))]

mod acl;
mod error;
mod lexer;
mod model;
mod parse;
mod server;
pub mod units;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

pub use error::{ConfigError, ConfigErrors, ErrorKind, Warning};
pub use lexer::LexError;
pub use model::CheckProto;
pub use model::{
    Acl, AclRef, AclTest, AgentParams, Backend, BackendRef, Bind, BindTls, CheckKindConfig,
    CheckParams, ClientVerify, Condition, Config, ErrorFile, Facility, Fetch, Frontend, Global,
    HttpCheck, HttpCheckExpect, HttpCheckMatch, HttpCheckSend, HttpConnMode, HttpRequestAction,
    HttpRequestRule, LogDestination, LogLevel, LogTarget, Match, Mode, Observe, OnError, ProxyLog,
    SampleType, SectionKind, Server, ServerAddress, ServerTls, ServerVerify, Service, Span, Stats,
    StatsAuth, StatsLevel, StatsSocket, SyslogFormat, TcpCheckRuleConfig, TcpContentAction,
    TcpContentRule, Term, Timeouts, TlsVersion, TrackTarget, UseBackend,
};
pub use model::{DnPart, ValueFormat};

impl Config {
    /// Loads configuration files and directories, in order, with environment variables
    /// from the process environment.
    ///
    /// A directory contributes its `*.cfg` files (not its subdirectories), in lexical
    /// order of their names.
    ///
    /// # Errors
    /// Every error found: unreadable files, syntax errors, unsupported keywords, invalid
    /// values, dangling references.
    pub fn load(paths: &[PathBuf]) -> Result<Config, ConfigErrors> {
        Self::load_with_env(paths, &|name| std::env::var(name).ok())
    }

    /// As [`load`](Self::load), with environment variables looked up by `env`.
    ///
    /// # Errors
    /// As [`load`](Self::load).
    pub fn load_with_env(
        paths: &[PathBuf],
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigErrors> {
        if paths.is_empty() {
            return Err(ConfigError::file_error(
                "lb",
                ErrorKind::Invalid("no configuration file given".into()),
            )
            .into());
        }
        let mut parser = parse::Parser::new(env);
        for path in paths {
            if path.is_dir() {
                match cfg_files(path) {
                    Ok(files) => {
                        for file in files {
                            read_into(&mut parser, &file);
                        }
                    }
                    Err(e) => parser.file_error(read_error(path, &e)),
                }
            } else {
                read_into(&mut parser, path);
            }
        }
        parser.finish()
    }

    /// Parses one configuration text; `name` is the file name errors show (relative
    /// `errorfile` paths are resolved against its directory). `env` looks environment
    /// variables up (use `&|name| std::env::var(name).ok()` for the real ones).
    ///
    /// # Errors
    /// Every error found.
    pub fn parse_str(
        name: &str,
        text: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigErrors> {
        let mut parser = parse::Parser::new(env);
        parser.parse_file(name, text);
        parser.finish()
    }
}

fn read_error(path: &Path, e: &std::io::Error) -> ConfigError {
    ConfigError::file_error(
        path.display().to_string(),
        ErrorKind::Read {
            path: path.to_path_buf(),
            message: e.to_string(),
        },
    )
}

fn read_into(parser: &mut parse::Parser<'_>, path: &Path) {
    match std::fs::read_to_string(path) {
        Ok(text) => parser.parse_file(&path.display().to_string(), &text),
        Err(e) => parser.file_error(read_error(path, &e)),
    }
}

/// The `*.cfg` files of `dir`, sorted by name.
fn cfg_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_file() && path.extension().is_some_and(|e| e == "cfg") {
            files.push(path);
        }
    }
    files.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    Ok(files)
}
