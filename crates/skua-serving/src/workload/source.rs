//! Opening trace files: plain or gzip (recognised by its magic bytes, not the file name), with
//! Windows line endings turned into plain `\n`.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use flate2::read::MultiGzDecoder;

use super::error::WorkloadError;

/// The two bytes every gzip member starts with (RFC 1952).
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Opens `path` for reading, decompressing it when it is gzip.
pub(crate) fn open_path(path: &Path) -> Result<Box<dyn BufRead>, WorkloadError> {
    let file = File::open(path).map_err(|source| WorkloadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    wrap_reader(file, &path.display().to_string())
}

/// Buffers `reader`, decompressing it when it starts with the gzip magic bytes, and drops
/// carriage returns (see [`StripCr`]).
pub(crate) fn wrap_reader<'a, R: Read + 'a>(
    reader: R,
    name: &str,
) -> Result<Box<dyn BufRead + 'a>, WorkloadError> {
    let mut buffered = BufReader::with_capacity(1 << 16, reader);
    let head = buffered.fill_buf().map_err(|source| WorkloadError::Io {
        path: name.into(),
        source,
    })?;
    let text: Box<dyn Read + 'a> = if head.starts_with(&GZIP_MAGIC) {
        Box::new(MultiGzDecoder::new(buffered))
    } else {
        Box::new(buffered)
    };
    Ok(Box::new(BufReader::with_capacity(1 << 16, StripCr(text))))
}

/// A reader that leaves out every `\r` byte.
///
/// ServeGen's files end lines with `\r\n`, and the `csv` crate then reports every record
/// after the first one line too early; without the `\r` its line numbers are the editor's.
/// A `\r` has no meaning inside the numeric, JSON and CSV fields these formats hold.
struct StripCr<R>(R);

impl<R: Read> Read for StripCr<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            let n = self.0.read(buf)?;
            if n == 0 {
                return Ok(0);
            }
            let mut kept = 0;
            for i in 0..n {
                if buf[i] != b'\r' {
                    buf[kept] = buf[i];
                    kept += 1;
                }
            }
            // A chunk of nothing but `\r` must not look like the end of the stream.
            if kept > 0 {
                return Ok(kept);
            }
        }
    }
}

/// A workload name from a path: the file name without `.gz` and without its extension.
pub(crate) fn stem_name(path: &Path) -> String {
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let file = file.strip_suffix(".gz").unwrap_or(&file);
    match file.rsplit_once('.') {
        Some((stem, _)) if !stem.is_empty() => stem.to_owned(),
        _ => file.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::Compression;
    use flate2::write::GzEncoder;

    use super::*;

    fn read_all(mut r: Box<dyn BufRead + '_>) -> String {
        let mut s = String::new();
        r.read_to_string(&mut s).expect("readable");
        s
    }

    #[test]
    fn plain_text_passes_through() {
        let text = "a,b\n1,2\n";
        let r = wrap_reader(text.as_bytes(), "t").expect("opens");
        assert_eq!(read_all(r), text);
    }

    #[test]
    fn gzip_is_recognised_by_magic_bytes() {
        let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
        enc.write_all(b"x,y\n3,4\n").expect("write");
        let gz = enc.finish().expect("finish");
        let r = wrap_reader(gz.as_slice(), "t").expect("opens");
        assert_eq!(read_all(r), "x,y\n3,4\n");
    }

    #[test]
    fn carriage_returns_are_dropped() {
        let r = wrap_reader("a,b\r\n1,2\r\n\r\r\n".as_bytes(), "t").expect("opens");
        assert_eq!(read_all(r), "a,b\n1,2\n\n");
    }

    #[test]
    fn missing_file_is_an_io_error_naming_the_path() {
        let Err(err) = open_path(Path::new("/definitely/not/here.csv")) else {
            panic!("a missing file must not open");
        };
        assert!(matches!(err, WorkloadError::Io { .. }));
        assert!(err.to_string().contains("/definitely/not/here.csv"));
    }

    #[test]
    fn stem_drops_gz_and_extension() {
        assert_eq!(stem_name(Path::new("/a/trace.csv.gz")), "trace");
        assert_eq!(stem_name(Path::new("conv.jsonl")), "conv");
        assert_eq!(stem_name(Path::new("noext")), "noext");
    }
}
