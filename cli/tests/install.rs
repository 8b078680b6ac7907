//! Shell completions and man pages, generated from the same definitions as `--help`.

mod common;

use std::process::{Command, Stdio};

use common::BIN;

fn run(args: &[&str]) -> std::process::Output {
    Command::new(BIN).args(args).env_clear().stdin(Stdio::null()).output().unwrap()
}

#[test]
fn completions_know_every_command_and_option_and_survive_a_closed_pipe() {
    for shell in ["bash", "zsh", "fish"] {
        let out = run(&["completions", shell]);
        assert!(out.status.success(), "{shell}: {}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8(out.stdout).unwrap();
        // (fish names options without their dashes.)
        for word in ["drill", "status", "max-drill-age", "allow-incomplete", "metrics-file"] {
            assert!(text.contains(word), "{shell} completions lack {word}");
        }
    }
    // `dbvault completions bash | head -1`: the reader goes away, dbvault does not panic.
    let mut child = Command::new(BIN).args(["completions", "bash"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(run(&["completions", "tcsh"]).status.code() == Some(2), "an unknown shell is a usage error");
}

#[test]
fn a_man_page_for_every_command_says_what_help_says() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("man1");
    let out = run(&["man", "--out-dir", out_dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let help = String::from_utf8(run(&["--help"]).stdout).unwrap();
    // Every command `--help` lists has its page.
    let commands: Vec<&str> = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        // A command's line; a long description goes on on more deeply indented lines.
        .filter(|l| !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .collect();
    assert!(commands.contains(&"drill") && commands.len() > 15, "{help}");
    for c in commands {
        let page = std::fs::read_to_string(out_dir.join(format!("dbvault-{c}.1"))).unwrap_or_else(|e| panic!("dbvault-{c}.1: {e}"));
        assert!(page.starts_with(".ie") || page.contains(".TH"), "dbvault-{c}.1 is no man page");
    }
    let ingest = std::fs::read_to_string(out_dir.join("dbvault-ingest.1")).unwrap();
    assert!(ingest.contains("allow\\-incomplete"), "the page holds ingest's options");
    // Examples are printed as written (no-fill), not filled and justified into paragraphs.
    let run_page = std::fs::read_to_string(out_dir.join("dbvault-run.1")).unwrap();
    let example = run_page.find("  repository = ").expect("run's page holds the example configuration");
    assert!(run_page[..example].rfind(".nf\n") > run_page[..example].rfind(".fi\n"), "the example is in a no-fill block");
    // A file where the folder should be is an error, not a panic.
    let file = dir.path().join("file");
    std::fs::write(&file, b"x").unwrap();
    let out = run(&["man", "--out-dir", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a folder"), "{}", String::from_utf8_lossy(&out.stderr));
    // A full disk on standard output is an error, said once.
    let full = std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
    let out = Command::new(BIN).args(["completions", "bash"]).env_clear().stdout(full).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("No space left"), "{}", String::from_utf8_lossy(&out.stderr));
}
