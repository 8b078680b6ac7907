//! Pings in the Healthchecks convention (healthchecks.io, and the monitors that speak it): `URL/start`
//! when a backup starts, `URL` when it succeeded, `URL/fail` when it failed, with the error's last
//! lines as the body. A ping that cannot be delivered warns; it never fails the backup, and never
//! delays it by more than [`BUDGET`], retries included.

use std::time::{Duration, Instant};

/// The most time one ping may take, its retries included.
pub const BUDGET: Duration = Duration::from_secs(10);

/// Bytes of an error sent with a failure ping (Healthchecks keeps the first 100 kB).
const BODY_MAX: usize = 10_000;

/// Where to ping.
#[derive(Clone, Debug)]
pub struct Ping {
    url: reqwest::Url,
}

impl Ping {
    /// A ping URL, checked: `http://` or `https://`, with a host.
    pub fn parse(url: &str) -> Result<Ping, String> {
        let u = reqwest::Url::parse(url).map_err(|e| format!("ping URL {}: {e}", shown_text(url)))?;
        if !matches!(u.scheme(), "http" | "https") || !u.has_host() {
            return Err(format!("ping URL {} must be http:// or https:// with a host", shown_text(url)));
        }
        Ok(Ping { url: u })
    }

    /// The backup starts.
    pub fn start(&self) {
        self.send("/start", String::new());
    }

    /// The backup succeeded (`what`: a line saying what was stored).
    pub fn success(&self, what: String) {
        self.send("", what);
    }

    /// The backup failed (`why`: the error; its last bytes are sent).
    pub fn fail(&self, why: &str) {
        let mut from = why.len().saturating_sub(BODY_MAX);
        while !why.is_char_boundary(from) {
            from += 1;
        }
        self.send("/fail", why[from..].to_string());
    }

    fn send(&self, suffix: &str, body: String) {
        // `/start` and `/fail` extend the path, before any query (`?create=1`) or fragment.
        let mut url = self.url.clone();
        url.set_path(&format!("{}{suffix}", self.url.path().trim_end_matches('/')));
        let deadline = Instant::now() + BUDGET;
        let mut last_error = String::new();
        for attempt in 0..3 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            if attempt > 0 {
                std::thread::sleep(Duration::from_millis(500).min(left / 2));
            }
            let client = match reqwest::blocking::Client::builder().timeout(deadline.saturating_duration_since(Instant::now())).build() {
                Ok(c) => c,
                Err(e) => {
                    last_error = e.to_string();
                    break;
                }
            };
            match client.post(url.clone()).body(body.clone()).send() {
                Ok(r) if r.status().is_success() => return,
                // The monitor answered: it will answer the same again.
                Ok(r) if r.status().is_client_error() => {
                    last_error = format!("the monitor answered {}", r.status());
                    break;
                }
                Ok(r) => last_error = format!("the monitor answered {}", r.status()),
                Err(e) => last_error = error_text(e),
            }
        }
        crate::errln!("dbvault: warning: ping {}{suffix} failed: {last_error} (the backup itself is not affected)", shown(&self.url));
    }
}

/// A URL as messages show it: scheme, host and port only (a ping URL's path is its secret, and so
/// is a password in it).
fn shown(url: &reqwest::Url) -> String {
    format!("{}://{}{}/...", url.scheme(), url.host_str().unwrap_or(""), url.port().map_or(String::new(), |p| format!(":{p}")))
}

/// What was given as a URL, as messages show it (see [`shown`]).
fn shown_text(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => shown(&u),
        Err(_) => format!("{:?}", url.split(['/', '@', '?']).next().unwrap_or("")),
    }
}

/// An HTTP error without the URL reqwest puts in it.
fn error_text(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text
}
