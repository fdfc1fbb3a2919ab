//! [`ImageError`]: everything that can stop disco from providing guest images.

use std::io;
use std::path::PathBuf;

/// Hint appended to errors that a user can sidestep with their own images.
const OWN_IMAGES: &str = "pass --kernel and --initrd to use your own images";

/// Why the guest images could not be provided. Every message is a single line that
/// says what to do about it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImageError {
    /// Neither `DISCO_CACHE`, `XDG_CACHE_HOME` nor `HOME` gives a cache directory.
    #[error("no cache directory for guest images: set DISCO_CACHE (or HOME)")]
    NoCacheDir,

    /// A Debian tool (`apt-get`, `apt-cache`, `dpkg`, `dpkg-deb`) is missing.
    #[error(
        "cannot fetch the Debian guest images: `{tool}` not found (not a Debian system?); \
         {OWN_IMAGES}"
    )]
    NotDebian {
        /// The missing program.
        tool: &'static str,
    },

    /// The mips64el architecture is not enabled in dpkg and we cannot enable it.
    #[error(
        "mips64el packages are not enabled and disco is not root; as root run: \
         dpkg --add-architecture mips64el && apt-get update (or {OWN_IMAGES})"
    )]
    ArchNotEnabled,

    /// A package is unknown to apt.
    #[error("Debian package {package}:mips64el not found; {hint}")]
    PackageNotFound {
        /// The package name.
        package: String,
        /// What to do about it.
        hint: String,
    },

    /// An apt or dpkg command failed (offline, broken sources, ...).
    #[error(
        "`{command}` failed: {message} (check the network and apt's sources, or {OWN_IMAGES})"
    )]
    Apt {
        /// The command line that failed.
        command: String,
        /// Its last error line.
        message: String,
    },

    /// A tool building the root disk (`dpkg-deb`, `tar`, `mke2fs`, `e2fsck`)
    /// failed.
    #[error("`{command}` failed: {message}")]
    Tool {
        /// The command line that failed.
        command: String,
        /// Its last error line.
        message: String,
    },

    /// A downloaded package lacks a file we need.
    #[error("package {package} contains no {path}; {OWN_IMAGES}")]
    MissingFile {
        /// The package name.
        package: String,
        /// The path (pattern) inside the package.
        path: String,
    },

    /// A kernel module in the kernel package is compressed (`.ko.xz`, `.ko.zst`,
    /// `.ko.gz`); the initramfs needs plain `.ko` files, and disco does not
    /// decompress them.
    #[error(
        "{path} in {package} is a compressed kernel module, which disco cannot put into \
         the initramfs (it needs uncompressed .ko files); {OWN_IMAGES}"
    )]
    CompressedModule {
        /// The package name.
        package: String,
        /// The module's path inside the package.
        path: String,
    },

    /// A file from a package is not a little-endian MIPS ELF64 binary.
    #[error("{path} from {package} is not a little-endian MIPS ELF64 file; {OWN_IMAGES}")]
    BadBinary {
        /// The package name.
        package: String,
        /// The path inside the package.
        path: String,
    },

    /// Reading or writing the image cache failed.
    #[error("cannot {action} {path}: {source} (set DISCO_CACHE to use another cache directory)")]
    Io {
        /// What was being done ("create", "write", ...).
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
}

impl ImageError {
    /// An [`ImageError::Io`] for `action` on `path`.
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        ImageError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

/// Attaches an action and path to `io::Result`s.
pub(crate) trait IoContext<T> {
    /// Maps the error to [`ImageError::Io`].
    fn ctx(self, action: &'static str, path: impl Into<PathBuf>) -> Result<T, ImageError>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn ctx(self, action: &'static str, path: impl Into<PathBuf>) -> Result<T, ImageError> {
        self.map_err(|e| ImageError::io(action, path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_single_lines_with_advice() {
        let errors = [
            ImageError::NoCacheDir,
            ImageError::NotDebian { tool: "apt-get" },
            ImageError::ArchNotEnabled,
            ImageError::PackageNotFound {
                package: "busybox-static".into(),
                hint: "as root run: apt-get update".into(),
            },
            ImageError::Apt {
                command: "apt-get download x".into(),
                message: "E: Failed to fetch".into(),
            },
            ImageError::MissingFile {
                package: "p".into(),
                path: "bin/busybox".into(),
            },
            ImageError::BadBinary {
                package: "p".into(),
                path: "boot/vmlinuz-x".into(),
            },
            ImageError::CompressedModule {
                package: "p".into(),
                path: "lib/modules/6.1.0-50-mips64r2el/kernel/drivers/virtio/virtio.ko.xz".into(),
            },
            ImageError::io("write", "/x", io::Error::other("disk full")),
        ];
        for e in errors {
            let msg = e.to_string();
            assert!(!msg.contains('\n'), "{msg}");
            assert!(
                msg.contains("--kernel and --initrd")
                    || msg.contains("as root run")
                    || msg.contains("DISCO_CACHE"),
                "no advice in: {msg}"
            );
        }
        assert!(ImageError::ArchNotEnabled
            .to_string()
            .contains("dpkg --add-architecture mips64el && apt-get update"));
    }
}
