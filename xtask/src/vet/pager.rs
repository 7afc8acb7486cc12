//! Long output for a reader: through a pager when stdout is a terminal
//! (`$PAGER`, else `less -FRX`: quits when the text fits, keeps it on the
//! screen), plain on stdout otherwise. Writing streams: the pager shows
//! the first lines while later ones are still being computed.

use std::io::{self, IsTerminal, Write};

/// Where review text goes.
pub enum Output {
    Pager {
        handle: Box<duct::Handle>,
        pipe: io::BufWriter<os_pipe::PipeWriter>,
    },
    Stdout(io::BufWriter<io::Stdout>),
}

impl Output {
    /// A pager on a terminal (unless `plain`), stdout otherwise. A pager
    /// that cannot start falls back to stdout.
    pub fn open(plain: bool) -> Output {
        let stdout = || Output::Stdout(io::BufWriter::new(io::stdout()));
        if plain || !io::stdout().is_terminal() {
            return stdout();
        }
        let pager = std::env::var("PAGER")
            .ok()
            .filter(|p| !p.trim().is_empty())
            .unwrap_or_else(|| "less -FRX".to_owned());
        let mut words = pager.split_whitespace();
        let Some(program) = words.next() else {
            return stdout();
        };
        let args: Vec<&str> = words.collect();
        let Ok((reader, writer)) = os_pipe::pipe() else {
            return stdout();
        };
        match duct::cmd(program, &args)
            .stdin_file(reader)
            .unchecked()
            .start()
        {
            Ok(handle) => Output::Pager {
                handle: Box::new(handle),
                pipe: io::BufWriter::new(writer),
            },
            Err(_) => stdout(),
        }
    }

    /// Flushes, closes the pipe and waits for the pager to quit.
    pub fn finish(self) -> io::Result<()> {
        match self {
            Output::Pager { handle, mut pipe } => {
                // The reader may have quit early (q in less): a broken pipe
                // is not an error then.
                let flushed = pipe.flush();
                drop(pipe);
                handle.wait()?;
                match flushed {
                    Err(err) if err.kind() != io::ErrorKind::BrokenPipe => Err(err),
                    _ => Ok(()),
                }
            }
            Output::Stdout(mut out) => out.flush(),
        }
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Output::Pager { pipe, .. } => pipe.write(buf),
            Output::Stdout(out) => out.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Output::Pager { pipe, .. } => pipe.flush(),
            Output::Stdout(out) => out.flush(),
        }
    }
}

/// Whether an error is the reader having gone away (a pager quit, `| head`).
pub fn is_broken_pipe(err: &io::Error) -> bool {
    err.kind() == io::ErrorKind::BrokenPipe
}
