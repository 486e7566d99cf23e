//! Readers and writers of expert-load statistics and placements.

pub mod esft;
pub mod export;
pub mod golden;
pub mod long;
pub mod olmoe;
pub mod trtllm;

use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use crate::MoeError;

/// Opens a file for reading, decompressing gzip when the file starts with gzip's magic bytes.
pub fn open(path: &Path) -> Result<Box<dyn BufRead>, MoeError> {
    let io = |source| MoeError::Io {
        path: path.display().to_string(),
        source,
    };
    let mut file = BufReader::new(std::fs::File::open(path).map_err(io)?);
    let magic = file.fill_buf().map_err(io)?;
    if magic.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(BufReader::new(flate2::read::MultiGzDecoder::new(
            file,
        ))))
    } else {
        Ok(Box::new(file))
    }
}

/// A parse error of `origin` at `at` (`line 3`, `line 3, field 2`, …).
pub(crate) fn parse_error(origin: &str, at: String, message: String) -> MoeError {
    MoeError::Parse {
        path: origin.to_string(),
        at,
        message,
    }
}

/// A CSV reader (fields trimmed) and its header row; an unreadable header is an error at line 1.
pub(crate) fn csv_with_header<R: std::io::Read>(
    input: R,
    origin: &str,
) -> Result<(csv::Reader<R>, csv::StringRecord), MoeError> {
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(input);
    let header = rdr
        .headers()
        .map_err(|e| parse_error(origin, "line 1".into(), e.to_string()))?
        .clone();
    Ok((rdr, header))
}

/// Reads a whole (possibly gzipped) file as UTF-8 text.
pub fn read_text(path: &Path) -> Result<String, MoeError> {
    let mut s = String::new();
    open(path)?
        .read_to_string(&mut s)
        .map_err(|source| MoeError::Io {
            path: path.display().to_string(),
            source,
        })?;
    Ok(s)
}

/// Writes `bytes` to `path` atomically: a temporary file in the same directory, then a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), MoeError> {
    let io = |source| MoeError::Io {
        path: path.display().to_string(),
        source,
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io(e)
    })
}
