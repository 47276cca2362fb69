//! Report text decoding: raw document bytes (maybe gzip, maybe not UTF-8) in, UTF-8 text out,
//! streamed through fixed buffers so a large document never sits whole in memory.
//!
//! Amazon names the charset in the download's `Content-Type` (`charset=UTF-8`, `Cp1252`, Java's
//! name for windows-1252 common in EU files, `ISO-8859-1`, and for JP `Shift_JIS` or
//! `windows-31j`; see amzn/selling-partner-api-models issues #1517, #2748, #4955). spsync keeps
//! that `Content-Type` next to the raw object in S3 and decodes on import with
//! [`decode_reader`]. Labels are WHATWG labels (as `encoding_rs` knows them) plus the Java
//! aliases `Cp1252`, `MS1252`, `Cp932`, `windows-31j`; ISO-8859-1 decodes as windows-1252, its
//! superset, as browsers do. An unknown charset is an error, never a guess: the wrong table
//! would silently corrupt names and addresses.
//!
//! The UTF-8 byte-order mark is passed through (the report parser strips it); malformed
//! input becomes U+FFFD.
//!
//! ```
//! use std::io::Read;
//! use spsync_domain::text::{charset_of_content_type, decode_reader};
//!
//! let raw: &[u8] = b"caf\xe9 \x80"; // windows-1252
//! let charset = charset_of_content_type("text/plain; charset=Cp1252");
//! let mut text = String::new();
//! decode_reader(raw, false, charset)?.read_to_string(&mut text)?;
//! assert_eq!(text, "café €");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::io::{self, Read};

use encoding_rs::{CoderResult, Encoding};
use flate2::read::MultiGzDecoder;

const BUF_SIZE: usize = 32 * 1024;

/// The charset label is not one spsync can decode (permanent: the document cannot be read).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported charset {0:?}")]
pub struct UnknownCharset(pub String);

/// The `charset` parameter of a `Content-Type` value (`text/plain; charset=Cp1252` →
/// `Cp1252`), unquoted and trimmed; `None` when there is none.
pub fn charset_of_content_type(ct: &str) -> Option<&str> {
    ct.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        let value = value.trim().trim_matches('"').trim();
        (name.trim().eq_ignore_ascii_case("charset") && !value.is_empty()).then_some(value)
    })
}

/// The encoding for a charset label (`None` = UTF-8).
pub fn encoding_for_charset(charset: Option<&str>) -> Result<&'static Encoding, UnknownCharset> {
    let Some(label) = charset.map(str::trim).filter(|l| !l.is_empty()) else {
        return Ok(encoding_rs::UTF_8);
    };
    let java_alias = match label.to_ascii_lowercase().as_str() {
        "cp932" | "x-ms932_0213" => Some(encoding_rs::SHIFT_JIS),
        "ms1252" => Some(encoding_rs::WINDOWS_1252),
        _ => None,
    };
    java_alias
        .or_else(|| Encoding::for_label(label.as_bytes()))
        .ok_or_else(|| UnknownCharset(label.to_owned()))
}

/// UTF-8 text from raw document bytes: gunzip (all gzip members) when `gzip`, then transcode
/// from `charset` (`None` = UTF-8). Streams through fixed buffers.
///
/// Errors from the returned reader are `io::Error`s: corrupt gzip surfaces as
/// [`io::ErrorKind::InvalidData`] (permanent), anything else comes from `raw`.
pub fn decode_reader<'a, R: Read + 'a>(
    raw: R,
    gzip: bool,
    charset: Option<&str>,
) -> Result<Box<dyn Read + 'a>, UnknownCharset> {
    let encoding = encoding_for_charset(charset)?;
    let source: Box<dyn Read + 'a> = if gzip {
        Box::new(MultiGzDecoder::new(raw))
    } else {
        Box::new(raw)
    };
    Ok(Box::new(Transcoder::new(source, encoding)))
}

/// A `Read` adapter decoding `encoding` into UTF-8 through two fixed buffers.
struct Transcoder<R> {
    source: R,
    decoder: encoding_rs::Decoder,
    input: Box<[u8]>,
    in_start: usize,
    in_end: usize,
    output: Box<[u8]>,
    out_start: usize,
    out_end: usize,
    eof: bool,
    done: bool,
}

impl<R: Read> Transcoder<R> {
    fn new(source: R, encoding: &'static Encoding) -> Self {
        Self {
            source,
            // The BOM is left in the text for the parser; sniffing it here would let a BOM
            // override the charset Amazon declared.
            decoder: encoding.new_decoder_without_bom_handling(),
            input: vec![0; BUF_SIZE].into_boxed_slice(),
            in_start: 0,
            in_end: 0,
            output: vec![0; BUF_SIZE].into_boxed_slice(),
            out_start: 0,
            out_end: 0,
            eof: false,
            done: false,
        }
    }
}

impl<R: Read> Read for Transcoder<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if self.out_start < self.out_end {
                let n = (self.out_end - self.out_start).min(buf.len());
                buf[..n].copy_from_slice(&self.output[self.out_start..self.out_start + n]);
                self.out_start += n;
                return Ok(n);
            }
            if self.done {
                return Ok(0);
            }
            if self.in_start == self.in_end && !self.eof {
                let n = loop {
                    match self.source.read(&mut self.input) {
                        Ok(n) => break n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => return Err(e),
                    }
                };
                self.in_start = 0;
                self.in_end = n;
                self.eof = n == 0;
            }
            let (result, read, written, _replaced) = self.decoder.decode_to_utf8(
                &self.input[self.in_start..self.in_end],
                &mut self.output,
                self.eof,
            );
            self.in_start += read;
            self.out_start = 0;
            self.out_end = written;
            if self.eof && result == CoderResult::InputEmpty {
                self.done = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use std::io::Write;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut enc = GzEncoder::new(Vec::new(), Compression::default());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    }

    /// Hands out at most `chunk` bytes per read, to put chunk boundaries inside characters.
    struct Trickle<'a> {
        data: &'a [u8],
        chunk: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.data.len().min(self.chunk).min(buf.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    fn decode(raw: &[u8], gzip: bool, charset: Option<&str>, chunk: usize) -> String {
        let mut reader = decode_reader(Trickle { data: raw, chunk }, gzip, charset).unwrap();
        let mut out = String::new();
        // Read through a small buffer too, so output boundaries fall inside characters.
        let mut buf = [0u8; 3];
        let mut bytes = Vec::new();
        loop {
            let n = reader.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            bytes.extend_from_slice(&buf[..n]);
        }
        out.push_str(std::str::from_utf8(&bytes).unwrap());
        out
    }

    #[test]
    fn charsets_decode_to_utf8_plain_and_gzip_at_any_chunk_size() {
        let text = "amazon-order-id\tproduct-name\n111-1\tCafé crème € 5\n222-2\tテスト商品 ﾃｽﾄ\n";
        let latin = "amazon-order-id\tproduct-name\n111-1\tCafé crème € 5\n";
        let japanese = "amazon-order-id\tproduct-name\n222-2\tテスト商品 ﾃｽﾄ ①\n";
        let (sjis, _, lossy) = encoding_rs::SHIFT_JIS.encode(japanese);
        assert!(!lossy);
        let (eucjp, _, lossy) = encoding_rs::EUC_JP.encode(japanese);
        assert!(!lossy);
        let (cp1252, _, lossy) = encoding_rs::WINDOWS_1252.encode(latin);
        assert!(!lossy);
        let cases: Vec<(Option<&str>, Vec<u8>, &str)> = vec![
            (None, text.as_bytes().to_vec(), text),
            (Some("UTF-8"), text.as_bytes().to_vec(), text),
            (Some("utf8"), text.as_bytes().to_vec(), text),
            (Some("windows-1252"), cp1252.to_vec(), latin),
            (Some("Cp1252"), cp1252.to_vec(), latin),
            (Some("ISO-8859-1"), cp1252.to_vec(), latin),
            (Some("Shift_JIS"), sjis.to_vec(), japanese),
            (Some("windows-31j"), sjis.to_vec(), japanese),
            (Some("Cp932"), sjis.to_vec(), japanese),
            (Some("EUC-JP"), eucjp.to_vec(), japanese),
        ];
        for (charset, raw, expected) in cases {
            for chunk in [1, 2, 3, 7, 4096] {
                assert_eq!(
                    decode(&raw, false, charset, chunk),
                    expected,
                    "{charset:?} {chunk}"
                );
                assert_eq!(
                    decode(&gzip(&raw), true, charset, chunk),
                    expected,
                    "gzip {charset:?} {chunk}"
                );
            }
        }
    }

    #[test]
    fn cp1252_bytes_map_to_their_characters() {
        assert_eq!(
            decode(b"\xe9\x80\x93\x94", false, Some("Cp1252"), 1),
            "é€“”"
        );
    }

    #[test]
    fn concatenated_gzip_members_are_read_to_the_end() {
        let mut raw = gzip(b"first\n");
        raw.extend(gzip(b"second\n"));

        assert_eq!(decode(&raw, true, None, 5), "first\nsecond\n");
    }

    #[test]
    fn utf8_bom_passes_through_for_the_parser() {
        assert_eq!(
            decode(b"\xef\xbb\xbfa\tb\n", false, Some("utf-8"), 2),
            "\u{feff}a\tb\n"
        );
    }

    #[test]
    fn malformed_input_becomes_replacement_characters() {
        assert_eq!(decode(b"ok \xff!", false, None, 1), "ok \u{fffd}!");
        assert_eq!(decode(b"\x82", false, Some("Shift_JIS"), 1), "\u{fffd}");
    }

    #[test]
    fn corrupt_gzip_is_invalid_data() {
        let mut raw = gzip(b"some text that compresses\n");
        let mid = raw.len() / 2;
        raw[mid] ^= 0xff;
        raw.truncate(raw.len() - 4);
        let mut reader = decode_reader(&raw[..], true, None).unwrap();

        let err = reader.read_to_end(&mut Vec::new()).unwrap_err();

        assert!(
            matches!(
                err.kind(),
                io::ErrorKind::InvalidData
                    | io::ErrorKind::InvalidInput
                    | io::ErrorKind::UnexpectedEof
            ),
            "{err:?}"
        );
    }

    #[test]
    fn unknown_charset_is_an_error_not_a_guess() {
        let err = decode_reader(&b""[..], false, Some("klingon-8")).err();

        assert_eq!(err, Some(UnknownCharset("klingon-8".into())));
    }

    #[test]
    fn charset_is_read_from_content_type() {
        let cases = [
            ("text/plain; charset=Cp1252", Some("Cp1252")),
            ("text/plain;charset=UTF-8", Some("UTF-8")),
            (
                "text/tab-separated-values; CHARSET=\"Shift_JIS\"",
                Some("Shift_JIS"),
            ),
            (
                "text/plain; format=flowed; charset= windows-31j ",
                Some("windows-31j"),
            ),
            ("text/plain", None),
            ("text/plain; charset=", None),
            ("charset=UTF-8", None),
        ];
        for (ct, expected) in cases {
            assert_eq!(charset_of_content_type(ct), expected, "{ct}");
        }
    }
}
