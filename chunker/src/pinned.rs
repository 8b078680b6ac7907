//! A pinned file: a regular file under a Linux read lease (the kernel's `F_SETLEASE`, unrelated to
//! the lease objects of S3 repositories), proof that nobody writes it while it is mapped.
//!
//! A mapping shows a file's bytes as they are at each access, so a chunk hashed from a mapping
//! and compressed from it a moment later could differ if another process wrote the file in
//! between: a chunk stored under another chunk's id. A Linux read lease (`F_SETLEASE`) rules that
//! out. It is granted only while no process has the file open for writing, and an `open` for
//! writing or a `truncate` by any process breaks it: the kernel holds that process back until the
//! holder closes the file (or for `/proc/sys/fs/lease-break-time`, 45 s by default) and marks the
//! lease as breaking at once. So while [`PinnedFile::intact`] is true, no byte of the file has
//! changed since the lease was taken.

use std::fs::File;
use std::io;

/// A regular file held under a read lease (see the module documentation).
#[derive(Debug)]
pub struct PinnedFile {
    file: File,
}

impl PinnedFile {
    /// Take a read lease on `file`; the file comes back when it cannot be leased (not a regular
    /// file, open for writing anywhere, opened read-write, owned by another user without
    /// CAP_LEASE, a filesystem without leases, not Linux): read it instead.
    ///
    /// A lease breaker notifies the holder with SIGIO, which would end the process: its default
    /// disposition is set to ignored (a handler someone installed is left alone).
    pub fn pin(file: File) -> Result<PinnedFile, File> {
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsRawFd;
            if !file.metadata().is_ok_and(|m| m.is_file()) || !sigio_is_harmless() {
                return Err(file);
            }
            // SAFETY: fcntl on a descriptor this function owns; F_SETLEASE takes an int argument.
            if unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETLEASE, libc::F_RDLCK) } == 0 {
                return Ok(PinnedFile { file });
            }
        }
        Err(file)
    }

    /// Whether the lease still holds: nobody has opened the file for writing or truncated it
    /// since it was taken. `false` once a breaker waits (the kernel reports a breaking read
    /// lease as already gone).
    pub fn intact(&self) -> bool {
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsRawFd;
            // SAFETY: fcntl on a descriptor this value owns; F_GETLEASE takes no argument.
            unsafe { libc::fcntl(self.file.as_raw_fd(), libc::F_GETLEASE) == libc::F_RDLCK }
        }
        #[cfg(not(target_os = "linux"))]
        false
    }

    /// [`PinnedFile::intact`] as a result: an error saying the file changed when it is not.
    pub fn check(&self) -> io::Result<()> {
        if self.intact() {
            Ok(())
        } else {
            Err(io::Error::other("the input file was opened for writing or truncated while it was read (is the dump still being written?)"))
        }
    }

    /// The leased file.
    pub fn file(&self) -> &File {
        &self.file
    }
}

/// Make sure a lease break's SIGIO does not end the process: ignore it if nobody handles it.
#[cfg(target_os = "linux")]
fn sigio_is_harmless() -> bool {
    static IGNORED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *IGNORED.get_or_init(|| {
        // SAFETY: sigaction with a zeroed struct reads the current disposition; setting SIG_IGN
        // installs no handler code. Both are plain system calls.
        unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(libc::SIGIO, std::ptr::null(), &mut old) != 0 {
                return false;
            }
            if old.sa_sigaction != libc::SIG_DFL {
                return true; // ignored already, or handled by whoever installed the handler
            }
            let mut ignore: libc::sigaction = std::mem::zeroed();
            ignore.sa_sigaction = libc::SIG_IGN;
            libc::sigaction(libc::SIGIO, &ignore, std::ptr::null_mut()) == 0
        }
    })
}

#[cfg(all(test, target_os = "linux"))]
pub(crate) mod tests {
    use super::*;
    use std::fs::OpenOptions;
    use std::io::Write;

    /// A temporary folder holding `dump.sql` with `bytes`.
    pub(crate) fn file_with(bytes: &[u8]) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dump.sql");
        std::fs::write(&path, bytes).unwrap();
        (dir, path)
    }

    #[test]
    fn opening_for_writing_or_truncating_breaks_the_lease_and_waits_for_its_release() {
        let (_dir, path) = file_with(b"hello");
        let leased = PinnedFile::pin(File::open(&path).unwrap()).expect("a file of ours, open read-only, is leased");
        assert!(leased.intact());
        // Readers do not break it.
        let _reader = File::open(&path).unwrap();
        assert!(leased.intact());
        // A writer breaks it: its open waits until the lease is released, so open it on a thread,
        // see the break, and release by dropping.
        let p = path.clone();
        let writer = std::thread::spawn(move || {
            let mut f = OpenOptions::new().append(true).open(p).unwrap();
            f.write_all(b" world").unwrap();
        });
        let t0 = std::time::Instant::now();
        while leased.intact() {
            assert!(t0.elapsed().as_secs() < 10, "the lease was never broken");
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        assert!(leased.check().is_err());
        drop(leased);
        writer.join().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"hello world");

        // truncate(2) by path breaks it too.
        let leased = PinnedFile::pin(File::open(&path).unwrap()).unwrap();
        let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: truncate with a valid NUL-terminated path.
        let truncater = std::thread::spawn(move || assert_eq!(unsafe { libc::truncate(c.as_ptr(), 5) }, 0));
        while leased.intact() {
            assert!(t0.elapsed().as_secs() < 20, "the lease was never broken");
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        drop(leased);
        truncater.join().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"hello");
    }

    #[test]
    fn a_file_open_for_writing_or_not_regular_is_not_leased() {
        let (_dir, path) = file_with(b"hello");
        let _writer = OpenOptions::new().append(true).open(&path).unwrap();
        assert!(PinnedFile::pin(File::open(&path).unwrap()).is_err());
        let rw = OpenOptions::new().read(true).write(true).open(&path).unwrap();
        assert!(PinnedFile::pin(rw).is_err());
        assert!(PinnedFile::pin(File::open("/dev/null").unwrap()).is_err());
    }
}
