//! Opening a file: gzip by magic bytes, a first block for sniffing, text checks, the header
//! line and its separator.

use std::fs::File;
use std::io::{BufReader, Cursor, Read};
use std::path::Path;

use flate2::read::MultiGzDecoder;

use super::IngestError;

/// Size of the block read up front to sniff the format.
const HEAD_LEN: usize = 64 * 1024;

/// An opened file: the first block (decompressed) and a reader for the rest.
pub(crate) struct Source {
    /// The first bytes of the (decompressed) content.
    pub head: Vec<u8>,
    /// True if the file was gzip-compressed.
    pub gzip: bool,
    rest: Box<dyn Read>,
}

impl Source {
    /// Opens `path`, unwrapping gzip when the first two bytes are `1f 8b`.
    pub fn open(path: &Path) -> Result<Source, IngestError> {
        let io = |source| IngestError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut file = BufReader::with_capacity(256 * 1024, File::open(path).map_err(io)?);
        let mut magic = [0u8; 2];
        let got = read_full(&mut file, &mut magic).map_err(io)?;
        let raw = Cursor::new(magic[..got].to_vec()).chain(file);
        let (gzip, mut rest): (bool, Box<dyn Read>) = if got == 2 && magic == [0x1f, 0x8b] {
            (
                true,
                Box::new(BufReader::with_capacity(
                    256 * 1024,
                    MultiGzDecoder::new(raw),
                )),
            )
        } else {
            (false, Box::new(raw))
        };
        let mut head = vec![0u8; HEAD_LEN];
        let n = read_full(&mut rest, &mut head).map_err(|e| IngestError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::new(e.kind(), format!("reading the gzip stream: {e}")),
        })?;
        head.truncate(n);
        Ok(Source { head, gzip, rest })
    }

    /// True if the content starts with the Parquet magic `PAR1`.
    pub fn is_parquet(&self) -> bool {
        self.head.starts_with(b"PAR1")
    }

    /// Checks the first block is text: no NUL byte and valid UTF-8.
    pub fn check_text(&self, path: &Path) -> Result<(), IngestError> {
        if let Some(at) = self.head.iter().position(|&b| b == 0) {
            return Err(IngestError::NotText {
                path: path.to_path_buf(),
                detail: format!("a NUL byte at offset {at}"),
            });
        }
        if let Err(e) = std::str::from_utf8(&self.head) {
            // An error without a length is a character cut by the end of the block.
            if e.error_len().is_some() || self.head.len() < HEAD_LEN {
                let line = 1 + self.head[..e.valid_up_to()]
                    .iter()
                    .filter(|&&b| b == b'\n')
                    .count();
                return Err(IngestError::NotText {
                    path: path.to_path_buf(),
                    detail: format!("invalid UTF-8 at byte {} (line {line})", e.valid_up_to()),
                });
            }
        }
        Ok(())
    }

    /// The whole content as one reader (first block then the rest).
    pub fn into_reader(self) -> Box<dyn Read> {
        Box::new(Cursor::new(self.head).chain(self.rest))
    }

    /// Reads everything into memory (gzip-compressed Parquet needs random access).
    pub fn into_bytes(self, path: &Path) -> Result<Vec<u8>, IngestError> {
        let mut all = Vec::new();
        self.into_reader()
            .read_to_end(&mut all)
            .map_err(|source| IngestError::Io {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(all)
    }

    /// The first line, without its line ending (empty if the block has none).
    pub fn first_line(&self) -> &str {
        let end = self
            .head
            .iter()
            .position(|&b| b == b'\n')
            .unwrap_or(self.head.len());
        let line = std::str::from_utf8(&self.head[..end]).unwrap_or("");
        line.trim_end_matches('\r').trim_start_matches('\u{feff}')
    }
}

fn read_full(r: &mut dyn Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// A separator chosen for a header, with whether fields need trimming (`;` + tab).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Separator {
    pub byte: u8,
    pub trim: bool,
}

/// Picks the separator of `header`: the given one, else `;`+tab (Bitbrains raw), else the
/// most frequent of `,` tab `;` `|` (`,` when none occurs).
pub(crate) fn choose_separator(header: &str, given: Option<u8>) -> Separator {
    if let Some(byte) = given {
        return Separator {
            byte,
            trim: header.contains(";\t"),
        };
    }
    if header.contains(";\t") {
        return Separator {
            byte: b';',
            trim: true,
        };
    }
    let mut best = (0, b',');
    for c in [b',', b'\t', b';', b'|'] {
        let n = header.bytes().filter(|&b| b == c).count();
        if n > best.0 {
            best = (n, c);
        }
    }
    Separator {
        byte: best.1,
        trim: false,
    }
}

/// Human name of a separator byte for messages.
pub(crate) fn separator_name(b: u8) -> String {
    match b {
        b'\t' => "tab".into(),
        b' ' => "space".into(),
        c => format!("`{}`", c as char),
    }
}

/// Characters in `header` that look like a separator other than `used`, for hints.
pub(crate) fn other_separators(header: &str, used: u8) -> Vec<u8> {
    [b',', b';', b'\t', b'|', b':', b' ']
        .into_iter()
        .filter(|&c| c != used && header.as_bytes().contains(&c))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separators() {
        assert_eq!(
            choose_separator("a,b,c", None),
            Separator {
                byte: b',',
                trim: false
            }
        );
        assert_eq!(choose_separator("a;b;c", None).byte, b';');
        assert_eq!(choose_separator("a\tb", None).byte, b'\t');
        assert_eq!(
            choose_separator("Timestamp [ms];\tCPU cores", None),
            Separator {
                byte: b';',
                trim: true
            }
        );
        assert_eq!(choose_separator("a;b", Some(b',')).byte, b',');
        assert_eq!(other_separators("a;b c", b','), vec![b';', b' ']);
        assert_eq!(separator_name(b'\t'), "tab");
    }

    #[test]
    fn gzip_and_text_checks() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x");
        std::fs::write(&p, b"ok\xff\n").unwrap();
        let s = Source::open(&p).unwrap();
        assert!(!s.gzip);
        let e = s.check_text(&p).unwrap_err().to_string();
        assert!(e.contains("invalid UTF-8 at byte 2 (line 1)"), "{e}");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, b"h1,h2\r\n1,2\n").unwrap();
        std::fs::write(&p, gz.finish().unwrap()).unwrap();
        let s = Source::open(&p).unwrap();
        assert!(s.gzip && s.check_text(&p).is_ok());
        assert_eq!(s.first_line(), "h1,h2");
        let mut all = String::new();
        s.into_reader().read_to_string(&mut all).unwrap();
        assert_eq!(all, "h1,h2\r\n1,2\n");
    }
}
