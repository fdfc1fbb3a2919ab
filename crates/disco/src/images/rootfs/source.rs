//! Debian *source* packages (GNU chess for the Pmake workload), fetched with
//! `apt-get source` through a private `deb-src` list made from the host's
//! `deb` entries, so the host's apt configuration is left as it is.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::images::error::{ImageError, IoContext};

/// `deb-src` entries for the `deb` entries of one apt sources file: a
/// one-line `.list` file (`deb [opts] URI SUITE COMPONENTS`) or a deb822
/// `.sources` file (stanzas with `Types: deb ...`). Entries without `deb`
/// are dropped; `deb-src` entries are kept.
pub fn deb_src_entries(text: &str, deb822: bool) -> String {
    if !deb822 {
        return text
            .lines()
            .filter_map(|line| {
                let line = line.trim();
                let rest = line
                    .strip_prefix("deb-src ")
                    .or_else(|| line.strip_prefix("deb "))?;
                Some(format!("deb-src {}\n", rest.trim()))
            })
            .collect();
    }
    let mut out = String::new();
    for stanza in text.split("\n\n") {
        let mut types = None;
        let mut lines = Vec::new();
        for line in stanza.lines() {
            if line.trim_start().starts_with('#') {
                continue;
            }
            match line.split_once(':') {
                Some((key, value)) if key.trim().eq_ignore_ascii_case("Types") => {
                    types = Some(
                        value
                            .split_whitespace()
                            .any(|t| t == "deb" || t == "deb-src"),
                    );
                }
                _ => lines.push(line),
            }
        }
        if types == Some(true) && stanza.lines().any(|l| l.contains(':')) {
            out.push_str("Types: deb-src\n");
            for line in lines {
                out.push_str(line);
                out.push('\n');
            }
            out.push('\n');
        }
    }
    out
}

/// The host's apt sources as `deb-src` entries: (file name, contents).
fn host_sources() -> Vec<(String, String)> {
    let mut files = Vec::new();
    if let Ok(text) = fs::read_to_string("/etc/apt/sources.list") {
        files.push(("host.list".to_string(), deb_src_entries(&text, false)));
    }
    if let Ok(dir) = fs::read_dir("/etc/apt/sources.list.d") {
        let mut paths: Vec<PathBuf> = dir.flatten().map(|e| e.path()).collect();
        paths.sort();
        for (i, path) in paths.iter().enumerate() {
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            let deb822 = name.ends_with(".sources");
            if !deb822 && !name.ends_with(".list") {
                continue;
            }
            if let Ok(text) = fs::read_to_string(path) {
                let ext = if deb822 { "sources" } else { "list" };
                files.push((format!("host{i}.{ext}"), deb_src_entries(&text, deb822)));
            }
        }
    }
    files.retain(|(_, text)| !text.trim().is_empty());
    files
}

/// Downloads the source package `package` into `dir/src` and unpacks its
/// upstream tarball (`*.orig.tar.*`) into `dest` (without the tarball's top
/// directory). Returns the source version.
pub fn fetch_upstream_source(
    package: &str,
    dir: &Path,
    dest: &Path,
    progress: &mut dyn FnMut(&str),
) -> Result<String, ImageError> {
    let parts = dir.join("sources.list.d");
    let lists = dir.join("lists");
    let cache = dir.join("cache");
    let src = dir.join("src");
    for d in [
        &parts,
        &lists.join("partial"),
        &cache,
        &src,
        &dest.to_path_buf(),
    ] {
        fs::create_dir_all(d).ctx("create", d)?;
    }
    let sources = host_sources();
    if sources.is_empty() {
        return Err(ImageError::PackageNotFound {
            package: format!("{package} (source)"),
            hint: "apt has no `deb` sources to derive `deb-src` entries from".into(),
        });
    }
    for (name, text) in &sources {
        let path = parts.join(name);
        fs::write(&path, text).ctx("write", &path)?;
    }
    let apt = |args: &[&str]| {
        let mut cmd = Command::new("apt-get");
        cmd.env("LC_ALL", "C")
            .stdin(Stdio::null())
            .current_dir(&src)
            .args(["-q", "-o", "Dir::Etc::SourceList=/dev/null"])
            .arg("-o")
            .arg(format!("Dir::Etc::SourceParts={}", parts.display()))
            .arg("-o")
            .arg(format!("Dir::State::Lists={}", lists.display()))
            .arg("-o")
            .arg(format!("Dir::Cache={}", cache.display()))
            .args(["-o", "Debug::NoLocking=1", "-o", "APT::Sandbox::User=root"])
            .args(args);
        run(cmd)
    };
    progress(&format!(
        "fetching the source index for {package} (apt-get update, deb-src)"
    ));
    apt(&["update"])?;
    progress(&format!(
        "downloading the source of {package} (apt-get source)"
    ));
    apt(&["source", "--download-only", package])?;
    let mut tarballs: Vec<PathBuf> = fs::read_dir(&src)
        .ctx("read", &src)?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name().map(|n| n.to_string_lossy()).is_some_and(|n| {
                n.starts_with(&format!("{package}_"))
                    && n.contains(".orig.tar.")
                    && !n.ends_with(".asc")
            })
        })
        .collect();
    tarballs.sort();
    let tarball = tarballs.pop().ok_or_else(|| ImageError::MissingFile {
        package: format!("{package} (source)"),
        path: format!("{package}_*.orig.tar.*"),
    })?;
    let name = tarball.file_name().unwrap_or_default().to_string_lossy();
    let version = name
        .strip_prefix(&format!("{package}_"))
        .and_then(|v| v.split(".orig.tar.").next())
        .unwrap_or("")
        .to_string();
    let mut tar = Command::new("tar");
    tar.arg("-xf")
        .arg(&tarball)
        .arg("-C")
        .arg(dest)
        .args(["--strip-components=1", "--no-same-owner"]);
    run(tar).map_err(|e| match e {
        ImageError::Apt { command, message } => ImageError::Tool { command, message },
        other => other,
    })?;
    Ok(version)
}

fn run(cmd: Command) -> Result<(), ImageError> {
    crate::images::tool::run(cmd)
        .map(drop)
        .map_err(|(command, message)| ImageError::Apt { command, message })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_lists() {
        let text = "# comment\ndeb http://deb.debian.org/debian bookworm main\n\
                    deb [arch=amd64 signed-by=/k.gpg] http://x/ y z\ndeb-src http://s/ a b\n";
        assert_eq!(
            deb_src_entries(text, false),
            "deb-src http://deb.debian.org/debian bookworm main\n\
             deb-src [arch=amd64 signed-by=/k.gpg] http://x/ y z\ndeb-src http://s/ a b\n"
        );
    }

    #[test]
    fn deb822_sources() {
        let text = "Types: deb\n# note\nURIs: http://deb.debian.org/debian\nSuites: bookworm\n\
                    Components: main\nSigned-By: /usr/share/keyrings/k.gpg\n\n\
                    Types: rpm\nURIs: http://no/\n";
        assert_eq!(
            deb_src_entries(text, true),
            "Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: bookworm\n\
             Components: main\nSigned-By: /usr/share/keyrings/k.gpg\n\n"
        );
    }
}
