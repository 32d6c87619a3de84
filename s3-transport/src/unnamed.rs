//! An unnamed temporary file in the destination's directory (Linux `O_TMPFILE`), for a
//! single-pass `get_object_to_file`: the GET machine decrypts into it before the object's tag is
//! checked (the core's hazmat `unverified_plaintext_storage`), which is safe only because the file
//! has no name until it is linked, and it is linked only after the machine said `Done`. If the read
//! fails, or the process dies, the file goes away when its descriptor closes: no plaintext is left
//! anywhere, named or not.
//!
//! Elsewhere (other systems, a filesystem without `O_TMPFILE`, no `/proc`), [`UnnamedFile::create_in`]
//! answers `None` and the caller takes the portable two-pass path.

use std::fs::File;
use std::io;
use std::path::Path;

/// A file with no name in a directory, to be linked into place once its content is verified.
pub(crate) struct UnnamedFile {
    file: File,
}

impl UnnamedFile {
    /// An unnamed file (mode 0600) in `dir`, or `None` where this system or filesystem has none.
    pub(crate) fn create_in(dir: &Path) -> io::Result<Option<UnnamedFile>> {
        imp::create_in(dir).map(|f| f.map(|file| UnnamedFile { file }))
    }

    /// The file, to read and write at offsets.
    pub(crate) fn file(&self) -> &File {
        &self.file
    }

    /// Give the file the name `path` (replacing what is there, as a rename does). Call only with
    /// verified content: from here on, anyone who may open `path` sees it.
    pub(crate) fn link_as(self, path: &Path) -> io::Result<()> {
        imp::link_as(&self.file, path)
    }
}

#[cfg(target_os = "linux")]
mod imp {
    use rustix::fs::{AtFlags, CWD, Mode, OFlags, linkat, openat};
    use rustix::io::Errno;
    use std::fs::File;
    use std::io;
    use std::os::fd::AsRawFd;
    use std::path::{Path, PathBuf};

    /// Whether `/proc/self/fd` is there to link through.
    fn proc_fd() -> bool {
        Path::new("/proc/self/fd").is_dir()
    }

    pub(super) fn create_in(dir: &Path) -> io::Result<Option<File>> {
        if !proc_fd() {
            return Ok(None);
        }
        let flags = OFlags::TMPFILE | OFlags::RDWR | OFlags::CLOEXEC;
        match openat(CWD, dir, flags, Mode::from_raw_mode(0o600)) {
            Ok(fd) => Ok(Some(File::from(fd))),
            // No O_TMPFILE on this filesystem (EOPNOTSUPP), or a kernel without it (EISDIR:
            // O_DIRECTORY alone; EINVAL): the portable path.
            Err(e) if e == Errno::OPNOTSUPP || e == Errno::ISDIR || e == Errno::INVAL => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    pub(super) fn link_as(file: &File, path: &Path) -> io::Result<()> {
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        };
        let proc = format!("/proc/self/fd/{}", file.as_raw_fd());
        // A fresh name beside the destination (retried while taken), then renamed over it, so an
        // existing file is replaced atomically as before; a failed rename removes the name.
        let named = tempfile::Builder::new()
            .prefix(".s3ec-")
            .suffix(".part")
            .make_in(&dir, |name| {
                linkat(CWD, proc.as_str(), CWD, name, AtFlags::SYMLINK_FOLLOW)
                    .map_err(io::Error::from)
            })?;
        named.persist(path).map_err(|e| e.error)
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use std::fs::File;
    use std::io;
    use std::path::Path;

    pub(super) fn create_in(_dir: &Path) -> io::Result<Option<File>> {
        Ok(None)
    }

    pub(super) fn link_as(_file: &File, _path: &Path) -> io::Result<()> {
        Err(io::Error::from(io::ErrorKind::Unsupported))
    }
}
