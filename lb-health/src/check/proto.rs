//! Protocol checks: redis, SMTP, MySQL, PostgreSQL and LDAP greetings, written from the
//! protocols' bytes (each is what HAProxy's built-in ruleset sends and accepts).

use tokio::io::{AsyncRead, AsyncWrite};

use super::http::find_pos;
use super::io::{strerror, Conn, Verdict, BUFSIZE};
use super::status::CheckStatus;
use crate::error::ConfigError;

type R<T> = Result<T, Verdict>;

async fn fill<Io: AsyncRead + AsyncWrite + Unpin>(c: &mut Conn<Io>) -> R<()> {
    c.fill()
        .await
        .map(|_| ())
        .map_err(|e| Verdict::new(CheckStatus::L4Con, strerror(&e)))
}

async fn send<Io: AsyncRead + AsyncWrite + Unpin>(c: &mut Conn<Io>, data: &[u8]) -> R<()> {
    c.send(data)
        .await
        .map_err(|e| Verdict::new(CheckStatus::L4Con, strerror(&e)))
}

fn incomplete<Io>(c: &Conn<Io>, what: &str) -> Verdict {
    if c.buf.is_empty() {
        Verdict::new(CheckStatus::L7Rsp, "Empty response")
    } else if c.is_full() {
        Verdict::new(CheckStatus::L7Rsp, format!("{what} too large"))
    } else {
        Verdict::new(CheckStatus::L7Rsp, format!("Incomplete {what}"))
    }
}

// ---------------------------------------------------------------------------------------
// redis

/// `PING` as a RESP array.
pub(crate) const REDIS_PING: &[u8] = b"*1\r\n$4\r\nPING\r\n";

/// redis-check: `PING`, pass on `+PONG`; any other reply line fails with it as the info.
pub(crate) async fn redis<Io: AsyncRead + AsyncWrite + Unpin>(c: &mut Conn<Io>) -> Verdict {
    run(async {
        send(c, REDIS_PING).await?;
        // Each pass reads more or ends: bounded by the buffer size.
        loop {
            let end = find_pos(&c.buf, b"\r\n");
            if end.is_some() || (c.done_reading() && !c.buf.is_empty()) {
                let line = &c.buf[..end.unwrap_or(c.buf.len())];
                if line.starts_with(b"+PONG") {
                    return Ok(Verdict::new(CheckStatus::L7Ok, "Redis server is ok"));
                }
                return Ok(Verdict::new(
                    CheckStatus::L7Sts,
                    String::from_utf8_lossy(line),
                ));
            }
            if c.done_reading() {
                return Err(incomplete(c, "redis reply"));
            }
            fill(c).await?;
        }
    })
    .await
}

async fn run(f: impl std::future::Future<Output = R<Verdict>>) -> Verdict {
    match f.await {
        Ok(v) | Err(v) => v,
    }
}

// ---------------------------------------------------------------------------------------
// SMTP

/// `option smtpchk [HELO|EHLO <domain>]`: default `HELO localhost`.
///
/// Expects a 2xx greeting, sends the hello, expects a 2xx reply, then says `QUIT`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmtpCheck {
    ehlo: bool,
    domain: String,
}

impl Default for SmtpCheck {
    fn default() -> Self {
        Self::new()
    }
}

impl SmtpCheck {
    /// `HELO localhost`.
    pub fn new() -> Self {
        SmtpCheck {
            ehlo: false,
            domain: "localhost".into(),
        }
    }

    /// `EHLO <domain>`.
    pub fn ehlo(domain: impl Into<String>) -> Self {
        SmtpCheck {
            ehlo: true,
            domain: domain.into(),
        }
    }

    /// `HELO <domain>`.
    pub fn helo(domain: impl Into<String>) -> Self {
        SmtpCheck {
            ehlo: false,
            domain: domain.into(),
        }
    }

    /// From the arguments of `option smtpchk`.
    ///
    /// # Errors
    /// A verb other than HELO/EHLO, or a missing domain.
    pub fn parse(args: &[&str]) -> Result<Self, ConfigError> {
        match args {
            [] => Ok(Self::new()),
            [verb, domain] if verb.eq_ignore_ascii_case("EHLO") => Ok(Self::ehlo(*domain)),
            [verb, domain] if verb.eq_ignore_ascii_case("HELO") => Ok(Self::helo(*domain)),
            _ => Err(ConfigError::InvalidValue {
                keyword: "option smtpchk",
                value: args.join(" "),
                why: "expected HELO <domain> or EHLO <domain>",
            }),
        }
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.domain.is_empty()
            || self
                .domain
                .contains(|c: char| c.is_ascii_whitespace() || c.is_control())
        {
            return Err(ConfigError::InvalidValue {
                keyword: "option smtpchk",
                value: self.domain.clone(),
                why: "the domain must be one word",
            });
        }
        Ok(())
    }

    fn hello(&self) -> Vec<u8> {
        let verb = if self.ehlo { "EHLO" } else { "HELO" };
        format!("{verb} {}\r\n", self.domain).into_bytes()
    }
}

/// One SMTP reply: the code, the first line's text, and the first line whole.
struct Reply {
    code: u16,
    text: String,
    line: String,
}

/// Reads one (possibly multi-line) SMTP reply and consumes it.
async fn smtp_reply<Io: AsyncRead + AsyncWrite + Unpin>(c: &mut Conn<Io>) -> R<Reply> {
    loop {
        let mut first: Option<Reply> = None;
        let mut pos = 0;
        while let Some(n) = find_pos(&c.buf[pos..], b"\n") {
            let raw = &c.buf[pos..pos + n];
            let line = String::from_utf8_lossy(raw.strip_suffix(b"\r").unwrap_or(raw)).into_owned();
            pos += n + 1;
            let b = line.as_bytes();
            let code = (b.len() >= 3 && b[..3].iter().all(u8::is_ascii_digit))
                .then(|| line[..3].parse::<u16>().ok())
                .flatten();
            let Some(code) = code else {
                return Err(Verdict::new(CheckStatus::L7Rsp, line));
            };
            let sep = b.get(3).copied();
            if !matches!(sep, None | Some(b' ') | Some(b'-')) {
                return Err(Verdict::new(CheckStatus::L7Rsp, line));
            }
            if first.is_none() {
                first = Some(Reply {
                    code,
                    text: line.get(4..).unwrap_or("").trim().to_owned(),
                    line: line.clone(),
                });
            }
            if sep != Some(b'-') {
                let _ = c.buf.split_to(pos);
                return first.ok_or_else(|| Verdict::new(CheckStatus::L7Rsp, "Empty reply"));
            }
        }
        if c.done_reading() {
            return Err(incomplete(c, "SMTP reply"));
        }
        fill(c).await?;
    }
}

/// smtpchk: greeting 2xx, hello 2xx, QUIT.
pub(crate) async fn smtp<Io: AsyncRead + AsyncWrite + Unpin>(
    check: &SmtpCheck,
    c: &mut Conn<Io>,
) -> Verdict {
    run(async {
        let greeting = smtp_reply(c).await?;
        if !(200..300).contains(&greeting.code) {
            return Ok(Verdict::new(CheckStatus::L7Sts, greeting.line).with_code(greeting.code));
        }
        send(c, &check.hello()).await?;
        let reply = smtp_reply(c).await?;
        if !(200..300).contains(&reply.code) {
            return Ok(Verdict::new(CheckStatus::L7Sts, reply.line).with_code(reply.code));
        }
        // Best effort: the verdict is in.
        let _ = c.send(b"QUIT\r\n").await;
        Ok(Verdict::new(CheckStatus::L7Ok, reply.text).with_code(reply.code))
    })
    .await
}

// ---------------------------------------------------------------------------------------
// MySQL

/// `option mysql-check [user <name>]`.
///
/// Without a user, the server's initial handshake packet is parsed: a protocol 10 (or 9)
/// greeting passes, an error packet (`0xff`, e.g. "Host is blocked") fails with its code
/// and message. With a user, a protocol 4.1 login without password is sent together with
/// `QUIT`, and the server's OK packet passes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MysqlCheck {
    user: Option<String>,
}

impl MysqlCheck {
    /// Greeting only.
    pub fn new() -> Self {
        Self::default()
    }

    /// Logs in as `user` (no password) and quits.
    pub fn user(mut self, user: impl Into<String>) -> Self {
        self.user = Some(user.into());
        self
    }

    /// From the arguments of `option mysql-check` (`user <name> [post-41]`).
    ///
    /// # Errors
    /// `pre-41` and `post-80` login formats are not implemented; other words are invalid.
    pub fn parse(args: &[&str]) -> Result<Self, ConfigError> {
        match args {
            [] => Ok(Self::new()),
            ["user", name] | ["user", name, "post-41"] => Ok(Self::new().user(*name)),
            ["user", _, "pre-41" | "post-80"] => Err(ConfigError::Unsupported {
                keyword: "option mysql-check user <name> pre-41/post-80",
                why: "only the post-41 login is implemented",
            }),
            _ => Err(ConfigError::InvalidValue {
                keyword: "option mysql-check",
                value: args.join(" "),
                why: "expected [user <name> [post-41]]",
            }),
        }
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        match &self.user {
            Some(u) if u.is_empty() || u.len() > 255 || u.contains('\0') => {
                Err(ConfigError::InvalidValue {
                    keyword: "option mysql-check user",
                    value: u.clone(),
                    why: "1 to 255 bytes, no NUL",
                })
            }
            _ => Ok(()),
        }
    }

    /// The login packet (sequence 1) followed by a QUIT packet.
    fn login(&self, user: &str) -> Vec<u8> {
        let mut body = Vec::with_capacity(64);
        body.extend_from_slice(&0x0000_8200u32.to_le_bytes()); // PROTOCOL_41 | SECURE_CONNECTION
        body.extend_from_slice(&0x0100_0000u32.to_le_bytes()); // max packet 16 MiB
        body.push(0x21); // utf8_general_ci
        body.extend_from_slice(&[0; 23]);
        body.extend_from_slice(user.as_bytes());
        body.push(0);
        body.push(0); // empty auth response
        let len = body.len() as u32;
        let mut out = Vec::with_capacity(body.len() + 9);
        out.extend_from_slice(&len.to_le_bytes()[..3]);
        out.push(1);
        out.extend_from_slice(&body);
        out.extend_from_slice(&[1, 0, 0, 0, 1]); // COM_QUIT
        out
    }
}

/// Reads one MySQL packet and consumes it: the payload.
async fn mysql_packet<Io: AsyncRead + AsyncWrite + Unpin>(c: &mut Conn<Io>) -> R<Vec<u8>> {
    loop {
        if c.buf.len() >= 4 {
            let len = u32::from_le_bytes([c.buf[0], c.buf[1], c.buf[2], 0]) as usize;
            if len + 4 > BUFSIZE {
                return Err(Verdict::new(CheckStatus::L7Rsp, "MySQL packet too large"));
            }
            if c.buf.len() >= len + 4 {
                let pkt = c.buf.split_to(len + 4);
                return Ok(pkt[4..].to_vec());
            }
        }
        if c.done_reading() {
            return Err(incomplete(c, "MySQL packet"));
        }
        fill(c).await?;
    }
}

fn mysql_error(payload: &[u8]) -> Verdict {
    let code = payload
        .get(1..3)
        .map(|b| u16::from_le_bytes([b[0], b[1]]))
        .unwrap_or(0);
    let mut msg = payload.get(3..).unwrap_or(&[]);
    if msg.first() == Some(&b'#') && msg.len() >= 6 {
        msg = &msg[6..];
    }
    Verdict::new(CheckStatus::L7Sts, String::from_utf8_lossy(msg)).with_code(code)
}

/// mysql-check.
pub(crate) async fn mysql<Io: AsyncRead + AsyncWrite + Unpin>(
    check: &MysqlCheck,
    c: &mut Conn<Io>,
) -> Verdict {
    run(async {
        let greeting = mysql_packet(c).await?;
        let version = match greeting.first() {
            Some(0xff) => return Ok(mysql_error(&greeting)),
            Some(0x0a) | Some(0x09) => {
                let rest = &greeting[1..];
                let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
                String::from_utf8_lossy(&rest[..end]).into_owned()
            }
            Some(v) => {
                return Ok(Verdict::new(
                    CheckStatus::L7Rsp,
                    format!("Unsupported MySQL protocol version {v}"),
                ))
            }
            None => return Ok(Verdict::new(CheckStatus::L7Rsp, "Empty MySQL packet")),
        };
        let Some(user) = &check.user else {
            return Ok(Verdict::new(CheckStatus::L7Ok, version));
        };
        send(c, &check.login(user)).await?;
        let reply = mysql_packet(c).await?;
        Ok(match reply.first() {
            Some(0x00) => Verdict::new(CheckStatus::L7Ok, version),
            Some(0xff) => mysql_error(&reply),
            _ => Verdict::new(CheckStatus::L7Rsp, "Unexpected MySQL reply to login"),
        })
    })
    .await
}

// ---------------------------------------------------------------------------------------
// PostgreSQL

/// `option pgsql-check user <name>`: a StartupMessage for `user`; an authentication
/// request (`R`) passes, an ErrorResponse (`E`) fails with its message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PgsqlCheck {
    user: String,
}

impl PgsqlCheck {
    /// Starts up as `user`.
    pub fn new(user: impl Into<String>) -> Self {
        PgsqlCheck { user: user.into() }
    }

    /// From the arguments of `option pgsql-check` (`user <name>`).
    ///
    /// # Errors
    /// A missing user.
    pub fn parse(args: &[&str]) -> Result<Self, ConfigError> {
        match args {
            ["user", name] => Ok(Self::new(*name)),
            _ => Err(ConfigError::MissingArgument {
                keyword: "option pgsql-check",
                expected: "user <name>",
            }),
        }
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.user.is_empty() || self.user.len() > 1024 || self.user.contains('\0') {
            return Err(ConfigError::InvalidValue {
                keyword: "option pgsql-check user",
                value: self.user.clone(),
                why: "1 to 1024 bytes, no NUL",
            });
        }
        Ok(())
    }

    fn startup(&self) -> Vec<u8> {
        let mut body = Vec::with_capacity(16 + self.user.len());
        body.extend_from_slice(&0x0003_0000u32.to_be_bytes());
        body.extend_from_slice(b"user\0");
        body.extend_from_slice(self.user.as_bytes());
        body.extend_from_slice(b"\0\0");
        let mut out = ((body.len() + 4) as u32).to_be_bytes().to_vec();
        out.extend_from_slice(&body);
        out
    }
}

/// pgsql-check.
pub(crate) async fn pgsql<Io: AsyncRead + AsyncWrite + Unpin>(
    check: &PgsqlCheck,
    c: &mut Conn<Io>,
) -> Verdict {
    run(async {
        send(c, &check.startup()).await?;
        loop {
            match c.buf.first() {
                Some(b'R') if c.buf.len() >= 9 => {
                    let code = u32::from_be_bytes([c.buf[5], c.buf[6], c.buf[7], c.buf[8]]);
                    return Ok(if matches!(code, 0 | 2..=12) {
                        Verdict::new(CheckStatus::L7Ok, "PostgreSQL server is ok")
                    } else {
                        Verdict::new(CheckStatus::L7Sts, "PostgreSQL unknown error")
                    });
                }
                Some(b'E') if c.buf.len() >= 5 => {
                    let len = u32::from_be_bytes([c.buf[1], c.buf[2], c.buf[3], c.buf[4]]) as usize;
                    if c.buf.len() > len || c.done_reading() {
                        let end = (len + 1).min(c.buf.len());
                        return Ok(Verdict::new(CheckStatus::L7Rsp, pg_error(&c.buf[5..end])));
                    }
                }
                Some(b'R' | b'E') | None => {}
                Some(_) => return Ok(Verdict::new(CheckStatus::L7Sts, "PostgreSQL unknown error")),
            }
            if c.done_reading() {
                return Err(incomplete(c, "PostgreSQL reply"));
            }
            fill(c).await?;
        }
    })
    .await
}

/// "SEVERITY: message" from ErrorResponse fields.
fn pg_error(fields: &[u8]) -> String {
    let (mut severity, mut message) = (None, None);
    for field in fields.split(|&b| b == 0) {
        match field.split_first() {
            Some((b'S', v)) if severity.is_none() => severity = Some(String::from_utf8_lossy(v)),
            Some((b'V', v)) => severity = Some(String::from_utf8_lossy(v)),
            Some((b'M', v)) => message = Some(String::from_utf8_lossy(v)),
            _ => {}
        }
    }
    match (severity, message) {
        (Some(s), Some(m)) => format!("{s}: {m}"),
        (None, Some(m)) => m.into_owned(),
        _ => "PostgreSQL error".to_owned(),
    }
}

// ---------------------------------------------------------------------------------------
// LDAP

/// An anonymous LDAPv3 simple bind, message id 1 (RFC 4511 4.2).
pub(crate) const LDAP_BIND: &[u8] = &[
    0x30, 0x0c, // LDAPMessage SEQUENCE, 12 bytes
    0x02, 0x01, 0x01, // messageID 1
    0x60, 0x07, // [APPLICATION 0] BindRequest, 7 bytes
    0x02, 0x01, 0x03, // version 3
    0x04, 0x00, // name ""
    0x80, 0x00, // simple authentication ""
];

/// A BER length at `b`: (length, bytes used), `None` when more bytes are needed,
/// `Err` when malformed.
fn ber_len(b: &[u8]) -> Result<Option<(usize, usize)>, ()> {
    let Some(&first) = b.first() else {
        return Ok(None);
    };
    if first & 0x80 == 0 {
        return Ok(Some((first as usize, 1)));
    }
    let n = (first & 0x7f) as usize;
    if n == 0 || n > 4 {
        return Err(());
    }
    if b.len() < 1 + n {
        return Ok(None);
    }
    let len = b[1..=n]
        .iter()
        .fold(0usize, |acc, &x| (acc << 8) | x as usize);
    Ok(Some((len, 1 + n)))
}

/// The resultCode of a BindResponse, `Ok(None)` when more bytes are needed.
fn ldap_result(buf: &[u8]) -> Result<Option<u8>, ()> {
    if buf.is_empty() {
        return Ok(None);
    }
    if buf[0] != 0x30 {
        return Err(());
    }
    let Some((len, used)) = ber_len(&buf[1..])? else {
        return Ok(None);
    };
    let total = 1 + used + len;
    if total > BUFSIZE {
        return Err(());
    }
    if buf.len() < total {
        return Ok(None);
    }
    let msg = &buf[1 + used..total];
    // messageID INTEGER
    if msg.first() != Some(&0x02) {
        return Err(());
    }
    let (id_len, id_used) = ber_len(&msg[1..])?.ok_or(())?;
    let rest = msg.get(1 + id_used + id_len..).ok_or(())?;
    // BindResponse [APPLICATION 1]
    if rest.first() != Some(&0x61) {
        return Err(());
    }
    let (_, op_used) = ber_len(&rest[1..])?.ok_or(())?;
    let result = rest.get(1 + op_used..).ok_or(())?;
    // resultCode ENUMERATED, one byte
    match result {
        [0x0a, 0x01, code, ..] => Ok(Some(*code)),
        _ => Err(()),
    }
}

/// ldap-check.
pub(crate) async fn ldap<Io: AsyncRead + AsyncWrite + Unpin>(c: &mut Conn<Io>) -> Verdict {
    run(async {
        send(c, LDAP_BIND).await?;
        loop {
            match ldap_result(&c.buf) {
                Ok(Some(0)) => return Ok(Verdict::new(CheckStatus::L7Ok, "Success")),
                Ok(Some(code)) => {
                    return Ok(Verdict::new(
                        CheckStatus::L7Sts,
                        "See RFC: http://tools.ietf.org/html/rfc4511#section-4.1.9",
                    )
                    .with_code(code.into()))
                }
                Ok(None) => {}
                Err(()) => return Ok(Verdict::new(CheckStatus::L7Rsp, "Not LDAPv3 protocol")),
            }
            if c.done_reading() {
                return Err(incomplete(c, "LDAP reply"));
            }
            fill(c).await?;
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ldap_parse() {
        let ok = [
            0x30, 0x0c, 0x02, 0x01, 0x01, 0x61, 0x07, 0x0a, 0x01, 0x00, 0x04, 0x00, 0x04, 0x00,
        ];
        assert_eq!(ldap_result(&ok), Ok(Some(0)));
        assert_eq!(ldap_result(&ok[..8]), Ok(None));
        // Long-form lengths.
        let long = [
            0x30, 0x84, 0, 0, 0, 0x0c, 0x02, 0x01, 0x01, 0x61, 0x84, 0, 0, 0, 0x07, 0x0a, 0x01,
            0x31, 0x04, 0x00, 0x04, 0x00,
        ];
        assert_eq!(ldap_result(&long), Ok(Some(0x31)));
        assert_eq!(ldap_result(b"HTTP/1.0 400"), Err(()));
        // A bind request is not a response.
        assert_eq!(ldap_result(LDAP_BIND), Err(()));
    }

    #[test]
    fn pg_startup_and_errors() {
        let s = PgsqlCheck::new("hc").startup();
        assert_eq!(&s[..4], &(s.len() as u32).to_be_bytes());
        assert_eq!(&s[4..8], &[0, 3, 0, 0]);
        assert_eq!(&s[8..], b"user\0hc\0\0");
        assert_eq!(
            pg_error(b"SFATAL\0VFATAL\0C28000\0Mrole \"hc\" does not exist\0\0"),
            "FATAL: role \"hc\" does not exist"
        );
        assert_eq!(pg_error(b""), "PostgreSQL error");
    }

    #[test]
    fn mysql_login_packet() {
        let p = MysqlCheck::new().user("hc").login("hc");
        let len = u32::from_le_bytes([p[0], p[1], p[2], 0]) as usize;
        assert_eq!(p[3], 1);
        assert_eq!(&p[4 + len..], &[1, 0, 0, 0, 1]);
        assert_eq!(&p[4 + 32..4 + 35], b"hc\0");
        assert!(MysqlCheck::parse(&["user", "x", "post-80"]).is_err());
        assert_eq!(
            MysqlCheck::parse(&["user", "x"]).unwrap(),
            MysqlCheck::new().user("x")
        );
    }

    #[test]
    fn mysql_error_packet() {
        let mut p = vec![0xff];
        p.extend_from_slice(&1129u16.to_le_bytes());
        p.extend_from_slice(b"Host is blocked");
        let v = mysql_error(&p);
        assert_eq!(
            (v.status, v.code, v.info.as_str()),
            (CheckStatus::L7Sts, Some(1129), "Host is blocked")
        );
        let mut p = vec![0xff, 0x15, 0x04];
        p.extend_from_slice(b"#28000Access denied");
        assert_eq!(mysql_error(&p).info, "Access denied");
    }

    #[test]
    fn smtp_args() {
        assert_eq!(
            SmtpCheck::parse(&[]).unwrap().hello(),
            b"HELO localhost\r\n"
        );
        assert_eq!(
            SmtpCheck::parse(&["EHLO", "lb.example"]).unwrap().hello(),
            b"EHLO lb.example\r\n"
        );
        assert!(SmtpCheck::parse(&["MAIL", "x"]).is_err());
    }
}
