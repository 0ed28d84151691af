//! The stats page: one self-contained HTML document (inline CSS, no script) that a person
//! reads at a glance.
//!
//! A header gives the process (pid, uptime, connections), a legend of the state colors and
//! links (refresh, CSV, Prometheus, hide down servers). Then one table per proxy with
//! HAProxy's columns: queue, session rate, sessions, bytes, denied, errors, warnings and
//! server (status with its age, last check, weight, active/backup, checks, downtime,
//! throttle); its frontend row first, then its servers colored by state (green UP, yellow
//! going down or up, red DOWN, orange DRAIN and NOLB, blue-grey MAINT), then its backend
//! row. With `stats admin`, each backend table is a form: a checkbox per server and a
//! select of actions, posted to the page (see [`parse_admin_post`](super::parse_admin_post)).
//! Every name is HTML-escaped.
//!
//! # Examples
//! ```
//! use lb_http::stats::html::{self, HtmlOptions};
//! use lb_http::stats::{ProxyMode, StatsRegistry};
//!
//! let stats = StatsRegistry::new();
//! stats.register_frontend("<www>", ProxyMode::Http);
//! let page = html::render(&stats.snapshot(), &HtmlOptions::new("/stats"));
//! assert!(page.starts_with("<!DOCTYPE html>"));
//! assert!(page.contains("&lt;www&gt;") && !page.contains("<www>"));
//! assert!(page.contains(r#"href="/stats;csv""#));
//! ```

use std::fmt::Write as _;
use std::time::Duration;

use super::admin::{AdminCommand, AdminStatus};
use super::csv::check_description;
use super::snapshot::{RowKind, StatRow, StatsSnapshot};

/// What the page shows besides the statistics.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HtmlOptions {
    /// The stats URI: links (`;csv`, `;up`, `;norefresh`) and the admin forms' action.
    pub uri: String,
    /// Show the admin forms (`stats admin`).
    pub admin: bool,
    /// Reload the page every so often (`stats refresh`), with a `<meta http-equiv>`.
    pub refresh: Option<Duration>,
    /// Link to the Prometheus endpoint.
    pub prometheus_uri: Option<String>,
    /// The outcome of the last admin action (`;st=DONE`...), shown in a banner.
    pub status: Option<AdminStatus>,
    /// Hide the product version (`stats hide-version`).
    pub hide_version: bool,
    /// The node name (`stats show-node`).
    pub node: Option<String>,
    /// Whether servers down or in maintenance are hidden (the `;up` link toggles).
    pub hiding_down: bool,
}

impl HtmlOptions {
    /// A page served at `uri`, without admin, refresh or Prometheus link.
    pub fn new(uri: impl Into<String>) -> Self {
        HtmlOptions {
            uri: uri.into(),
            ..HtmlOptions::default()
        }
    }
}

/// Appends `s` with `&`, `<`, `>`, `"` and `'` escaped.
pub fn escape_into(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// `s` HTML-escaped.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    escape_into(s, &mut out);
    out
}

/// A duration the way HAProxy's page prints ages: `3d4h`, `1h2m`, `5m3s`, `42s`.
pub fn human_duration(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86_400, secs / 3_600 % 24, secs / 60 % 60, secs % 60);
    if d > 0 {
        format!("{d}d{h}h")
    } else if h > 0 {
        format!("{h}h{m}m")
    } else if m > 0 {
        format!("{m}m{s}s")
    } else {
        format!("{s}s")
    }
}

/// The CSS class of a server row for its status string.
pub fn state_class(status: &str) -> &'static str {
    if status.starts_with("MAINT") {
        "maint"
    } else if status.starts_with("DRAIN") {
        "drain"
    } else if status.starts_with("NOLB") {
        "nolb"
    } else if status == "no check" {
        "no_check"
    } else if status == "UP" {
        "up"
    } else if status.starts_with("UP ") {
        "going_down"
    } else if status.starts_with("DOWN ") && status.contains('/') {
        "going_up"
    } else {
        "down"
    }
}

const CSS: &str = "\
body{font-family:Arial,Helvetica,sans-serif;font-size:12px;font-weight:normal;color:#000;background:#fff}
h1{font-size:20px;margin:0 0 4px;color:#fff;background:#20408b;padding:4px 8px}
h1 small{font-size:12px;font-weight:normal}
h2{font-size:14px;margin:4px 0;color:#20408b}
a{color:#20408b}
table{border-collapse:collapse;margin-bottom:12px}
table.px{border:1px solid #888;width:100%}
table.px caption{text-align:left;font-size:14px;font-weight:bold;padding:4px 0}
table.px th{background:#d0d8f0;border:1px solid #888;padding:1px 4px;font-weight:normal}
table.px td{border:1px solid #bbb;padding:1px 4px;text-align:right;white-space:nowrap}
table.px td.name,table.px td.status,table.px td.lastchk{text-align:left}
table.px td.check{text-align:center}
tr.frontend{background:#f0f0f0}
tr.backend{background:#e0e4f4;font-weight:bold}
tr.backend.down{background:#ff9090}
tr.up{background:#c0ffc0}
tr.no_check{background:#dff5df}
tr.going_down{background:#ffffa0}
tr.going_up{background:#fff080}
tr.down{background:#ff9090}
tr.nolb{background:#ffc880}
tr.drain{background:#ffb060}
tr.maint{background:#c8cce0}
tr.backup td.name{font-style:italic}
table.legend td{padding:1px 6px;border:1px solid #bbb}
table.info td{vertical-align:top;padding:0 16px 0 0}
div.banner{padding:4px 8px;margin:4px 0;border:1px solid #888}
div.banner.ok{background:#c0ffc0}
div.banner.fail{background:#ff9090}
form.admin div{margin:0 0 12px}
";

const LEGEND: &[(&str, &str)] = &[
    ("up", "UP"),
    ("no_check", "UP, not checked"),
    ("going_down", "UP, going down"),
    ("going_up", "DOWN, going up"),
    ("down", "DOWN"),
    ("nolb", "NOLB"),
    ("drain", "DRAIN"),
    ("maint", "MAINT"),
];

fn cell(out: &mut String, v: Option<u64>) {
    match v {
        Some(v) => {
            let _ = write!(out, "<td>{v}</td>");
        }
        None => out.push_str("<td></td>"),
    }
}

fn text_cell(out: &mut String, class: &str, text: &str) {
    if class.is_empty() {
        out.push_str("<td>");
    } else {
        let _ = write!(out, "<td class=\"{class}\">");
    }
    escape_into(text, out);
    out.push_str("</td>");
}

fn header(out: &mut String, snapshot: &StatsSnapshot, opts: &HtmlOptions) {
    let info = &snapshot.info;
    out.push_str("<h1>");
    escape_into(&info.name, out);
    if !opts.hide_version {
        out.push_str(" <small>version ");
        escape_into(&info.version, out);
        out.push_str("</small>");
    }
    out.push_str("</h1>\n<h2>Statistics Report for pid ");
    let _ = write!(out, "{}", info.pid);
    if let Some(node) = &opts.node {
        out.push_str(" on ");
        escape_into(node, out);
    }
    out.push_str("</h2>\n<table class=\"info\"><tr><td><b>General process information</b><br>\n");
    let up = info.uptime.as_secs();
    let _ = write!(
        out,
        "pid = {}<br>\nuptime = {}d {}h{:02}m{:02}s<br>\ncurrent conns = {}; total conns = {}; total requests = {}<br>\n",
        info.pid,
        up / 86_400,
        up / 3_600 % 24,
        up / 60 % 60,
        up % 60,
        info.current_conns,
        info.total_conns,
        info.total_requests,
    );
    if let Some(r) = opts.refresh {
        let _ = writeln!(out, "refresh = {}s<br>", r.as_secs().max(1));
    }
    out.push_str("</td><td><table class=\"legend\">");
    for (class, label) in LEGEND {
        let _ = write!(out, "<tr class=\"{class}\"><td>{label}</td></tr>");
    }
    out.push_str("</table></td><td><b>Display options</b><br>\n");
    let uri = escape(&opts.uri);
    if opts.hiding_down {
        let _ = writeln!(out, "<a href=\"{uri}\">Show all servers</a><br>");
    } else {
        let _ = writeln!(out, "<a href=\"{uri};up\">Hide 'DOWN' servers</a><br>");
    }
    if opts.refresh.is_some() {
        let _ = writeln!(out, "<a href=\"{uri};norefresh\">Disable refresh</a><br>");
    }
    let _ = write!(
        out,
        "<a href=\"{uri}\">Refresh now</a><br>\n<a href=\"{uri};csv\">CSV export</a><br>\n"
    );
    if let Some(p) = &opts.prometheus_uri {
        out.push_str("<a href=\"");
        escape_into(p, out);
        out.push_str("\">Prometheus metrics</a><br>\n");
    }
    out.push_str("</td></tr></table>\n");
    if let Some(st) = opts.status {
        let class = if st.is_success() { "ok" } else { "fail" };
        let _ = writeln!(out, "<div class=\"banner {class}\">{}</div>", st.message());
    }
}

fn table_head(out: &mut String, name: &str, admin: bool) {
    out.push_str("<thead><tr>");
    if admin {
        out.push_str("<th rowspan=\"2\"></th>");
    }
    out.push_str("<th rowspan=\"2\">");
    escape_into(name, out);
    out.push_str(
        "</th><th colspan=\"3\">Queue</th><th colspan=\"3\">Session rate</th>\
<th colspan=\"6\">Sessions</th><th colspan=\"2\">Bytes</th><th colspan=\"2\">Denied</th>\
<th colspan=\"3\">Errors</th><th colspan=\"2\">Warnings</th><th colspan=\"9\">Server</th></tr>\n<tr>\
<th>Cur</th><th>Max</th><th>Limit</th><th>Cur</th><th>Max</th><th>Limit</th>\
<th>Cur</th><th>Max</th><th>Limit</th><th>Total</th><th>LbTot</th><th>Last</th>\
<th>In</th><th>Out</th><th>Req</th><th>Resp</th><th>Req</th><th>Conn</th><th>Resp</th>\
<th>Retr</th><th>Redis</th><th>Status</th><th>LastChk</th><th>Wght</th><th>Act</th>\
<th>Bck</th><th>Chk</th><th>Dwn</th><th>Dwntme</th><th>Thrtle</th></tr></thead>\n",
    );
}

fn responses_title(row: &StatRow) -> Option<String> {
    let h = row.hrsp?;
    Some(format!(
        "HTTP requests: {}, responses: 1xx={} 2xx={} 3xx={} 4xx={} 5xx={} other={}",
        row.req_tot.unwrap_or(0),
        h[1],
        h[2],
        h[3],
        h[4],
        h[5],
        h[0]
    ))
}

fn last_check(row: &StatRow) -> String {
    let Some(status) = &row.check_status else {
        return String::new();
    };
    let mut s = status.clone();
    if let Some(code) = row.check_code {
        let _ = write!(s, "/{code}");
    }
    if let Some(ms) = row.check_duration {
        let _ = write!(s, " in {ms}ms");
    }
    s
}

fn row_html(out: &mut String, row: &StatRow, admin: bool) {
    let (class, label) = match row.kind {
        RowKind::Frontend => ("frontend".to_owned(), "Frontend"),
        RowKind::Backend => {
            let class = if row.status.starts_with("UP") {
                "backend up"
            } else {
                "backend down"
            };
            (class.to_owned(), "Backend")
        }
        RowKind::Server => {
            let mut class = state_class(&row.status).to_owned();
            if row.bck == Some(1) {
                class.push_str(" backup");
            }
            (class, row.svname.as_str())
        }
    };
    let _ = write!(out, "<tr class=\"{class}\">");
    if admin {
        if row.kind == RowKind::Server {
            out.push_str("<td class=\"check\"><input type=\"checkbox\" name=\"s\" value=\"");
            escape_into(&row.svname, out);
            out.push_str("\"></td>");
        } else {
            out.push_str("<td></td>");
        }
    }
    match &row.addr {
        Some(addr) if row.kind == RowKind::Server => {
            out.push_str("<td class=\"name\" title=\"");
            escape_into(addr, out);
            out.push_str("\">");
            escape_into(label, out);
            out.push_str("</td>");
        }
        _ => text_cell(out, "name", label),
    }
    // Queue.
    cell(out, row.qcur);
    cell(out, row.qmax);
    cell(out, row.qlimit);
    // Session rate.
    cell(out, Some(row.rate));
    cell(out, Some(row.rate_max));
    cell(out, row.rate_lim.filter(|&l| l > 0));
    // Sessions.
    cell(out, Some(row.scur));
    cell(out, Some(row.smax));
    cell(out, row.slim);
    match responses_title(row) {
        Some(title) => {
            out.push_str("<td title=\"");
            escape_into(&title, out);
            let _ = write!(out, "\">{}</td>", row.stot);
        }
        None => cell(out, Some(row.stot)),
    }
    cell(out, row.lbtot);
    match row.lastsess {
        Some(a) if a >= 0 => text_cell(out, "", &human_duration(a.unsigned_abs())),
        Some(_) => text_cell(out, "", "never"),
        None => out.push_str("<td></td>"),
    }
    // Bytes, denied, errors, warnings.
    cell(out, Some(row.bin));
    cell(out, Some(row.bout));
    cell(out, row.dreq);
    cell(out, Some(row.dresp));
    cell(out, row.ereq);
    cell(out, row.econ);
    cell(out, row.eresp);
    cell(out, row.wretr);
    cell(out, row.wredis);
    // Server.
    let status = match row.lastchg {
        Some(age) if row.kind != RowKind::Frontend => {
            format!("{} {}", human_duration(age), row.status)
        }
        _ => row.status.clone(),
    };
    text_cell(out, "status", &status);
    let lastchk = last_check(row);
    match row.check_status.as_deref().and_then(check_description) {
        Some(desc) => {
            out.push_str("<td class=\"lastchk\" title=\"");
            escape_into(desc, out);
            out.push_str("\">");
            escape_into(&lastchk, out);
            out.push_str("</td>");
        }
        None => text_cell(out, "lastchk", &lastchk),
    }
    cell(out, row.weight);
    match row.kind {
        RowKind::Server => {
            let yes = |v: Option<u64>| if v == Some(1) { "Y" } else { "-" };
            text_cell(out, "", yes(row.act));
            text_cell(out, "", yes(row.bck));
        }
        _ => {
            cell(out, row.act);
            cell(out, row.bck);
        }
    }
    cell(out, row.chkfail);
    cell(out, row.chkdown);
    match row.downtime {
        Some(d) => text_cell(out, "", &human_duration(d)),
        None => out.push_str("<td></td>"),
    }
    match row.throttle {
        Some(t) => text_cell(out, "", &format!("{t} %")),
        None => out.push_str("<td></td>"),
    }
    out.push_str("</tr>\n");
}

fn admin_footer(out: &mut String, backend: &str) {
    out.push_str(
        "<div>Choose the action to perform on the checked servers: <select name=\"action\">",
    );
    out.push_str("<option value=\"\"></option>");
    for cmd in AdminCommand::ALL {
        let _ = write!(
            out,
            "<option value=\"{}\">{}</option>",
            cmd.keyword(),
            cmd.label()
        );
    }
    out.push_str(
        "</select> weight <input type=\"number\" name=\"weight\" min=\"0\" max=\"256\" size=\"4\">\
<input type=\"hidden\" name=\"b\" value=\"",
    );
    escape_into(backend, out);
    out.push_str("\"> <input type=\"submit\" value=\"Apply\"></div>\n");
}

/// The whole page.
pub fn render(snapshot: &StatsSnapshot, opts: &HtmlOptions) -> String {
    let mut out = String::with_capacity(8192 + snapshot.rows.len() * 1024);
    out.push_str("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">\n");
    if let Some(r) = opts.refresh {
        let _ = writeln!(
            out,
            "<meta http-equiv=\"refresh\" content=\"{}\">",
            r.as_secs().max(1)
        );
    }
    out.push_str("<title>Statistics Report for ");
    escape_into(&snapshot.info.name, &mut out);
    out.push_str("</title>\n<style>\n");
    out.push_str(CSS);
    out.push_str("</style></head>\n<body>\n");
    header(&mut out, snapshot, opts);

    // Rows come grouped by proxy: a frontend, servers, a backend, all with one pxname.
    let mut i = 0;
    let rows = &snapshot.rows;
    while i < rows.len() {
        let name = &rows[i].pxname;
        let end = rows[i..]
            .iter()
            .position(|r| &r.pxname != name)
            .map_or(rows.len(), |n| i + n);
        let group = &rows[i..end];
        let has_backend = group.iter().any(|r| r.kind == RowKind::Backend);
        let admin = opts.admin && has_backend;
        if admin {
            out.push_str("<form class=\"admin\" method=\"post\" action=\"");
            escape_into(&opts.uri, &mut out);
            out.push_str("\">\n");
        }
        out.push_str("<table class=\"px\"><caption id=\"");
        escape_into(name, &mut out);
        out.push_str("\">");
        escape_into(name, &mut out);
        out.push_str("</caption>\n");
        table_head(&mut out, name, admin);
        out.push_str("<tbody>\n");
        for row in group {
            row_html(&mut out, row, admin);
        }
        out.push_str("</tbody></table>\n");
        if admin {
            admin_footer(&mut out, name);
            out.push_str("</form>\n");
        }
        i = end;
    }
    out.push_str("</body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::snapshot::ProcessInfo;

    fn snapshot() -> StatsSnapshot {
        let srv = |name: &str, status: &str| StatRow {
            kind: RowKind::Server,
            pxname: "app".into(),
            svname: name.into(),
            status: status.into(),
            lastchg: Some(3720),
            act: Some(1),
            bck: Some(0),
            weight: Some(1),
            lbtot: Some(0),
            ..StatRow::default()
        };
        let mut checked = srv("web1", "UP 2/3");
        checked.check_status = Some("L7OK".into());
        checked.check_code = Some(200);
        checked.check_duration = Some(3);
        checked.downtime = Some(65);
        checked.addr = Some("10.0.0.1:80".into());
        StatsSnapshot {
            info: ProcessInfo {
                name: "lb".into(),
                version: "0.1.0".into(),
                pid: 42,
                uptime: Duration::from_secs(3723),
                current_conns: 3,
                ..ProcessInfo::default()
            },
            rows: vec![
                StatRow {
                    kind: RowKind::Frontend,
                    pxname: "app".into(),
                    svname: "FRONTEND".into(),
                    status: "OPEN".into(),
                    hrsp: Some([0, 0, 5, 0, 1, 0]),
                    ..StatRow::default()
                },
                checked,
                srv("<script>alert(1)</script>", "DOWN"),
                srv("web3", "MAINT"),
                srv("web4", "DRAIN"),
                srv("web5", "NOLB"),
                srv("web6", "DOWN 1/2"),
                srv("web7", "no check"),
                srv("web8", "UP"),
                StatRow {
                    kind: RowKind::Backend,
                    pxname: "app".into(),
                    svname: "BACKEND".into(),
                    status: "UP".into(),
                    ..StatRow::default()
                },
                StatRow {
                    kind: RowKind::Frontend,
                    pxname: "only-fe".into(),
                    svname: "FRONTEND".into(),
                    status: "OPEN".into(),
                    ..StatRow::default()
                },
            ],
        }
    }

    #[test]
    fn renders_states_and_escapes_names() {
        let page = render(&snapshot(), &HtmlOptions::new("/haproxy?stats"));
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(!page.contains("<script"), "no raw script tag");
        for class in [
            "going_down",
            "down",
            "maint",
            "drain",
            "nolb",
            "going_up",
            "no_check",
            "up",
            "backend up",
            "frontend",
        ] {
            assert!(page.contains(&format!("<tr class=\"{class}\">")), "{class}");
        }
        assert!(page.contains("<td class=\"status\">1h2m UP 2/3</td>"));
        assert!(page.contains(">L7OK/200 in 3ms</td>"));
        assert!(page.contains("title=\"Layer7 check passed\""));
        assert!(page.contains("<td>1m5s</td>"), "downtime");
        assert!(page.contains("title=\"10.0.0.1:80\""));
        assert!(page.contains("uptime = 0d 1h02m03s"));
        assert!(page.contains("href=\"/haproxy?stats;csv\""));
        assert!(page.contains("2xx=5"));
        assert!(!page.contains("<form"), "no admin forms unless enabled");
        assert!(!page.contains("http-equiv"), "no refresh unless enabled");
        assert_eq!(page.matches("<table class=\"px\">").count(), 2);
    }

    #[test]
    fn admin_forms_refresh_and_links() {
        let opts = HtmlOptions {
            admin: true,
            refresh: Some(Duration::from_secs(10)),
            prometheus_uri: Some("/metrics".into()),
            status: Some(AdminStatus::Done),
            ..HtmlOptions::new("/stats")
        };
        let page = render(&snapshot(), &opts);
        assert!(page.contains("<meta http-equiv=\"refresh\" content=\"10\">"));
        assert!(page.contains("href=\"/metrics\""));
        assert!(page.contains("href=\"/stats;norefresh\""));
        assert!(page.contains("Action processed successfully."));
        // One form, for the proxy with a backend only.
        assert_eq!(
            page.matches("<form class=\"admin\" method=\"post\" action=\"/stats\">")
                .count(),
            1
        );
        assert!(page.contains(
            "<input type=\"checkbox\" name=\"s\" value=\"&lt;script&gt;alert(1)&lt;/script&gt;\">"
        ));
        assert!(page.contains("<input type=\"hidden\" name=\"b\" value=\"app\">"));
        for kw in ["ready", "drain", "maint", "weight", "hdown", "shutdown"] {
            assert!(page.contains(&format!("<option value=\"{kw}\">")), "{kw}");
        }
    }

    #[test]
    fn human_durations() {
        assert_eq!(human_duration(0), "0s");
        assert_eq!(human_duration(59), "59s");
        assert_eq!(human_duration(61), "1m1s");
        assert_eq!(human_duration(3720), "1h2m");
        assert_eq!(human_duration(90_061), "1d1h");
    }

    #[test]
    fn state_classes() {
        for (status, class) in [
            ("UP", "up"),
            ("UP 1/3", "going_down"),
            ("DOWN", "down"),
            ("DOWN 1/2", "going_up"),
            ("DOWN (agent)", "down"),
            ("NOLB", "nolb"),
            ("NOLB 1/3", "nolb"),
            ("DRAIN", "drain"),
            ("MAINT", "maint"),
            ("MAINT (via a/b)", "maint"),
            ("no check", "no_check"),
        ] {
            assert_eq!(state_class(status), class, "{status}");
        }
    }
}
