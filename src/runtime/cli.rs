//! HAProxy's runtime API (the "CLI") on the `stats socket`s of the `global` section:
//! see [`Cli`].

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use lb_core::{Address, AdminState, OpState, Server, ServerConfig, Weight};
use lb_health::HealthHandle;
use lb_http::stats::{csv, StatsRegistry, StatsSnapshot};
use lb_tcp::listen::BindAddr;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tracing::Instrument;

use super::{Runtime, StartError};
use crate::config::{self, ServerAddress, StatsLevel};

/// The reason recorded in lb-core's events for every change made here.
const REASON: &str = "changed from the runtime API";

const PERMISSION_DENIED: &str = "Permission denied\n";
const REQUIRE_BACKEND_SERVER: &str = "Require 'backend/server'.\n";
const NO_SUCH_BACKEND: &str = "No such backend.\n";
const NO_SUCH_SERVER: &str = "No such server.\n";
const LINE_TOO_BIG: &str = "The command line is too big for the buffer size.\n\n";
const PAYLOAD_TOO_BIG: &str = "The payload is too big (or unterminated).\n\n";

/// Largest payload after `<<` (certificate chains with their key), in bytes.
const MAX_PAYLOAD: usize = 1024 * 1024;

/// HAProxy's runtime API over a running configuration: parses and runs commands.
///
/// Cheap to clone (an `Arc`). It holds handles to the backends, the statistics and the
/// health checkers of the [`Runtime`] it was made from, so keep it no longer than the
/// runtime (the runtime's own socket server drops its copy on [`Runtime::stop`]).
///
/// [`execute`](Self::execute) runs commands without any IO, so it is tested with plain
/// strings; [`serve`](Self::serve) runs one client session over any byte stream. The
/// runtime binds each configured `stats socket` (a Unix path, or `ipv4@`/`ipv6@` TCP)
/// and serves at most [`MAX_CONNECTIONS`](Self::MAX_CONNECTIONS) sessions on each.
///
/// # Protocol
///
/// As HAProxy's: a client sends one line, which may hold several commands separated by
/// `;` (`\;` and `\ ` escape), and reads the answers. Each command's answer ends with an
/// empty line (a command that succeeds silently answers the empty line alone). Without
/// `prompt` the connection closes after the first line; `prompt` switches to interactive
/// mode, where each answer is followed by a `> ` prompt and the session lasts until
/// `quit`, end of input or [`IDLE_TIMEOUT`](Self::IDLE_TIMEOUT) (HAProxy's default `stats
/// timeout`). Lines longer than [`MAX_LINE`](Self::MAX_LINE) are refused and close the
/// session.
///
/// # Commands
///
/// `help`, `prompt`, `quit`, `show info`, `show stat [<px> <type> <sid>] [up|no-maint]`
/// (the CSV of the stats page), `show servers state [<backend>]` (HAProxy's format 1 and
/// state codes), `show backend`, `show sess`, `get weight`, `set weight`, `set server
/// <bk>/<srv> state|weight|addr|health ...`, `set maxconn server`, `enable|disable
/// server`, `add server`, `del server`, `set ssl cert <file> <<` (the PEM chain and key
/// follow on the next lines, up to an empty line), `commit ssl cert <file>`, `abort ssl
/// cert <file>`, `show ssl cert [<file>]`. Errors are HAProxy's texts (`No such backend.`,
/// `No such server.`, `Require 'backend/server'.`, `Unknown command: ...` with the usage).
///
/// # Levels
///
/// A socket's `level` bounds what its clients may run: `user` reads (`show info`, `show
/// stat`, `show servers state`, `show backend`, `get weight`), `operator` also lists
/// sessions (`show sess`), `admin` also changes servers (`set ...`, `enable`/`disable
/// server`, `add`/`del server`) and runs every `ssl cert` command. Anything above the
/// level answers `Permission denied`, and `help` lists only what the level allows.
///
/// Every change goes through lb-core's [`Backend`](lb_core::Backend) control API with the
/// reason "changed from the runtime API", so events, logs and statistics show it.
///
/// # Differences from HAProxy
///
/// - `show sess` lists no individual sessions (lb counts sessions, it does not keep a
///   list of them): it prints the current session count of every frontend, backend and
///   server instead.
/// - `show stat` has no `typed`/`json` formats; `show info` prints a subset of HAProxy's
///   fields.
/// - Not implemented: `set maxconn frontend|global`, `enable|disable health|agent`,
///   `set server ... agent|agent-*|check-*|fqdn|ssl`, `shutdown sessions`, tables, maps,
///   ACLs, `new|del ssl cert`, `show errors`. They answer an error.
/// - Certificates are named by their path as the configuration resolved it (see `show ssl
///   cert`), or by a unique suffix of it (`site.pem`). A committed certificate is used by
///   new handshakes; established connections keep theirs. One transaction at a time.
/// - `add server` accepts `weight`, `maxconn`, `maxqueue`, `backup`, `no-backup`,
///   `disabled`, `id` and `slowstart`; health checks cannot be attached to a server added
///   at runtime yet. As in HAProxy the new server starts in maintenance: `enable server`
///   or `set server ... state ready` puts it in service.
/// - `show servers state` reports the maintenance flag as forced (0x01) even when it
///   came from `disabled` in the configuration (HAProxy's 0x04), and agent-check state
///   flags approximately.
///
/// # Examples
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use lb::config::{Config, StatsLevel};
/// use lb::runtime::{Cli, Runtime};
///
/// let text = "backend app\n  balance roundrobin\n  server web1 127.0.0.1:8001\n";
/// let config = Config::parse_str("inline.cfg", text, &|_| None)?;
/// let runtime = Runtime::start(config, None).await?;
/// let cli = Cli::new(&runtime);
/// assert_eq!(cli.execute("set server app/web1 state drain", StatsLevel::Admin), "\n");
/// let denied = cli.execute("set server app/web1 state maint", StatsLevel::User);
/// assert_eq!(denied, "Permission denied\n\n");
/// runtime.stop(std::time::Duration::ZERO).await;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Cli {
    inner: Arc<Inner>,
}

struct Inner {
    backends: Vec<BackendInfo>,
    frontends: Vec<Arc<str>>,
    registry: StatsRegistry,
    started: SystemTime,
    maxconn: Option<u32>,
    nbthread: Option<u32>,
    listeners: usize,
    /// The certificate stores of the `bind ... ssl` lines.
    cert_stores: Vec<Arc<lb_tls::CertStore>>,
}

struct BackendInfo {
    name: Arc<str>,
    /// The proxy id (`iid` in the statistics).
    id: u32,
    backend: lb_core::Backend,
    health: Option<Arc<HealthHandle>>,
    /// What the configuration says about its servers beyond lb-core's view.
    servers: HashMap<Arc<str>, ServerExtra>,
}

#[derive(Clone, Debug)]
struct ServerExtra {
    fqdn: Option<Arc<str>>,
    forced_id: bool,
    rise: u32,
    check_port: u16,
    check_addr: Option<IpAddr>,
    agent_port: u16,
    tracking: bool,
}

impl std::fmt::Debug for Cli {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.inner.backends.iter().map(|b| &*b.name).collect();
        f.debug_struct("Cli")
            .field("backends", &names)
            .field("frontends", &self.inner.frontends)
            .finish()
    }
}

/// What a session remembers between lines.
#[derive(Clone, Copy, Debug)]
struct Session {
    level: StatsLevel,
    prompt: bool,
    quit: bool,
}

impl Session {
    fn new(level: StatsLevel) -> Self {
        Session {
            level,
            prompt: false,
            quit: false,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cmd {
    Help,
    Prompt,
    Quit,
    ShowInfo,
    ShowStat,
    ShowServersState,
    ShowBackend,
    ShowSess,
    GetWeight,
    SetWeight,
    SetServer,
    SetMaxconnServer,
    EnableServer,
    DisableServer,
    AddServer,
    DelServer,
    SetSslCert,
    CommitSslCert,
    AbortSslCert,
    ShowSslCert,
}

struct Spec {
    words: &'static [&'static str],
    usage: &'static str,
    help: &'static str,
    level: StatsLevel,
    cmd: Cmd,
}

const fn spec(
    words: &'static [&'static str],
    usage: &'static str,
    help: &'static str,
    level: StatsLevel,
    cmd: Cmd,
) -> Spec {
    Spec {
        words,
        usage,
        help,
        level,
        cmd,
    }
}

/// The commands, in `help` order (HAProxy's usage strings).
const COMMANDS: &[Spec] = &[
    spec(
        &["help"],
        "help [<command>]",
        "list matching or all commands",
        StatsLevel::User,
        Cmd::Help,
    ),
    spec(
        &["prompt"],
        "prompt",
        "toggle interactive mode with prompt",
        StatsLevel::User,
        Cmd::Prompt,
    ),
    spec(&["quit"], "quit", "disconnect", StatsLevel::User, Cmd::Quit),
    spec(
        &["show", "info"],
        "show info",
        "report information about the running process",
        StatsLevel::User,
        Cmd::ShowInfo,
    ),
    spec(
        &["show", "stat"],
        "show stat [<px> <type> <sid>] [up|no-maint]",
        "report counters for each proxy and server",
        StatsLevel::User,
        Cmd::ShowStat,
    ),
    spec(
        &["show", "servers", "state"],
        "show servers state [<backend>]",
        "dump volatile server information (all or for a single backend)",
        StatsLevel::User,
        Cmd::ShowServersState,
    ),
    spec(
        &["show", "backend"],
        "show backend",
        "list backends in the current running config",
        StatsLevel::User,
        Cmd::ShowBackend,
    ),
    spec(
        &["show", "sess"],
        "show sess",
        "report the number of current sessions per proxy and server",
        StatsLevel::Operator,
        Cmd::ShowSess,
    ),
    spec(
        &["get", "weight"],
        "get weight <bk>/<srv>",
        "report a server's current weight",
        StatsLevel::User,
        Cmd::GetWeight,
    ),
    spec(
        &["set", "weight"],
        "set weight <bk>/<srv>  (DEPRECATED)",
        "change a server's weight (use 'set server' instead)",
        StatsLevel::Admin,
        Cmd::SetWeight,
    ),
    spec(
        &["set", "server"],
        "set server <bk>/<srv> [opts]",
        "change a server's state, weight, address or health",
        StatsLevel::Admin,
        Cmd::SetServer,
    ),
    spec(
        &["set", "maxconn", "server"],
        "set maxconn server <bk>/<srv>",
        "change a server's maxconn setting",
        StatsLevel::Admin,
        Cmd::SetMaxconnServer,
    ),
    spec(
        &["enable", "server"],
        "enable server  (DEPRECATED)",
        "enable a disabled server (use 'set server' instead)",
        StatsLevel::Admin,
        Cmd::EnableServer,
    ),
    spec(
        &["disable", "server"],
        "disable server (DEPRECATED)",
        "disable a server for maintenance (use 'set server' instead)",
        StatsLevel::Admin,
        Cmd::DisableServer,
    ),
    spec(
        &["add", "server"],
        "add server <bk>/<srv>",
        "create a new server",
        StatsLevel::Admin,
        Cmd::AddServer,
    ),
    spec(
        &["del", "server"],
        "del server <bk>/<srv>",
        "remove a server",
        StatsLevel::Admin,
        Cmd::DelServer,
    ),
    spec(
        &["set", "ssl", "cert"],
        "set ssl cert <certfile> <payload>",
        "replace a certificate file",
        StatsLevel::Admin,
        Cmd::SetSslCert,
    ),
    spec(
        &["commit", "ssl", "cert"],
        "commit ssl cert <certfile>",
        "commit a certificate file",
        StatsLevel::Admin,
        Cmd::CommitSslCert,
    ),
    spec(
        &["abort", "ssl", "cert"],
        "abort ssl cert <certfile>",
        "abort a transaction for a certificate file",
        StatsLevel::Admin,
        Cmd::AbortSslCert,
    ),
    spec(
        &["show", "ssl", "cert"],
        "show ssl cert [<certfile>]",
        "display the SSL certificates used in memory, or the details of a file",
        StatsLevel::Admin,
        Cmd::ShowSslCert,
    ),
];

impl Cli {
    /// Most concurrent sessions on one socket; further clients wait in the listen queue.
    pub const MAX_CONNECTIONS: usize = 100;
    /// Longest accepted command line, in bytes (HAProxy's default `tune.bufsize`).
    pub const MAX_LINE: usize = 16 * 1024;
    /// A session waiting this long for a line (or for the client to read an answer) is
    /// closed (HAProxy's default `stats timeout`).
    pub const IDLE_TIMEOUT: Duration = Duration::from_secs(10);

    /// The runtime API of `runtime`.
    pub fn new(runtime: &Runtime) -> Cli {
        let snap = runtime.registry.snapshot();
        let mut backends = Vec::new();
        for be in &runtime.config.backends {
            let Some(backend) = runtime.backends.get(&be.name) else {
                continue;
            };
            let id = snap
                .rows
                .iter()
                .find(|r| r.pxname == *be.name)
                .map_or(0, |r| r.iid);
            let health = runtime
                .health
                .iter()
                .find(|(n, _)| *n == be.name)
                .map(|(_, h)| h.clone());
            let servers = be
                .servers
                .iter()
                .map(|s| (s.name.clone(), ServerExtra::of(s)))
                .collect();
            backends.push(BackendInfo {
                name: be.name.clone(),
                id,
                backend: backend.clone(),
                health,
                servers,
            });
        }
        Cli {
            inner: Arc::new(Inner {
                backends,
                frontends: runtime
                    .config
                    .frontends
                    .iter()
                    .map(|f| f.name.clone())
                    .collect(),
                registry: runtime.registry.clone(),
                started: runtime.started,
                maxconn: runtime.config.global.maxconn,
                nbthread: runtime.config.global.nbthread,
                listeners: runtime.config.frontends.iter().map(|f| f.binds.len()).sum(),
                cert_stores: runtime.cert_stores.clone(),
            }),
        }
    }

    /// Runs one line as a fresh non-interactive session at `level` would, and returns
    /// exactly what the client reads: each command's answer followed by an empty line.
    /// A line ending with `<<` is followed by its payload after a newline
    /// (`"set ssl cert site.pem <<\n<PEM>"`), without the terminating empty line.
    ///
    /// # Examples
    /// See [`Cli`].
    pub fn execute(&self, line: &str, level: StatsLevel) -> String {
        self.run_line(line, &mut Session::new(level))
    }

    /// Serves one client on `io` at `level` until it quits, goes idle for
    /// [`IDLE_TIMEOUT`](Self::IDLE_TIMEOUT), sends a line longer than
    /// [`MAX_LINE`](Self::MAX_LINE), or, outside interactive mode, after its first line.
    ///
    /// # Errors
    /// Read and write errors of `io`.
    pub async fn serve<S>(&self, io: S, level: StatsLevel) -> io::Result<()>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let (r, mut w) = tokio::io::split(io);
        let mut r = BufReader::new(r);
        let mut session = Session::new(level);
        let mut line = Vec::new();
        loop {
            line.clear();
            let read = tokio::time::timeout(
                Self::IDLE_TIMEOUT,
                read_line(&mut r, &mut line, Self::MAX_LINE),
            )
            .await;
            let (out, last) = match read {
                Err(_idle) => break,
                Ok(Err(e)) => return Err(e),
                Ok(Ok(ReadLine::Eof)) => break,
                Ok(Ok(ReadLine::TooLong)) => (LINE_TOO_BIG.to_owned(), true),
                Ok(Ok(ReadLine::Line)) => {
                    let mut text = String::from_utf8_lossy(&line).into_owned();
                    text.truncate(text.trim_end_matches('\r').len());
                    if text.trim_end().ends_with("<<") {
                        // A payload follows, up to an empty line (`set ssl cert f <<`).
                        match read_payload(&mut r).await? {
                            Some(payload) => {
                                text.push('\n');
                                text.push_str(&payload);
                            }
                            None => {
                                let out = PAYLOAD_TOO_BIG.to_owned();
                                let _ = tokio::time::timeout(
                                    Self::IDLE_TIMEOUT,
                                    w.write_all(out.as_bytes()),
                                )
                                .await;
                                break;
                            }
                        }
                    }
                    let out = self.run_line(&text, &mut session);
                    (out, session.quit || !session.prompt)
                }
            };
            match tokio::time::timeout(Self::IDLE_TIMEOUT, w.write_all(out.as_bytes())).await {
                Ok(r) => r?,
                Err(_idle) => break,
            }
            if last {
                break;
            }
        }
        let _ = tokio::time::timeout(Self::IDLE_TIMEOUT, w.shutdown()).await;
        Ok(())
    }

    fn run_line(&self, line: &str, session: &mut Session) -> String {
        let mut out = String::new();
        // `<command> <<` then a payload on the next lines: one command, not split on `;`.
        if let Some((head, payload)) = line
            .split_once('\n')
            .and_then(|(h, p)| Some((h.trim_end().strip_suffix("<<")?, p)))
        {
            let words = tokenize(head);
            let args: Vec<&str> = words.iter().map(String::as_str).collect();
            let answer = self.command(&args, Some(payload), session.level);
            out.push_str(&answer);
            if !answer.is_empty() && !answer.ends_with('\n') {
                out.push('\n');
            }
            out.push('\n');
            if session.prompt {
                out.push_str("> ");
            }
            return out;
        }
        for cmd in split_commands(line) {
            let words = tokenize(&cmd);
            let args: Vec<&str> = words.iter().map(String::as_str).collect();
            match args.first() {
                None => continue,
                Some(&"quit") => {
                    session.quit = true;
                    return out;
                }
                Some(&"prompt") => session.prompt = !session.prompt,
                Some(_) => {
                    let answer = self.command(&args, None, session.level);
                    out.push_str(&answer);
                    if !answer.is_empty() && !answer.ends_with('\n') {
                        out.push('\n');
                    }
                }
            }
            out.push('\n');
        }
        if session.prompt {
            out.push_str("> ");
        }
        out
    }

    /// Runs one command (its words, and the payload after `<<`) and returns its answer,
    /// without the final empty line.
    fn command(&self, args: &[&str], payload: Option<&str>, level: StatsLevel) -> String {
        let Some(spec) = COMMANDS
            .iter()
            .find(|s| args.len() >= s.words.len() && s.words.iter().zip(args).all(|(w, a)| w == a))
        else {
            return unknown(args, level);
        };
        if level < spec.level {
            return PERMISSION_DENIED.into();
        }
        let rest = &args[spec.words.len()..];
        let result = match spec.cmd {
            Cmd::Help => Ok(help(rest, level)),
            // Session commands are handled by the caller.
            Cmd::Prompt | Cmd::Quit => Ok(String::new()),
            Cmd::ShowInfo => Ok(self.show_info()),
            Cmd::ShowStat => self.show_stat(rest),
            Cmd::ShowServersState => self.show_servers_state(rest.first().copied()),
            Cmd::ShowBackend => Ok(self.show_backend()),
            Cmd::ShowSess => Ok(self.show_sess()),
            Cmd::GetWeight => self.get_weight(rest.first().copied()),
            Cmd::SetWeight => self.set_weight_cmd(rest),
            Cmd::SetServer => self.set_server(rest),
            Cmd::SetMaxconnServer => self.set_maxconn(rest),
            Cmd::EnableServer => self.set_admin(rest.first().copied(), AdminState::Ready),
            Cmd::DisableServer => self.set_admin(rest.first().copied(), AdminState::Maint),
            Cmd::AddServer => self.add_server(rest),
            Cmd::DelServer => self.del_server(rest.first().copied()),
            Cmd::SetSslCert => self.set_ssl_cert(rest, payload),
            Cmd::CommitSslCert => self.commit_ssl_cert(rest.first().copied()),
            Cmd::AbortSslCert => self.abort_ssl_cert(rest.first().copied()),
            Cmd::ShowSslCert => self.show_ssl_cert(rest.first().copied()),
        };
        result.unwrap_or_else(|e| e)
    }

    /// The certificate id (its file path) that `file` names: the path itself, or the
    /// only one ending with `/<file>`.
    fn cert_id(&self, file: &str) -> Result<Arc<str>, String> {
        let ids: Vec<Arc<str>> = self
            .inner
            .cert_stores
            .iter()
            .flat_map(|s| s.ids())
            .collect();
        if let Some(id) = ids.iter().find(|id| ***id == *file) {
            return Ok(id.clone());
        }
        let suffix = format!("/{file}");
        let mut matching: Vec<&Arc<str>> = ids.iter().filter(|id| id.ends_with(&suffix)).collect();
        matching.sort();
        matching.dedup();
        match matching[..] {
            [id] => Ok(id.clone()),
            [_, _, ..] => Err(format!(
                "'{file}' names several certificates: give the full path (see 'show ssl cert').\n"
            )),
            [] => Err(
                "Can't replace a certificate which is not referenced by the configuration!\n"
                    .into(),
            ),
        }
    }

    /// The certificate with a staged update, if any.
    fn ssl_transaction(&self) -> Option<Arc<str>> {
        self.inner.cert_stores.iter().find_map(|s| s.staged())
    }

    /// `set ssl cert <file> <<` + PEM payload: stages a new certificate (chain and key)
    /// in every store that uses `<file>`, for `commit ssl cert`.
    fn set_ssl_cert(&self, args: &[&str], payload: Option<&str>) -> Result<String, String> {
        const USAGE: &str = "'set ssl cert' expects a filename and a certificate as a payload \
                             ('set ssl cert <file> <<' then the PEM and an empty line)\n";
        let (Some(file), Some(payload)) = (args.first(), payload) else {
            return Err(USAGE.into());
        };
        let id = self.cert_id(file)?;
        let ongoing = self.ssl_transaction();
        if let Some(other) = ongoing.as_ref().filter(|o| **o != id) {
            return Err(format!(
                "The ongoing transaction is about '{other}' but you are trying to set '{id}'\n"
            ));
        }
        let cert = lb_tls::Cert::from_pem(payload.as_bytes())
            .map_err(|e| format!("Can't update {id}: {e}\n"))?;
        let stores: Vec<&Arc<lb_tls::CertStore>> = self
            .inner
            .cert_stores
            .iter()
            .filter(|s| s.get(&id).is_some())
            .collect();
        for (i, store) in stores.iter().enumerate() {
            if let Err(e) = store.stage(&id, cert.clone()) {
                // All the binds using the file, or none: undo a new transaction.
                if ongoing.is_none() {
                    for staged in &stores[..i] {
                        let _ = staged.abort(&id);
                    }
                }
                return Err(format!("Can't update {id}: {e}\n"));
            }
        }
        Ok(if ongoing.is_some() {
            format!("Transaction updated for certificate {id}!\n")
        } else {
            format!("Transaction created for certificate {id}!\n")
        })
    }

    /// `commit ssl cert <file>`: new handshakes use the staged certificate; established
    /// connections keep theirs.
    fn commit_ssl_cert(&self, file: Option<&str>) -> Result<String, String> {
        let file = file.ok_or("'commit ssl cert' expects a filename\n")?;
        let id = self.cert_id(file)?;
        match self.ssl_transaction() {
            None => return Err("No ongoing transaction!\n".into()),
            Some(other) if other != id => {
                return Err(format!(
                    "The ongoing transaction is about '{other}' but you are trying to set \
                     '{id}'\n"
                ))
            }
            Some(_) => {}
        }
        for store in &self.inner.cert_stores {
            if store.staged().as_deref() == Some(&*id) {
                store
                    .commit(&id)
                    .map_err(|e| format!("Committing {id}\nFailed: {e}\n"))?;
            }
        }
        tracing::info!(certificate = %id, "certificate replaced from the runtime API");
        Ok(format!("Committing {id}\nSuccess!\n"))
    }

    /// `abort ssl cert <file>`: drops the staged certificate.
    fn abort_ssl_cert(&self, file: Option<&str>) -> Result<String, String> {
        let file = file.ok_or("'abort ssl cert' expects a filename\n")?;
        let id = self.cert_id(file)?;
        let mut aborted = false;
        for store in &self.inner.cert_stores {
            aborted |= store.abort(&id).is_ok();
        }
        if aborted {
            Ok(format!("Transaction aborted for certificate '{id}'!\n"))
        } else {
            Err("No ongoing transaction!\n".into())
        }
    }

    /// `show ssl cert [<file>]`: the certificate files (and the one with a staged
    /// update), or one certificate's details.
    fn show_ssl_cert(&self, file: Option<&str>) -> Result<String, String> {
        let Some(file) = file else {
            let mut out = String::from("# transaction\n");
            if let Some(id) = self.ssl_transaction() {
                let _ = writeln!(out, "*{id}");
            }
            out.push_str("# filename\n");
            let mut ids: Vec<Arc<str>> = self
                .inner
                .cert_stores
                .iter()
                .flat_map(|s| s.ids())
                .collect();
            ids.sort();
            ids.dedup();
            for id in ids {
                let _ = writeln!(out, "{id}");
            }
            return Ok(out);
        };
        let id = self.cert_id(file)?;
        let cert = self
            .inner
            .cert_stores
            .iter()
            .find_map(|s| s.get(&id))
            .ok_or("Can't display a certificate which is not referenced by the configuration!\n")?;
        let mut out = String::new();
        let _ = writeln!(out, "Filename: {id}");
        let _ = writeln!(out, "Status: Used");
        let _ = writeln!(out, "NotAfter: {}", cert.not_after());
        let _ = writeln!(out, "Subject: {}", cert.subject());
        let names: Vec<String> = cert.names().iter().map(|n| format!("DNS:{n}")).collect();
        let _ = writeln!(out, "Subject Alternative Name: {}", names.join(", "));
        Ok(out)
    }

    fn find_backend(&self, name: &str) -> Option<&BackendInfo> {
        let by_id = name.strip_prefix('#').and_then(|id| id.parse::<u32>().ok());
        self.inner.backends.iter().find(|b| match by_id {
            Some(id) => b.id == id,
            None => &*b.name == name,
        })
    }

    /// Resolves `backend/server` (either part may be `#<id>`), with HAProxy's errors.
    fn find_server(&self, arg: Option<&str>) -> Result<(&BackendInfo, Arc<Server>), String> {
        let (be, srv) = match arg.and_then(|a| a.split_once('/')) {
            Some((b, s)) if !b.is_empty() && !s.is_empty() => (b, s),
            _ => return Err(REQUIRE_BACKEND_SERVER.into()),
        };
        let be = self.find_backend(be).ok_or(NO_SUCH_BACKEND)?;
        let server = match srv.strip_prefix('#').and_then(|id| id.parse::<u32>().ok()) {
            Some(id) => be
                .backend
                .snapshot()
                .servers()
                .iter()
                .find(|s| s.id().0 == id)
                .cloned(),
            None => be.backend.server(srv),
        };
        Ok((be, server.ok_or(NO_SUCH_SERVER)?))
    }

    fn show_info(&self) -> String {
        let snap = self.inner.registry.snapshot();
        let info = &snap.info;
        let up = info.uptime.as_secs();
        let threads = self.inner.nbthread.map_or_else(
            || std::thread::available_parallelism().map_or(1, |n| n.get()),
            |n| n as usize,
        );
        let start = self
            .inner
            .started
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut out = String::new();
        let mut kv = |k: &str, v: &dyn std::fmt::Display| {
            let _ = writeln!(out, "{k}: {v}");
        };
        kv("Name", &info.name);
        kv("Version", &info.version);
        kv("Nbthread", &threads);
        kv("Nbproc", &1);
        kv("Process_num", &1);
        kv("Pid", &info.pid);
        kv(
            "Uptime",
            &format_args!(
                "{}d {}h{:02}m{:02}s",
                up / 86400,
                up / 3600 % 24,
                up / 60 % 60,
                up % 60
            ),
        );
        kv("Uptime_sec", &up);
        kv("Maxconn", &self.inner.maxconn.unwrap_or(0));
        kv("CurrConns", &info.current_conns);
        kv("CumConns", &info.total_conns);
        kv("CumReq", &info.total_requests);
        kv("Stopping", &0);
        kv("Listeners", &self.inner.listeners);
        kv("Start_time_sec", &start);
        out
    }

    fn show_stat(&self, args: &[&str]) -> Result<String, String> {
        // `{<iid>|<proxy>} <type> <sid>` comes first when given.
        let flag = |a: &str| matches!(a, "up" | "no-maint" | "desc" | "typed" | "json");
        if let [px, ty, sid, ..] = *args {
            if flag(px) {
                return self.show_stat_flags(None, args);
            }
            let px = match px {
                "-1" => None,
                _ => Some(self.proxy_id(px).ok_or("No such proxy.\n")?),
            };
            let ty = match ty.parse::<i32>() {
                Ok(-1) => 0xff,
                Ok(t) if (0..=0xff).contains(&t) => t as u8,
                _ => return Err("Invalid <type>: expected -1 or a mask of 1, 2 and 4.\n".into()),
            };
            let sid = match sid.parse::<i64>() {
                Ok(-1) => None,
                Ok(s) if s >= 0 => Some(u32::try_from(s).unwrap_or(u32::MAX)),
                _ => return Err("Invalid <sid>: expected -1 or a server id.\n".into()),
            };
            return self.show_stat_flags(Some((px, ty, sid)), &args[3..]);
        }
        self.show_stat_flags(None, args)
    }

    /// `show stat` within `scope` (proxy id, type mask, server id), with `flags`.
    fn show_stat_flags(
        &self,
        scope: Option<(Option<u32>, u8, Option<u32>)>,
        flags: &[&str],
    ) -> Result<String, String> {
        let mut snap: StatsSnapshot = self.inner.registry.snapshot();
        for flag in flags {
            match *flag {
                "up" => snap = snap.hide_down_servers(),
                "no-maint" => snap
                    .rows
                    .retain(|r| r.kind.code() != 2 || !r.status.starts_with("MAINT")),
                "desc" => {}
                "typed" | "json" => {
                    return Err(format!("'show stat {flag}' is not supported by lb.\n"))
                }
                other => return Err(format!("Unknown 'show stat' option '{other}'.\n")),
            }
        }
        if let Some((px, ty, sid)) = scope {
            snap.rows.retain(|r| {
                let bit = 1u8 << r.kind.code();
                px.is_none_or(|id| id == r.iid)
                    && ty & bit != 0
                    && (r.kind.code() != 2 || sid.is_none_or(|s| s == r.sid))
            });
        }
        Ok(csv::render(&snap))
    }

    /// The id of a frontend or backend, by name or number.
    fn proxy_id(&self, px: &str) -> Option<u32> {
        let snap = self.inner.registry.snapshot();
        match px.parse::<u32>() {
            Ok(id) => snap.rows.iter().find(|r| r.iid == id).map(|r| r.iid),
            Err(_) => snap.rows.iter().find(|r| r.pxname == px).map(|r| r.iid),
        }
    }

    fn show_servers_state(&self, backend: Option<&str>) -> Result<String, String> {
        let list: Vec<&BackendInfo> = match backend {
            Some(name) => vec![self.find_backend(name).ok_or("Can't find backend.\n")?],
            None => self.inner.backends.iter().collect(),
        };
        let now = tokio::time::Instant::now();
        let mut out = String::from(
            "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state \
             srv_uweight srv_iweight srv_time_since_last_change srv_check_status \
             srv_check_result srv_check_health srv_check_state srv_agent_state \
             bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl \
             srv_check_port srv_check_addr srv_agent_addr srv_agent_port\n",
        );
        for be in list {
            for s in be.backend.snapshot().servers() {
                let extra = be.servers.get(s.name()).cloned().unwrap_or_default();
                let health = be.health.as_ref().and_then(|h| h.state(s.name()));
                let addr = s.address();
                let (ip, port) = match addr.as_inet() {
                    Some(sa) => (sa.ip().to_string(), sa.port()),
                    None => ("-".to_owned(), 0),
                };
                let op = match s.op_state() {
                    OpState::Down | OpState::GoingUp => 0,
                    OpState::Stopping => 3,
                    _ if s.warmup_ends(now).is_some() => 1,
                    _ => 2,
                };
                let admin = match s.admin_state() {
                    AdminState::Ready => 0,
                    AdminState::Maint => 0x01,
                    AdminState::Drain => 0x08,
                };
                let (status, result, check_health, check_state, agent_state) = match &health {
                    Some(h) => {
                        let st = h.status();
                        let mut state = if h.has_check() { 0x06 } else { 0 };
                        if h.has_check() && s.admin_state() == AdminState::Maint {
                            // CHK_ST_PAUSED: checks stop in maintenance.
                            state |= 0x08;
                        }
                        let agent = if h.has_agent() { 0x16 } else { 0 };
                        (
                            check_status_code(st.as_str()),
                            check_result_code(st.as_str()),
                            h.health(),
                            state,
                            agent,
                        )
                    }
                    // HAProxy's unchecked servers: INI, no result, health at `rise`
                    // while up.
                    None => (
                        1,
                        0,
                        if s.op_state().is_up() { extra.rise } else { 0 },
                        0,
                        0,
                    ),
                };
                let _ = writeln!(
                    out,
                    "{} {} {} {} {} {} {} {} {} {} {} {} {} {} {} {} {} {} {} - 0 {} {} - {}",
                    be.id,
                    be.name,
                    s.id(),
                    s.name(),
                    ip,
                    op,
                    admin,
                    s.weight().get(),
                    s.initial_weight().get(),
                    s.since_last_change(now).as_secs(),
                    status,
                    result,
                    check_health,
                    check_state,
                    agent_state,
                    0,
                    u8::from(extra.forced_id),
                    extra.fqdn.as_deref().unwrap_or("-"),
                    port,
                    extra.check_port,
                    extra
                        .check_addr
                        .map_or_else(|| "-".to_owned(), |a| a.to_string()),
                    extra.agent_port,
                );
            }
        }
        Ok(out)
    }

    fn show_backend(&self) -> String {
        let mut out = String::from("# name\n");
        for be in &self.inner.backends {
            out.push_str(&be.name);
            out.push('\n');
        }
        out
    }

    fn show_sess(&self) -> String {
        let snap = self.inner.registry.snapshot();
        let mut out = String::from(
            "# lb counts sessions but does not list them: current sessions per proxy and server\n\
             # pxname svname scur\n",
        );
        for r in &snap.rows {
            let _ = writeln!(out, "{} {} {}", r.pxname, r.svname, r.scur);
        }
        out
    }

    fn get_weight(&self, arg: Option<&str>) -> Result<String, String> {
        let (_, s) = self.find_server(arg)?;
        Ok(format!(
            "{} (initial {})\n",
            s.weight().get(),
            s.initial_weight().get()
        ))
    }

    fn set_weight_cmd(&self, args: &[&str]) -> Result<String, String> {
        let (be, s) = self.find_server(args.first().copied())?;
        self.set_weight(be, &s, args.get(1).copied())
    }

    /// HAProxy's `server_parse_weight_change_request`.
    fn set_weight(
        &self,
        be: &BackendInfo,
        s: &Server,
        arg: Option<&str>,
    ) -> Result<String, String> {
        let arg = arg.unwrap_or("");
        if arg.is_empty() {
            return Err("Require <weight> or <weight%>.\n".into());
        }
        let initial = i64::from(s.initial_weight().get());
        let (w, rest) = strtol(arg).ok_or("Empty weight string empty or preceded by garbage")?;
        let w = if rest == "%" {
            if w < 0 {
                return Err("Relative weight must be positive.\n".into());
            }
            (initial * w.min(25600) / 100).min(256)
        } else if !(0..=256).contains(&w) {
            return Err("Absolute weight can only be between 0 and 256 inclusive.\n".into());
        } else if !rest.is_empty() {
            return Err("Trailing garbage in weight string".into());
        } else {
            w
        };
        if w != 0 && w != initial && !be.backend.config().is_dynamic() {
            return Err(
                "Backend is using a static LB algorithm and only accepts weights '0%' and '100%'.\n"
                    .into(),
            );
        }
        let weight = u32::try_from(w)
            .ok()
            .and_then(|w| Weight::new(w).ok())
            .ok_or("Absolute weight can only be between 0 and 256 inclusive.\n")?;
        be.backend
            .set_weight(s.name(), weight, REASON)
            .map_err(|e| format!("{e}.\n"))?;
        Ok(String::new())
    }

    fn set_server(&self, args: &[&str]) -> Result<String, String> {
        let (be, s) = self.find_server(args.first().copied())?;
        let value = args.get(2).copied();
        match args.get(1).copied().unwrap_or("") {
            "weight" => self.set_weight(be, &s, value),
            "state" => {
                let state = match value {
                    Some("ready") => AdminState::Ready,
                    Some("drain") => AdminState::Drain,
                    Some("maint") => AdminState::Maint,
                    _ => {
                        return Err(
                            "'set server <srv> state' expects 'ready', 'drain' and 'maint'.\n"
                                .into(),
                        )
                    }
                };
                be.backend
                    .set_admin_state(s.name(), state, REASON)
                    .map_err(|e| format!("{e}.\n"))?;
                Ok(String::new())
            }
            "health" => {
                if be.servers.get(s.name()).is_some_and(|x| x.tracking) {
                    return Err("cannot change health on a tracking server.\n".into());
                }
                let state = match value {
                    Some("up") => OpState::Up,
                    Some("stopping") => OpState::Stopping,
                    Some("down") => OpState::Down,
                    _ => {
                        return Err(
                            "'set server <srv> health' expects 'up', 'stopping', or 'down'.\n"
                                .into(),
                        )
                    }
                };
                be.backend
                    .set_op_state(s.name(), state, REASON)
                    .map_err(|e| format!("{e}.\n"))?;
                Ok(String::new())
            }
            "addr" => set_addr(be, &s, &args[2..]),
            sub @ ("agent" | "agent-addr" | "agent-port" | "agent-send" | "check-addr"
            | "check-port" | "fqdn" | "ssl") => Err(format!(
                "'set server <srv> {sub}' is not supported by lb yet.\n"
            )),
            _ => Err(
                "usage: set server <backend>/<server> addr | agent | agent-addr | \
                 agent-port | agent-send | check-addr | check-port | fqdn | health | ssl | \
                 state | weight\n"
                    .into(),
            ),
        }
    }

    fn set_maxconn(&self, args: &[&str]) -> Result<String, String> {
        let (be, s) = self.find_server(args.first().copied())?;
        let arg = args.get(1).copied().unwrap_or("");
        if arg.is_empty() {
            return Err("Require <maxconn>.\n".into());
        }
        let (v, rest) = strtol(arg).ok_or("maxconn string empty")?;
        if !rest.is_empty() {
            return Err("Trailing garbage in maxconn string".into());
        }
        let v = u32::try_from(v).map_err(|_| "maxconn must be between 0 and 4294967295.\n")?;
        be.backend
            .set_maxconn(s.name(), v, REASON)
            .map_err(|e| format!("{e}.\n"))?;
        Ok(String::new())
    }

    fn set_admin(&self, arg: Option<&str>, state: AdminState) -> Result<String, String> {
        let (be, s) = self.find_server(arg)?;
        be.backend
            .set_admin_state(s.name(), state, REASON)
            .map_err(|e| format!("{e}.\n"))?;
        Ok(String::new())
    }

    /// `add server <bk>/<srv> <addr:port> [kw value]...`, HAProxy's checks in its order.
    fn add_server(&self, args: &[&str]) -> Result<String, String> {
        let (be, name) = match args.first().and_then(|a| a.split_once('/')) {
            Some((b, s)) if !s.is_empty() => (b, s),
            _ => return Err(REQUIRE_BACKEND_SERVER.into()),
        };
        let be = self.find_backend(be).ok_or(NO_SUCH_BACKEND)?;
        if !be.backend.config().is_dynamic() {
            return Err(
                "Backend must use a dynamic load balancing to support dynamic servers.\n".into(),
            );
        }
        let addr = args
            .get(1)
            .ok_or("'server' expects <name> and <addr>[:<port>] as arguments.\n")?;
        let address: Address = addr.parse().map_err(|e| format!("{e}.\n"))?;
        // Dynamic servers start in maintenance, as in HAProxy.
        let mut cfg = ServerConfig::new(name, address).admin(AdminState::Maint);
        let mut i = 2;
        while let Some(&kw) = args.get(i) {
            let value = args.get(i + 1).copied();
            let number = |what: &str| -> Result<u32, String> {
                value
                    .and_then(|v| v.parse::<u32>().ok())
                    .ok_or_else(|| format!("'{what}' expects an integer argument.\n"))
            };
            match kw {
                "weight" => {
                    let w = number(kw)?;
                    if w > 256 {
                        return Err(
                            "weight of server must be between 0 and 256 inclusive.\n".into()
                        );
                    }
                    cfg = cfg.weight(w);
                    i += 2;
                }
                "maxconn" => {
                    cfg = cfg.maxconn(number(kw)?);
                    i += 2;
                }
                "maxqueue" => {
                    cfg = cfg.maxqueue(number(kw)?);
                    i += 2;
                }
                "id" => {
                    let id = number(kw)?;
                    if id == 0 {
                        return Err("custom id 0 reserved for internal usage.\n".into());
                    }
                    cfg = cfg.id(id);
                    i += 2;
                }
                "slowstart" => {
                    let d = value
                        .ok_or("'slowstart' expects a time argument.\n")
                        .and_then(|v| {
                            config::units::parse_time(v)
                                .map_err(|_| "'slowstart' expects a time argument.\n")
                        })?;
                    cfg = cfg.slowstart(d);
                    i += 2;
                }
                "backup" => {
                    cfg = cfg.backup(true);
                    i += 1;
                }
                "no-backup" => {
                    cfg = cfg.backup(false);
                    i += 1;
                }
                "disabled" => i += 1,
                "enabled" | "no-check" => {
                    return Err(format!(
                        "'{kw}' option is not accepted for dynamic server\n"
                    ))
                }
                "check" | "agent-check" | "track" | "ssl" | "send-proxy" | "send-proxy-v2"
                | "cookie" | "inter" | "fastinter" | "downinter" | "rise" | "fall" | "port"
                | "addr" | "observe" | "source" | "init-state" => {
                    return Err(format!(
                        "'{kw}' is not supported for servers added at runtime by lb yet.\n"
                    ))
                }
                other => return Err(format!("unknown keyword '{other}'.\n")),
            }
        }
        match be.backend.add_server(cfg, REASON) {
            Ok(_) => Ok("New server registered.\n".into()),
            Err(lb_core::Error::DuplicateServer { .. }) => {
                Err("Already exists a server with the same name in backend.\n".into())
            }
            Err(lb_core::Error::DuplicateId { id, .. }) => Err(format!(
                "'server {}/{name}' : custom id {id} already used.\n",
                be.name
            )),
            Err(e) => Err(format!("{e}.\n")),
        }
    }

    fn del_server(&self, arg: Option<&str>) -> Result<String, String> {
        let (be, s) = self.find_server(arg)?;
        if s.admin_state() != AdminState::Maint {
            return Err("Only servers in maintenance mode can be deleted.\n".into());
        }
        let queued = s.stats().queued.load(std::sync::atomic::Ordering::Relaxed);
        if s.stats().inflight() > 0 || queued > 0 {
            return Err("Server still has connections attached to it, cannot remove it.\n".into());
        }
        be.backend
            .remove_server(s.name(), REASON)
            .map_err(|_| NO_SUCH_SERVER)?;
        if let Some(h) = &be.health {
            h.remove(s.name());
        }
        Ok("Server deleted.\n".into())
    }
}

impl Default for ServerExtra {
    /// A server added at runtime: HAProxy's defaults.
    fn default() -> Self {
        ServerExtra {
            fqdn: None,
            forced_id: false,
            rise: 2,
            check_port: 0,
            check_addr: None,
            agent_port: 0,
            tracking: false,
        }
    }
}

impl ServerExtra {
    fn of(s: &config::Server) -> Self {
        ServerExtra {
            fqdn: match &s.address {
                ServerAddress::Host { name, .. } => Some(name.clone()),
                _ => None,
            },
            forced_id: s.id.is_some(),
            rise: if s.check.rise == 0 { 2 } else { s.check.rise },
            check_port: s.check.port.unwrap_or(0),
            check_addr: s.check.addr,
            agent_port: s.check.agent.port.unwrap_or(0),
            tracking: s.track.is_some(),
        }
    }
}

/// `set server <bk>/<srv> addr <ip> [port <port>]`, with HAProxy's answers.
fn set_addr(be: &BackendInfo, s: &Server, args: &[&str]) -> Result<String, String> {
    let Some(&ip) = args.first().filter(|a| !a.is_empty()) else {
        return Err("set server <b>/<s> addr requires an address and optionally a port.\n".into());
    };
    let ip: IpAddr = ip.parse().map_err(|_| format!("Invalid addr '{ip}'\n"))?;
    let port = match args.get(1) {
        Some(&"port") => {
            let p = args.get(2).copied().unwrap_or("");
            let (n, rest) = strtol(p).ok_or("provided port is not an integer\n")?;
            if !rest.is_empty() {
                return Err("provided port is not an integer\n".into());
            }
            Some(u16::try_from(n).map_err(|_| "provided port is not valid\n")?)
        }
        _ => None,
    };
    let old = s.address();
    let old = old.as_inet();
    let Some(new_port) = port.or(old.map(|a| a.port())) else {
        return Err(format!(
            "server '{}' has no port to keep: use 'addr <ip> port <port>'.\n",
            s.name()
        ));
    };
    let mut changes = Vec::new();
    if old.map(|a| a.ip()) != Some(ip) {
        let from = old.map_or_else(|| s.address().to_string(), |a| a.ip().to_string());
        changes.push(format!("IP changed from '{from}' to '{ip}'"));
    }
    if port.is_some() && old.map(|a| a.port()) != Some(new_port) {
        let from = old.map_or(0, |a| a.port());
        changes.push(format!("port changed from '{from}' to '{new_port}'"));
    }
    if changes.is_empty() {
        let what = if port.is_some() {
            "addr and port"
        } else {
            "addr"
        };
        return Ok(format!("no need to change the {what}\n"));
    }
    be.backend
        .set_address(
            s.name(),
            Address::Inet(SocketAddr::new(ip, new_port)),
            REASON,
        )
        .map_err(|e| format!("{e}.\n"))?;
    Ok(format!(
        "{} by 'stats socket command'\n",
        changes.join(", ")
    ))
}

/// HAProxy's `HCHK_STATUS_*` number of a check status.
fn check_status_code(status: &str) -> u8 {
    match status {
        "INI" => 1,
        "HANA" => 4,
        "SOCKERR" => 5,
        "L4OK" => 6,
        "L4TOUT" => 7,
        "L4CON" => 8,
        "L6OK" => 9,
        "L6TOUT" => 10,
        "L6RSP" => 11,
        "L7TOUT" => 12,
        "L7RSP" => 13,
        "L7OK" => 15,
        "L7OKC" => 16,
        "L7STS" => 17,
        _ => 0,
    }
}

/// HAProxy's `CHK_RES_*`: 0 unknown, 2 failed, 3 passed, 4 conditionally passed.
fn check_result_code(status: &str) -> u8 {
    match status {
        "UNK" | "INI" => 0,
        "L4OK" | "L6OK" | "L7OK" => 3,
        "L7OKC" => 4,
        _ => 2,
    }
}

/// C's `strtol` in base 10: optional blanks and sign, digits (saturating), and the rest.
/// None when there are no digits.
fn strtol(s: &str) -> Option<(i64, &str)> {
    let t = s.trim_start_matches([' ', '\t']);
    let (neg, t) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let end = t.bytes().take_while(u8::is_ascii_digit).count();
    if end == 0 {
        return None;
    }
    let n = t[..end].bytes().fold(0i64, |n, d| {
        n.saturating_mul(10).saturating_add(i64::from(d - b'0'))
    });
    Some((if neg { -n } else { n }, &t[end..]))
}

/// Splits a line into commands at `;`, keeping escapes for [`tokenize`].
fn split_commands(line: &str) -> Vec<String> {
    let mut cmds = Vec::new();
    let mut cur = String::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                cur.push(c);
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            ';' => cmds.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    cmds.push(cur);
    cmds
}

/// Splits a command into words at blanks; `\` escapes the next character.
fn tokenize(cmd: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = cmd.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                in_word = true;
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            ' ' | '\t' => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            _ => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    words
}

fn visible(level: StatsLevel) -> impl Iterator<Item = &'static Spec> {
    COMMANDS.iter().filter(move |s| s.level <= level)
}

fn usage_lines<'a>(specs: impl Iterator<Item = &'a Spec>) -> String {
    let mut out = String::new();
    for s in specs {
        let _ = writeln!(out, "  {:<40}: {}", s.usage, s.help);
    }
    out
}

/// `help [<command>]`: the commands allowed at `level`, those starting with the given
/// words when any match.
fn help(words: &[&str], level: StatsLevel) -> String {
    let matching: Vec<&Spec> = visible(level)
        .filter(|s| words.iter().zip(s.words).all(|(a, w)| a == w))
        .collect();
    let list = if words.is_empty() || matching.is_empty() {
        usage_lines(visible(level))
    } else {
        usage_lines(matching.into_iter())
    };
    format!("The following commands are valid at this level:\n{list}")
}

/// HAProxy's answer to an unknown command: the commands sharing its first word, or all.
fn unknown(args: &[&str], level: StatsLevel) -> String {
    let first = args.first().copied().unwrap_or("");
    let matching: Vec<&Spec> = visible(level).filter(|s| s.words[0] == first).collect();
    if matching.is_empty() {
        format!(
            "Unknown command: '{first}'. Please enter one of the following commands only:\n{}",
            usage_lines(visible(level))
        )
    } else {
        format!(
            "Unknown command: '{first}', but maybe one of the following ones is a better match:\n{}",
            usage_lines(matching.into_iter())
        )
    }
}

#[derive(Debug, PartialEq, Eq)]
enum ReadLine {
    Line,
    TooLong,
    Eof,
}

/// Reads up to a newline (not kept) into `buf`, at most `max` bytes. A last line without
/// a newline counts as a line.
async fn read_line<R: AsyncBufRead + Unpin>(
    r: &mut R,
    buf: &mut Vec<u8>,
    max: usize,
) -> io::Result<ReadLine> {
    loop {
        let avail = r.fill_buf().await?;
        if avail.is_empty() {
            return Ok(if buf.is_empty() {
                ReadLine::Eof
            } else {
                ReadLine::Line
            });
        }
        let (take, done) = match avail.iter().position(|&b| b == b'\n') {
            Some(i) => (i, true),
            None => (avail.len(), false),
        };
        if buf.len() + take > max {
            return Ok(ReadLine::TooLong);
        }
        buf.extend_from_slice(&avail[..take]);
        r.consume(if done { take + 1 } else { take });
        if done {
            return Ok(ReadLine::Line);
        }
    }
}

/// Reads a payload: lines up to an empty one (not kept), at most [`MAX_PAYLOAD`] bytes.
/// `None` when it is too big or the input ends first.
async fn read_payload<R: AsyncBufRead + Unpin>(r: &mut R) -> io::Result<Option<String>> {
    let mut payload = String::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        let left = MAX_PAYLOAD.saturating_sub(payload.len());
        let read = tokio::time::timeout(Cli::IDLE_TIMEOUT, read_line(r, &mut line, left)).await;
        match read {
            Err(_idle) => return Ok(None),
            Ok(r) => match r? {
                ReadLine::Eof | ReadLine::TooLong => return Ok(None),
                ReadLine::Line => {}
            },
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches('\r');
        if text.is_empty() {
            return Ok(Some(payload));
        }
        payload.push_str(text);
        payload.push('\n');
    }
}

/// The `stats socket` listeners of a running configuration.
///
/// Dropping it (or [`stop`](Self::stop)) aborts the accept loops and their sessions and
/// removes the socket files it created, unless another configuration has replaced them
/// since (reload).
#[derive(Debug, Default)]
pub(super) struct CliServer {
    tasks: JoinSet<()>,
    files: Vec<SocketFile>,
}

/// A Unix socket file we created, identified so that we never remove a successor's.
#[derive(Debug)]
struct SocketFile {
    path: PathBuf,
    dev: u64,
    ino: u64,
}

enum CliListener {
    Unix(tokio::net::UnixListener),
    Tcp(tokio::net::TcpListener),
}

impl CliServer {
    /// Binds every `stats socket` of `runtime`'s configuration and serves them.
    ///
    /// A Unix socket is bound under a temporary name, given its `mode`, then renamed over
    /// the configured path, which replaces a stale socket (or the previous
    /// configuration's) atomically; a path holding anything but a socket is an error.
    ///
    /// # Errors
    /// [`StartError::Bind`] for a socket that cannot be bound, [`StartError::Unsupported`]
    /// for an in-memory address.
    pub(super) fn start(runtime: &Runtime) -> Result<CliServer, StartError> {
        let sockets = &runtime.config.global.stats_sockets;
        let mut server = CliServer::default();
        if sockets.is_empty() {
            return Ok(server);
        }
        let cli = Cli::new(runtime);
        for s in sockets {
            let (file, line) = (s.span.file.clone(), s.span.line);
            let bind_error = |source: io::Error| StartError::Bind {
                file: file.clone(),
                line,
                spec: s.address.to_string(),
                source,
            };
            let listener = match &s.address {
                BindAddr::Unix(path) => {
                    let (l, f) = bind_unix(path, s.mode).map_err(bind_error)?;
                    server.files.push(f);
                    CliListener::Unix(l)
                }
                BindAddr::Inet { ip, ports } => {
                    let l = std::net::TcpListener::bind(SocketAddr::new(*ip, ports.first()))
                        .and_then(|l| {
                            l.set_nonblocking(true)?;
                            tokio::net::TcpListener::from_std(l)
                        })
                        .map_err(bind_error)?;
                    CliListener::Tcp(l)
                }
                _ => {
                    return Err(StartError::Unsupported {
                        file: file.clone(),
                        line,
                        what: format!("stats socket on '{}'", s.address),
                    })
                }
            };
            let span = tracing::info_span!("cli", socket = %s.address);
            server
                .tasks
                .spawn(accept_loop(listener, cli.clone(), s.level).instrument(span));
        }
        Ok(server)
    }

    /// Stops serving: aborts the accept loops and sessions, removes our socket files.
    pub(super) fn stop(&mut self) {
        self.tasks.abort_all();
        for f in self.files.drain(..) {
            let ours = std::fs::symlink_metadata(&f.path)
                .is_ok_and(|m| m.dev() == f.dev && m.ino() == f.ino);
            if ours {
                let _ = std::fs::remove_file(&f.path);
            }
        }
    }
}

impl Drop for CliServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn bind_unix(path: &Path, mode: Option<u32>) -> io::Result<(tokio::net::UnixListener, SocketFile)> {
    if let Ok(m) = std::fs::symlink_metadata(path) {
        if !m.file_type().is_socket() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "the path exists and is not a socket",
            ));
        }
    }
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?;
    let mut tmp_name = name.to_os_string();
    tmp_name.push(format!(".{}.tmp", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    let _ = std::fs::remove_file(&tmp);
    let std_listener = std::os::unix::net::UnixListener::bind(&tmp)?;
    let placed = match mode {
        Some(m) => std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(m)),
        None => Ok(()),
    }
    .and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = placed {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    let meta = std::fs::symlink_metadata(path)?;
    std_listener.set_nonblocking(true)?;
    let listener = tokio::net::UnixListener::from_std(std_listener)?;
    Ok((
        listener,
        SocketFile {
            path: path.to_owned(),
            dev: meta.dev(),
            ino: meta.ino(),
        },
    ))
}

/// Accepts clients while fewer than [`Cli::MAX_CONNECTIONS`] sessions run.
async fn accept_loop(listener: CliListener, cli: Cli, level: StatsLevel) {
    let permits = Arc::new(Semaphore::new(Cli::MAX_CONNECTIONS));
    let mut sessions = JoinSet::new();
    loop {
        while sessions.try_join_next().is_some() {}
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return;
        };
        let accepted = match &listener {
            CliListener::Unix(l) => l.accept().await.map(|(s, _)| Conn::Unix(s)),
            CliListener::Tcp(l) => l.accept().await.map(|(s, _)| Conn::Tcp(s)),
        };
        let conn = match accepted {
            Ok(c) => c,
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!(error = %e, "cannot accept a CLI client");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let cli = cli.clone();
        sessions.spawn(
            async move {
                let _permit = permit;
                let done = match conn {
                    Conn::Unix(s) => cli.serve(s, level).await,
                    Conn::Tcp(s) => cli.serve(s, level).await,
                };
                if let Err(e) = done {
                    tracing::debug!(error = %e, "CLI session ended");
                }
            }
            .in_current_span(),
        );
    }
}

enum Conn {
    Unix(tokio::net::UnixStream),
    Tcp(tokio::net::TcpStream),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    const CONFIG: &str = "\
backend app
    balance roundrobin
    server web1 127.0.0.1:8001 weight 10
    server web2 127.0.0.1:8002 id 7
    server web3 127.0.0.1:9 check inter 60s

backend fixed
    balance static-rr
    server s1 127.0.0.1:8101 weight 4
";

    async fn runtime() -> Runtime {
        let config = Config::parse_str("cli.cfg", CONFIG, &|_| None).expect("valid config");
        Runtime::start(config, None).await.expect("starts")
    }

    fn admin(cli: &Cli, line: &str) -> String {
        cli.execute(line, StatsLevel::Admin)
    }

    /// The fields of `server`'s line in `show servers state`.
    fn state_of(cli: &Cli, server: &str) -> Vec<String> {
        let out = admin(cli, "show servers state");
        out.lines()
            .map(|l| l.split(' ').map(str::to_owned).collect::<Vec<_>>())
            .find(|f| f.len() > 3 && f[3] == server)
            .unwrap_or_else(|| panic!("no line for {server} in\n{out}"))
    }

    #[test]
    fn lines_split_into_commands_and_words() {
        assert_eq!(split_commands("a b; c\\;d ;"), ["a b", " c\\;d ", ""]);
        assert_eq!(
            tokenize("  set  server a/b\\ c\tstate "),
            ["set", "server", "a/b c", "state"]
        );
        assert_eq!(tokenize("x\\;y"), ["x;y"]);
        assert!(tokenize("   ").is_empty());
        assert_eq!(strtol("42%"), Some((42, "%")));
        assert_eq!(strtol(" -3x"), Some((-3, "x")));
        assert_eq!(strtol("+7"), Some((7, "")));
        assert_eq!(strtol("x1"), None);
        assert_eq!(
            strtol("99999999999999999999999").map(|(n, _)| n),
            Some(i64::MAX)
        );
    }

    #[tokio::test]
    async fn help_lists_what_the_level_allows() {
        let rt = runtime().await;
        let cli = Cli::new(&rt);
        let out = cli.execute("help", StatsLevel::User);
        assert!(out.starts_with("The following commands are valid at this level:\n"));
        assert!(out.contains(
            "  help [<command>]                        : list matching or all commands\n"
        ));
        assert!(out.contains("  show info "));
        assert!(!out.contains("set server"), "{out}");
        assert!(!out.contains("show sess"), "{out}");
        assert!(out.ends_with("\n\n"));
        let out = cli.execute("help", StatsLevel::Operator);
        assert!(out.contains("show sess") && !out.contains("add server"));
        let out = admin(&cli, "help");
        for c in [
            "set server",
            "set weight",
            "add server",
            "del server",
            "set maxconn server",
        ] {
            assert!(out.contains(c), "{c} missing from\n{out}");
        }
        let out = admin(&cli, "help show");
        assert!(
            out.contains("show stat") && !out.contains("set server"),
            "{out}"
        );
    }

    #[tokio::test]
    async fn unknown_commands_answer_with_the_usage() {
        let rt = runtime().await;
        let cli = Cli::new(&rt);
        let out = admin(&cli, "frobnicate now");
        assert!(
            out.starts_with(
                "Unknown command: 'frobnicate'. Please enter one of the following commands only:\n  help"
            ),
            "{out}"
        );
        let out = admin(&cli, "show nothing");
        assert!(
            out.starts_with(
                "Unknown command: 'show', but maybe one of the following ones is a better match:\n"
            ),
            "{out}"
        );
        assert!(out.contains("show servers state") && !out.contains("  help"));
        assert!(admin(&cli, "set maxconn frontend fe 10").starts_with("Unknown command: 'set'"));
    }

    #[tokio::test]
    async fn levels_bound_the_commands() {
        let rt = runtime().await;
        let cli = Cli::new(&rt);
        for line in [
            "set server app/web1 state maint",
            "set weight app/web1 5",
            "disable server app/web1",
            "enable server app/web1",
            "set maxconn server app/web1 10",
            "add server app/web9 127.0.0.1:9009",
            "del server app/web1",
        ] {
            assert_eq!(
                cli.execute(line, StatsLevel::Operator),
                "Permission denied\n\n",
                "{line}"
            );
            assert_eq!(
                cli.execute(line, StatsLevel::User),
                "Permission denied\n\n",
                "{line}"
            );
        }
        assert_eq!(
            cli.execute("show sess", StatsLevel::User),
            "Permission denied\n\n"
        );
        assert!(cli
            .execute("show sess", StatsLevel::Operator)
            .contains("app web1 0\n"));
        assert!(cli
            .execute("show info", StatsLevel::User)
            .starts_with("Name: lb\n"));
        assert!(cli
            .execute("get weight app/web1", StatsLevel::User)
            .starts_with("10 (initial 10)"));
        // Nothing changed.
        let web1 = rt.backend("app").unwrap().server("web1").unwrap();
        assert_eq!(web1.admin_state(), AdminState::Ready);
        assert_eq!(web1.weight().get(), 10);
    }

    #[tokio::test]
    async fn show_info_stat_backend_and_sess() {
        let rt = runtime().await;
        let cli = Cli::new(&rt);
        let info = admin(&cli, "show info");
        let keys: Vec<&str> = info
            .lines()
            .filter_map(|l| l.split_once(": "))
            .map(|(k, _)| k)
            .collect();
        for k in [
            "Name",
            "Version",
            "Pid",
            "Uptime",
            "Uptime_sec",
            "CurrConns",
            "CumConns",
            "CumReq",
            "Maxconn",
        ] {
            assert!(keys.contains(&k), "{k} missing from\n{info}");
        }
        assert!(info.contains(&format!("Pid: {}\n", std::process::id())));
        assert!(info.contains("Uptime: 0d 0h00m"));
        assert!(info.ends_with("\n\n"));

        let stat = admin(&cli, "show stat");
        assert!(
            stat.starts_with("# pxname,svname,qcur,qmax,scur,"),
            "{stat}"
        );
        assert!(stat.lines().any(|l| l.starts_with("app,web2,")));
        assert!(stat.lines().any(|l| l.starts_with("fixed,BACKEND,")));
        assert!(stat.ends_with("\n\n"));
        // Servers of `app` only; then everything again.
        let only = admin(&cli, "show stat app 4 -1");
        let rows: Vec<&str> = only.lines().skip(1).filter(|l| !l.is_empty()).collect();
        assert_eq!(rows.len(), 3, "{only}");
        assert!(rows.iter().all(|r| r.starts_with("app,web")));
        let names = |csv: &str| -> Vec<String> {
            csv.lines()
                .map(|l| l.split(',').take(2).collect::<Vec<_>>().join(","))
                .collect()
        };
        assert_eq!(names(&admin(&cli, "show stat -1 -1 -1")), names(&stat));
        assert_eq!(names(&admin(&cli, "show stat up desc")), names(&stat));
        assert_eq!(admin(&cli, "show stat nope 1 -1"), "No such proxy.\n\n");
        admin(&cli, "disable server app/web2");
        let up = admin(&cli, "show stat no-maint");
        assert!(!up.contains("app,web2,") && up.contains("app,web1,"));

        assert_eq!(admin(&cli, "show backend"), "# name\napp\nfixed\n\n");
        let sess = admin(&cli, "show sess");
        assert!(sess.starts_with("# lb counts sessions"), "{sess}");
        assert!(sess.contains("app BACKEND 0\n") && sess.contains("fixed s1 0\n"));
    }

    #[tokio::test]
    async fn show_servers_state_uses_haproxy_codes() {
        let rt = runtime().await;
        let cli = Cli::new(&rt);
        let out = admin(&cli, "show servers state");
        let mut lines = out.lines();
        assert_eq!(lines.next(), Some("1"));
        assert_eq!(
            lines.next(),
            Some(
                "# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state \
                 srv_uweight srv_iweight srv_time_since_last_change srv_check_status \
                 srv_check_result srv_check_health srv_check_state srv_agent_state \
                 bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl \
                 srv_check_port srv_check_addr srv_agent_addr srv_agent_port"
            )
        );
        assert!(out.ends_with("\n\n"));
        let web1 = state_of(&cli, "web1");
        assert_eq!(web1.len(), 25, "{web1:?}");
        assert_eq!(web1[1], "app");
        assert_eq!(web1[2], "1");
        assert_eq!(&web1[4..9], ["127.0.0.1", "2", "0", "10", "10"]);
        assert_eq!(web1[16], "0");
        assert_eq!(web1[18], "8001");
        let web2 = state_of(&cli, "web2");
        assert_eq!((web2[2].as_str(), web2[16].as_str()), ("7", "1"));
        // A checked server has a configured, enabled check.
        assert_eq!(state_of(&cli, "web3")[13], "6");
        assert_eq!(state_of(&cli, "web1")[13], "0");

        admin(&cli, "set server app/web1 state maint");
        assert_eq!(state_of(&cli, "web1")[6], "1");
        admin(&cli, "set server app/web1 state drain");
        assert_eq!(state_of(&cli, "web1")[6], "8");
        admin(&cli, "set server app/web1 state ready");
        admin(&cli, "set server app/web1 health down");
        assert_eq!(&state_of(&cli, "web1")[5..7], ["0", "0"]);
        admin(&cli, "set server app/web1 health stopping");
        assert_eq!(state_of(&cli, "web1")[5], "3");
        admin(&cli, "set server app/web1 health up");
        assert_eq!(state_of(&cli, "web1")[5], "2");

        let one = admin(&cli, "show servers state fixed");
        assert_eq!(one.lines().filter(|l| !l.is_empty()).count(), 3, "{one}");
        assert!(one.contains(" fixed 1 s1 127.0.0.1 2 0 4 4 "));
        assert_eq!(
            admin(&cli, "show servers state nope"),
            "Can't find backend.\n\n"
        );
    }

    #[tokio::test]
    async fn set_server_state_and_errors() {
        let rt = runtime().await;
        let cli = Cli::new(&rt);
        let be = rt.backend("app").unwrap();
        let mut events = be.subscribe();
        assert_eq!(admin(&cli, "set server app/web1 state maint"), "\n");
        assert_eq!(be.server("web1").unwrap().admin_state(), AdminState::Maint);
        let ev = std::iter::from_fn(|| events.try_recv().ok())
            .find(|e| &*e.server == "web1")
            .expect("an event");
        assert_eq!(&*ev.reason, REASON);
        assert_eq!(admin(&cli, "set server app/web1 state ready"), "\n");
        assert_eq!(be.server("web1").unwrap().admin_state(), AdminState::Ready);
        assert_eq!(admin(&cli, "disable server app/web2"), "\n");
        assert_eq!(be.server("web2").unwrap().admin_state(), AdminState::Maint);
        assert_eq!(admin(&cli, "enable server app/web2"), "\n");
        assert_eq!(be.server("web2").unwrap().admin_state(), AdminState::Ready);

        let id = state_of(&cli, "web2")[0].clone();
        assert_eq!(
            admin(&cli, &format!("set server #{id}/#7 state drain")),
            "\n"
        );
        assert_eq!(be.server("web2").unwrap().admin_state(), AdminState::Drain);

        assert_eq!(
            admin(&cli, "set server app state maint"),
            "Require 'backend/server'.\n\n"
        );
        assert_eq!(admin(&cli, "set server"), "Require 'backend/server'.\n\n");
        assert_eq!(
            admin(&cli, "set server nope/web1 state maint"),
            "No such backend.\n\n"
        );
        assert_eq!(
            admin(&cli, "set server app/nope state maint"),
            "No such server.\n\n"
        );
        assert_eq!(
            admin(&cli, "set server app/web1 state sleepy"),
            "'set server <srv> state' expects 'ready', 'drain' and 'maint'.\n\n"
        );
        assert_eq!(
            admin(&cli, "set server app/web1 health meh"),
            "'set server <srv> health' expects 'up', 'stopping', or 'down'.\n\n"
        );
        assert!(admin(&cli, "set server app/web1 frob")
            .starts_with("usage: set server <backend>/<server> addr"));
        assert!(admin(&cli, "set server app/web1 agent up").contains("not supported"));
    }

    #[tokio::test]
    async fn weights_absolute_relative_and_static() {
        let rt = runtime().await;
        let cli = Cli::new(&rt);
        let web1 = || rt.backend("app").unwrap().server("web1").unwrap();
        assert_eq!(admin(&cli, "set weight app/web1 20"), "\n");
        assert_eq!(web1().weight().get(), 20);
        // Percentages are relative to the initial weight (10).
        assert_eq!(admin(&cli, "set server app/web1 weight 50%"), "\n");
        assert_eq!(web1().weight().get(), 5);
        assert_eq!(admin(&cli, "set weight app/web1 10000%"), "\n");
        assert_eq!(web1().weight().get(), 256);
        assert_eq!(admin(&cli, "get weight app/web1"), "256 (initial 10)\n\n");
        assert_eq!(
            admin(&cli, "set weight app/web1 257"),
            "Absolute weight can only be between 0 and 256 inclusive.\n\n"
        );
        assert_eq!(
            admin(&cli, "set weight app/web1 -5%"),
            "Relative weight must be positive.\n\n"
        );
        assert_eq!(
            admin(&cli, "set weight app/web1 5x"),
            "Trailing garbage in weight string\n\n"
        );
        assert_eq!(
            admin(&cli, "set weight app/web1 x"),
            "Empty weight string empty or preceded by garbage\n\n"
        );
        assert_eq!(
            admin(&cli, "set weight app/web1"),
            "Require <weight> or <weight%>.\n\n"
        );
        assert_eq!(web1().weight().get(), 256);
        // Static algorithms: only 0% and 100%.
        let msg =
            "Backend is using a static LB algorithm and only accepts weights '0%' and '100%'.\n\n";
        assert_eq!(admin(&cli, "set weight fixed/s1 2"), msg);
        assert_eq!(admin(&cli, "set weight fixed/s1 0%"), "\n");
        assert_eq!(admin(&cli, "set weight fixed/s1 100%"), "\n");
        assert_eq!(
            rt.backend("fixed")
                .unwrap()
                .server("s1")
                .unwrap()
                .weight()
                .get(),
            4
        );
    }

    #[tokio::test]
    async fn addresses_and_maxconn() {
        let rt = runtime().await;
        let cli = Cli::new(&rt);
        let web1 = || rt.backend("app").unwrap().server("web1").unwrap();
        assert_eq!(
            admin(&cli, "set server app/web1 addr 127.0.0.2"),
            "IP changed from '127.0.0.1' to '127.0.0.2' by 'stats socket command'\n\n"
        );
        assert_eq!(web1().address().to_string(), "127.0.0.2:8001");
        assert_eq!(
            admin(&cli, "set server app/web1 addr 127.0.0.2 port 9001"),
            "port changed from '8001' to '9001' by 'stats socket command'\n\n"
        );
        assert_eq!(
            admin(&cli, "set server app/web1 addr ::1 port 9002"),
            "IP changed from '127.0.0.2' to '::1', port changed from '9001' to '9002' by 'stats socket command'\n\n"
        );
        assert_eq!(web1().address().to_string(), "[::1]:9002");
        assert_eq!(
            admin(&cli, "set server app/web1 addr ::1"),
            "no need to change the addr\n\n"
        );
        assert_eq!(
            admin(&cli, "set server app/web1 addr nope"),
            "Invalid addr 'nope'\n\n"
        );
        assert_eq!(
            admin(&cli, "set server app/web1 addr 10.0.0.1 port 70000"),
            "provided port is not valid\n\n"
        );
        assert_eq!(
            admin(&cli, "set server app/web1 addr"),
            "set server <b>/<s> addr requires an address and optionally a port.\n\n"
        );

        assert_eq!(admin(&cli, "set maxconn server app/web1 30"), "\n");
        assert_eq!(web1().maxconn(), 30);
        assert_eq!(
            admin(&cli, "set maxconn server app/web1"),
            "Require <maxconn>.\n\n"
        );
        assert_eq!(
            admin(&cli, "set maxconn server app/web1 3z"),
            "Trailing garbage in maxconn string\n\n"
        );
        assert_eq!(
            admin(&cli, "set maxconn server app/nope 3"),
            "No such server.\n\n"
        );
    }

    #[tokio::test]
    async fn add_and_del_server() {
        let rt = runtime().await;
        let cli = Cli::new(&rt);
        let be = rt.backend("app").unwrap();
        assert_eq!(
            admin(
                &cli,
                "add server app/web4 127.0.0.1:8004 weight 3 maxconn 5 backup"
            ),
            "New server registered.\n\n"
        );
        let s = be.server("web4").expect("added");
        assert_eq!((s.weight().get(), s.maxconn(), s.is_backup()), (3, 5, true));
        // Dynamic servers start in maintenance, as in HAProxy.
        assert_eq!(s.admin_state(), AdminState::Maint);
        assert!(admin(&cli, "show stat").contains("app,web4,"));
        assert_eq!(state_of(&cli, "web4")[6], "1");
        assert_eq!(
            admin(&cli, "add server app/web4 127.0.0.1:8005"),
            "Already exists a server with the same name in backend.\n\n"
        );
        assert_eq!(
            admin(&cli, "add server fixed/s2 127.0.0.1:8005"),
            "Backend must use a dynamic load balancing to support dynamic servers.\n\n"
        );
        assert_eq!(
            admin(&cli, "add server nope/x 127.0.0.1:1"),
            "No such backend.\n\n"
        );
        assert_eq!(
            admin(&cli, "add server app"),
            "Require 'backend/server'.\n\n"
        );
        assert_eq!(
            admin(&cli, "add server app/web5"),
            "'server' expects <name> and <addr>[:<port>] as arguments.\n\n"
        );
        assert_eq!(
            admin(&cli, "add server app/web5 127.0.0.1:1 frob"),
            "unknown keyword 'frob'.\n\n"
        );
        assert!(admin(&cli, "add server app/web5 localhost:80").starts_with("invalid address"));
        assert!(admin(&cli, "add server app/web5 127.0.0.1:1 check").contains("not supported"));
        assert_eq!(
            admin(&cli, "add server app/web5 127.0.0.1:1 id 7"),
            "'server app/web5' : custom id 7 already used.\n\n"
        );
        assert!(be.server("web5").is_none());

        // Removal needs maintenance and no connection.
        assert_eq!(
            admin(&cli, "del server app/web1"),
            "Only servers in maintenance mode can be deleted.\n\n"
        );
        let web1 = be.server("web1").unwrap();
        let slot = be
            .try_acquire_server(&web1, tokio::time::Instant::now())
            .expect("a slot");
        admin(&cli, "disable server app/web1");
        assert_eq!(
            admin(&cli, "del server app/web1"),
            "Server still has connections attached to it, cannot remove it.\n\n"
        );
        drop(slot);
        assert_eq!(admin(&cli, "del server app/web1"), "Server deleted.\n\n");
        assert!(be.server("web1").is_none());
        assert_eq!(admin(&cli, "del server app/web1"), "No such server.\n\n");
        assert_eq!(admin(&cli, "del server app/web4"), "Server deleted.\n\n");
        assert!(!admin(&cli, "show servers state").contains(" web4 "));
    }

    #[tokio::test]
    async fn several_commands_on_one_line() {
        let rt = runtime().await;
        let cli = Cli::new(&rt);
        assert_eq!(
            admin(
                &cli,
                "set weight app/web1 2; get weight app/web1;show backend"
            ),
            "\n2 (initial 10)\n\n# name\napp\nfixed\n\n"
        );
        assert_eq!(admin(&cli, ""), "");
        assert_eq!(admin(&cli, "quit"), "");
        assert_eq!(
            admin(&cli, "get weight app/web1; quit; show backend"),
            "2 (initial 10)\n\n"
        );
    }

    async fn talk(cli: &Cli, level: StatsLevel, input: &[u8]) -> String {
        let (client, server) = tokio::io::duplex(64 * 1024);
        let serving = {
            let cli = cli.clone();
            tokio::spawn(async move { cli.serve(server, level).await })
        };
        let (mut r, mut w) = tokio::io::split(client);
        w.write_all(input).await.unwrap();
        w.shutdown().await.unwrap();
        let mut out = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut r, &mut out)
            .await
            .unwrap();
        serving.await.unwrap().unwrap();
        String::from_utf8(out).unwrap()
    }

    #[tokio::test]
    async fn sessions_one_shot_and_interactive() {
        let rt = runtime().await;
        let cli = Cli::new(&rt);
        // Without prompt, only the first line runs.
        let out = talk(
            &cli,
            StatsLevel::Admin,
            b"show backend\nset server app/web1 state maint\n",
        )
        .await;
        assert_eq!(out, "# name\napp\nfixed\n\n");
        let web1 = rt.backend("app").unwrap().server("web1").unwrap();
        assert_eq!(web1.admin_state(), AdminState::Ready);
        // Interactive: a prompt after each answer, until quit.
        let out = talk(
            &cli,
            StatsLevel::Admin,
            b"prompt\r\nshow backend\n\nset server app/web1 state maint\nquit\nshow info\n",
        )
        .await;
        assert_eq!(out, "\n> # name\napp\nfixed\n\n> > \n> ");
        assert_eq!(web1.admin_state(), AdminState::Maint);
        // The socket's level holds for the whole session.
        let out = talk(
            &cli,
            StatsLevel::Operator,
            b"prompt\nenable server app/web1\n",
        )
        .await;
        assert_eq!(out, "\n> Permission denied\n\n> ");
        // A last line without newline still runs.
        assert_eq!(
            talk(&cli, StatsLevel::User, b"get weight app/web2").await,
            "1 (initial 1)\n\n"
        );
    }

    #[tokio::test]
    async fn long_lines_are_refused() {
        let rt = runtime().await;
        let cli = Cli::new(&rt);
        let mut line = vec![b'x'; Cli::MAX_LINE + 1];
        line.push(b'\n');
        assert_eq!(talk(&cli, StatsLevel::Admin, &line).await, LINE_TOO_BIG);
    }

    #[tokio::test(start_paused = true)]
    async fn idle_sessions_are_closed() {
        let rt = runtime().await;
        let cli = Cli::new(&rt);
        let (client, server) = tokio::io::duplex(4096);
        let serving = tokio::spawn(async move { cli.serve(server, StatsLevel::Admin).await });
        let (mut r, mut w) = tokio::io::split(client);
        w.write_all(b"prompt\n").await.unwrap();
        let started = tokio::time::Instant::now();
        let mut out = Vec::new();
        // The server closes its side after the idle timeout although the client stays.
        tokio::io::AsyncReadExt::read_to_end(&mut r, &mut out)
            .await
            .unwrap();
        assert_eq!(out, b"\n> ");
        assert!(started.elapsed() >= Cli::IDLE_TIMEOUT);
        serving.await.unwrap().unwrap();
        drop(w);
    }
}
