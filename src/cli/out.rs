//! Standard output for commands. `print!` panics when the reader has gone
//! away (`tend segment list … | head`); here every write returns
//! `io::Result` instead, and a closed pipe comes back marked as
//! [`StdoutClosed`], which the CLI edge turns into a quiet, successful exit.
//! Rust ignores SIGPIPE, so a closed pipe always surfaces as `BrokenPipe`.

use std::io::{self, Write};

/// The reader of standard output went away: nothing is wrong with tend.
#[derive(Debug, thiserror::Error)]
#[error("standard output was closed by its reader")]
pub struct StdoutClosed;

/// Standard output as an `io::Write` whose errors mark a closed pipe.
#[derive(Debug, Clone, Copy, Default)]
pub struct Stdout;

fn mark(error: io::Error) -> io::Error {
    if error.kind() == io::ErrorKind::BrokenPipe {
        io::Error::new(io::ErrorKind::BrokenPipe, StdoutClosed)
    } else {
        error
    }
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        io::stdout().write(buf).map_err(mark)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        io::stdout().lock().write_all(buf).map_err(mark)
    }

    fn write_fmt(&mut self, args: std::fmt::Arguments<'_>) -> io::Result<()> {
        io::stdout().lock().write_fmt(args).map_err(mark)
    }

    fn flush(&mut self) -> io::Result<()> {
        io::stdout().flush().map_err(mark)
    }
}

/// Whether `error` is, anywhere in its chain, standard output closed by its
/// reader (and not some other broken pipe, e.g. to a server).
pub fn stdout_closed(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause.downcast_ref::<io::Error>().is_some_and(|io| {
            io.kind() == io::ErrorKind::BrokenPipe
                && io.get_ref().is_some_and(|inner| inner.is::<StdoutClosed>())
        })
    })
}

/// `print!` to [`Stdout`]: evaluates to `io::Result<()>`.
macro_rules! out {
    ($($arg:tt)*) => {
        ::std::io::Write::write_fmt(&mut $crate::cli::out::Stdout, format_args!($($arg)*))
    };
}

/// `println!` to [`Stdout`]: evaluates to `io::Result<()>`.
macro_rules! outln {
    () => {
        ::std::io::Write::write_all(&mut $crate::cli::out::Stdout, b"\n")
    };
    ($($arg:tt)*) => {
        ::std::io::Write::write_fmt(
            &mut $crate::cli::out::Stdout,
            format_args!("{}\n", format_args!($($arg)*)),
        )
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_marked_broken_pipe_counts_as_closed_stdout() {
        let closed: anyhow::Error = mark(io::Error::from(io::ErrorKind::BrokenPipe)).into();
        assert!(stdout_closed(&closed));
        assert!(stdout_closed(&closed.context("printing the list")));
        // A broken pipe elsewhere (an SMTP socket, a child process) is a real failure.
        let other: anyhow::Error = io::Error::from(io::ErrorKind::BrokenPipe).into();
        assert!(!stdout_closed(&other));
        let full: anyhow::Error = mark(io::Error::from(io::ErrorKind::StorageFull)).into();
        assert!(!stdout_closed(&full));
    }
}
