//! Writing results: lines on standard output and QR code files.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::Path;

use crate::error::CliError;

/// Writes `text` and a line feed to standard output.
///
/// Unlike `println!`, a closed pipe is an error to report, not a panic.
pub(crate) fn line(text: &str) -> Result<(), CliError> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| {
            if text.ends_with('\n') {
                Ok(())
            } else {
                out.write_all(b"\n")
            }
        })
        .and_then(|()| out.flush())
        .map_err(CliError::WriteStdout)
}

/// Writes `text` to standard output as it is, without adding a line feed.
pub(crate) fn text(text: &str) -> Result<(), CliError> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(CliError::WriteStdout)
}

/// Writes each of `lines` and a line feed to standard output, through one buffer: a window
/// of many codes is a few large writes, not one per code.
pub(crate) fn lines<L: AsRef<str>>(lines: impl IntoIterator<Item = L>) -> Result<(), CliError> {
    let mut out = io::BufWriter::new(io::stdout().lock());
    lines
        .into_iter()
        .try_for_each(|line| {
            out.write_all(line.as_ref().as_bytes())
                .and_then(|()| out.write_all(b"\n"))
        })
        .and_then(|()| out.flush())
        .map_err(CliError::WriteStdout)
}

/// Writes `bytes` to `path`, replacing its content.
///
/// A QR code holds the secret, so a file this creates is readable by its owner only (mode
/// 0600 on Unix); an existing file keeps its permissions.
pub(crate) fn private_file(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
        .open(path)
        .and_then(|mut file| file.write_all(bytes).and_then(|()| file.flush()))
        .map_err(|source| CliError::WriteFile {
            path: path.to_owned(),
            source,
        })
}
