//! Report and feed documents: streamed download from presigned URLs, gzip and charset decoding.
//!
//! Two halves, usable separately:
//! * **Transfer** ([`DocumentsApi`]): `GET` a presigned URL and stream the raw bytes chunk by
//!   chunk ([`DocumentStream`], built on `Response::chunk()`), e.g. into S3 verbatim.
//! * **Decoding** ([`DocumentDecoder`], a `Write` adapter, and [`DocumentReader`], a `Read`
//!   adapter): raw bytes + `Content-Type` + `compressionAlgorithm` in, UTF-8 text out,
//!   incrementally, so a 1 GB document never sits whole in memory.
//!
//! Gzip is detected from `compressionAlgorithm: GZIP` or from the gzip magic bytes (`1f 8b`);
//! concatenated gzip members are read to the end. The charset comes from the `Content-Type`
//! `charset` parameter: Amazon serves `UTF-8`, `Cp1252` (Java's name for windows-1252,
//! common in EU listings reports), `ISO-8859-1`, and for JP `Shift_JIS` / `windows-31j` /
//! `MS932` (see amzn/selling-partner-api-models issues #1517, #2748, #4955). Without a charset
//! the text is UTF-8. A byte-order mark is removed (and, as in browsers, a BOM overrides the
//! declared charset). Malformed sequences become U+FFFD and are counted in [`DecodeStats`].
//!
//! For a large document on its way to S3, [`DocumentsApi::open`] + [`DocumentStream::next_chunk`]
//! is the streaming route (e.g. into a multipart upload); `download_raw` / `download_text` are
//! for sinks that take the whole document.
//!
//! Errors: transfers return [`SpApiError`] directly. The `Write` / `Read` adapters speak
//! `std::io`; [`document_io_error`] turns their `io::Error` into an [`SpApiError`]
//! (`InvalidDocument`, permanent, for corrupt data; `Io`, transient, for everything else).
//!
//! Presigned URLs, tokens and document contents are never logged, and [`PresignedUrl`] cannot
//! be serialized, so a URL cannot slip into a queue message or a table by accident.

use std::fmt;
use std::io::{self, Chain, Cursor, Read, Write};

use bytes::Bytes;
use encoding_rs::{CoderResult, Encoding};
use flate2::read::MultiGzDecoder as GzReader;
use flate2::write::MultiGzDecoder as GzWriter;
use reqwest::header::{CONTENT_ENCODING, CONTENT_TYPE};
use serde::{Deserialize, Serialize};

use crate::client::{SpApiClient, header_str};
use crate::error::SpApiError;

/// Pseudo-operation name of document downloads in errors and traces.
pub const DOWNLOAD_OPERATION: &str = "downloadDocument";

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const BUF_SIZE: usize = 16 * 1024;

/// A presigned S3 URL. It grants access by itself, so `Debug` prints `PresignedUrl(***)` and
/// the type deliberately does not implement `Serialize` (store the document id and ask for a
/// fresh URL instead: they expire after 5 minutes anyway); use [`PresignedUrl::as_str`] only
/// to make the request.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct PresignedUrl(String);

impl PresignedUrl {
    /// Wraps a URL string.
    pub fn new(url: impl Into<String>) -> Self {
        Self(url.into())
    }

    /// The URL itself.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PresignedUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PresignedUrl(***)")
    }
}

/// `compressionAlgorithm` of a report or feed document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CompressionAlgorithm {
    /// The content is gzip-compressed.
    #[serde(rename = "GZIP")]
    Gzip,
}

/// The character encoding named by a `Content-Type` header value (`None` or no `charset`
/// parameter means UTF-8).
///
/// Accepts WHATWG labels (`utf-8`, `windows-1252`, `cp1252`, `iso-8859-1`, `shift_jis`,
/// `windows-31j`, `ms932`, ...) plus the Java alias `cp932`. ISO-8859-1 decodes as
/// windows-1252, its superset, as browsers do. An unknown charset is an error rather than a
/// guess: decoding with the wrong table would silently corrupt names and addresses.
pub fn encoding_for_content_type(
    content_type: Option<&str>,
) -> Result<&'static Encoding, SpApiError> {
    let Some(content_type) = content_type else {
        return Ok(encoding_rs::UTF_8);
    };
    let charset = content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| value.trim().trim_matches('"').trim())
    });
    let Some(label) = charset.filter(|l| !l.is_empty()) else {
        return Ok(encoding_rs::UTF_8);
    };
    let java_alias = match label.to_ascii_lowercase().as_str() {
        "cp932" | "x-ms932_0213" => Some(encoding_rs::SHIFT_JIS),
        "ms1252" => Some(encoding_rs::WINDOWS_1252),
        _ => None,
    };
    java_alias
        .or_else(|| Encoding::for_label(label.as_bytes()))
        .ok_or_else(|| SpApiError::InvalidDocument {
            reason: format!("unsupported charset {label:?}"),
            source: None,
        })
}

/// What a decoder saw, available once it is finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DecodeStats {
    /// Raw bytes consumed (before decompression).
    pub raw_bytes: u64,
    /// UTF-8 bytes produced.
    pub text_bytes: u64,
    /// Whether the content was gzip-compressed.
    pub gzip: bool,
    /// Whether any malformed sequence was replaced with U+FFFD.
    pub had_replacements: bool,
    /// The encoding actually used (after BOM sniffing), e.g. `"windows-1252"`.
    pub encoding: &'static str,
}

/// Marks an error raised by the caller's sink, so it is not mistaken for a corrupt document.
#[derive(Debug)]
struct SinkError(io::Error);

impl fmt::Display for SinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "document sink failed: {}", self.0)
    }
}

impl std::error::Error for SinkError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

fn sink_error(e: io::Error) -> io::Error {
    io::Error::new(e.kind(), SinkError(e))
}

/// Converts an `io::Error` raised by [`DocumentDecoder`] (writing or `finish`) or
/// [`DocumentReader`] into the crate error, so callers that decode stored documents get the
/// same classification as [`DocumentsApi::download_text`]:
///
/// * corrupt content (bad gzip, truncated gzip: kinds `InvalidData`, `InvalidInput`,
///   `UnexpectedEof`) → [`SpApiError::InvalidDocument`], permanent;
/// * anything else (the caller's sink failed, the stream under a reader broke or timed out)
///   → [`SpApiError::Io`], transient.
///
/// `operation` names the step for the error (e.g. [`DOWNLOAD_OPERATION`]).
///
/// ```
/// use std::io::Read;
/// use spsync_spapi::documents::{DocumentReader, document_io_error};
/// use spsync_spapi::Retryability;
///
/// let corrupt: &[u8] = &[0x1f, 0x8b, 0x08, 0x00, 0xff, 0xff];
/// let mut text = String::new();
/// let err = DocumentReader::new(corrupt, None, None)?
///     .read_to_string(&mut text)
///     .map_err(|e| document_io_error("ingestReport", e))
///     .unwrap_err();
/// assert_eq!(err.retryability(), Retryability::Permanent);
/// # Ok::<(), spsync_spapi::SpApiError>(())
/// ```
pub fn document_io_error(operation: &'static str, e: io::Error) -> SpApiError {
    let from_sink = e.get_ref().is_some_and(|inner| inner.is::<SinkError>());
    let corrupt = matches!(
        e.kind(),
        io::ErrorKind::InvalidData | io::ErrorKind::InvalidInput | io::ErrorKind::UnexpectedEof
    );
    if corrupt && !from_sink {
        SpApiError::InvalidDocument {
            reason: format!("cannot decode document: {e}"),
            source: Some(e),
        }
    } else {
        SpApiError::Io {
            operation,
            source: e,
        }
    }
}

/// Checks a finished body against its `Content-Length`.
fn check_complete(expected: Option<u64>, received: u64) -> Result<(), SpApiError> {
    match expected {
        Some(expected) if expected != received => Err(SpApiError::IncompleteBody {
            operation: DOWNLOAD_OPERATION,
            expected,
            received,
        }),
        _ => Ok(()),
    }
}

/// Charset → UTF-8 stage: a `Write` that decodes what it receives and writes UTF-8 to `sink`.
struct TextWriter<W: Write> {
    decoder: encoding_rs::Decoder,
    sink: W,
    buf: Vec<u8>,
    text_bytes: u64,
    had_replacements: bool,
}

impl<W: Write> TextWriter<W> {
    fn new(encoding: &'static Encoding, sink: W) -> Self {
        Self {
            // BOM sniffing: strips a BOM, and a BOM wins over the declared charset.
            decoder: encoding.new_decoder(),
            sink,
            buf: vec![0; BUF_SIZE],
            text_bytes: 0,
            had_replacements: false,
        }
    }

    fn decode(&mut self, mut src: &[u8], last: bool) -> io::Result<()> {
        loop {
            let (result, read, written, replaced) =
                self.decoder.decode_to_utf8(src, &mut self.buf, last);
            self.had_replacements |= replaced;
            self.sink
                .write_all(&self.buf[..written])
                .map_err(sink_error)?;
            self.text_bytes += written as u64;
            src = &src[read..];
            if result == CoderResult::InputEmpty {
                return Ok(());
            }
        }
    }

    fn finish(mut self) -> io::Result<(W, u64, bool, &'static str)> {
        self.decode(&[], true)?;
        self.sink.flush().map_err(sink_error)?;
        Ok((
            self.sink,
            self.text_bytes,
            self.had_replacements,
            self.decoder.encoding().name(),
        ))
    }
}

impl<W: Write> Write for TextWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.decode(buf, false)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.sink.flush().map_err(sink_error)
    }
}

enum Stage<W: Write> {
    /// Fewer than two bytes seen and no declared compression: cannot tell gzip yet.
    Sniffing(Vec<u8>, TextWriter<W>),
    Plain(TextWriter<W>),
    Gzip(GzWriter<TextWriter<W>>),
    /// A previous write failed half-way; the decoder is unusable.
    Broken,
}

/// A `Write` adapter: write raw document bytes (possibly gzip) in any chunking, get UTF-8 text
/// written to the inner sink. Call [`DocumentDecoder::finish`] at the end.
///
/// ```
/// use spsync_spapi::documents::DocumentDecoder;
/// use std::io::Write;
///
/// // "Café" in windows-1252, as an EU listings report would serve it.
/// let mut decoder = DocumentDecoder::new(Vec::new(), Some("text/plain;charset=Cp1252"), None)?;
/// decoder.write_all(b"Caf\xe9")?;
/// let done = decoder.finish()?;
/// assert_eq!(String::from_utf8(done.sink).unwrap(), "Café");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct DocumentDecoder<W: Write> {
    stage: Stage<W>,
    raw_bytes: u64,
}

/// A finished [`DocumentDecoder`]: the sink back, plus statistics. `Debug` leaves the sink out
/// (it holds document contents).
pub struct Decoded<W> {
    /// The sink that received the UTF-8 text.
    pub sink: W,
    /// What the decoder saw.
    pub stats: DecodeStats,
}

impl<W: Write> DocumentDecoder<W> {
    /// A decoder for a document served with `content_type` (its `charset` parameter decides the
    /// encoding) and the document's declared `compression`.
    pub fn new(
        sink: W,
        content_type: Option<&str>,
        compression: Option<CompressionAlgorithm>,
    ) -> Result<Self, SpApiError> {
        let text = TextWriter::new(encoding_for_content_type(content_type)?, sink);
        let stage = match compression {
            Some(CompressionAlgorithm::Gzip) => Stage::Gzip(GzWriter::new(text)),
            None => Stage::Sniffing(Vec::with_capacity(2), text),
        };
        Ok(Self {
            stage,
            raw_bytes: 0,
        })
    }

    /// Leaves the sniffing stage once the first two bytes are known (or at the end).
    fn settle(head: Vec<u8>, text: TextWriter<W>) -> io::Result<Stage<W>> {
        if head.starts_with(&GZIP_MAGIC) {
            let mut gz = GzWriter::new(text);
            gz.write_all(&head)?;
            Ok(Stage::Gzip(gz))
        } else {
            let mut text = text;
            text.write_all(&head)?;
            Ok(Stage::Plain(text))
        }
    }

    /// Flushes everything, checks the gzip trailer, and returns the sink with statistics.
    /// Map an error with [`document_io_error`].
    pub fn finish(self) -> io::Result<Decoded<W>> {
        let (text, gzip) = match self.stage {
            Stage::Sniffing(head, text) => match Self::settle(head, text)? {
                Stage::Gzip(gz) => (gz.finish()?, true),
                Stage::Plain(text) => (text, false),
                _ => return Err(io::Error::other("decoder in an impossible state")),
            },
            Stage::Plain(text) => (text, false),
            Stage::Gzip(gz) => (gz.finish()?, true),
            Stage::Broken => return Err(io::Error::other("decoder used after a failed write")),
        };
        let (sink, text_bytes, had_replacements, encoding) = text.finish()?;
        Ok(Decoded {
            sink,
            stats: DecodeStats {
                raw_bytes: self.raw_bytes,
                text_bytes,
                gzip,
                had_replacements,
                encoding,
            },
        })
    }
}

impl<W: Write> Write for DocumentDecoder<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let stage = std::mem::replace(&mut self.stage, Stage::Broken);
        self.stage = match stage {
            Stage::Sniffing(mut head, text) => {
                let take = (2 - head.len()).min(buf.len());
                head.extend_from_slice(&buf[..take]);
                if head.len() < 2 {
                    Stage::Sniffing(head, text)
                } else {
                    let mut settled = Self::settle(head, text)?;
                    match &mut settled {
                        Stage::Gzip(gz) => gz.write_all(&buf[take..])?,
                        Stage::Plain(text) => text.write_all(&buf[take..])?,
                        _ => {}
                    }
                    settled
                }
            }
            Stage::Plain(mut text) => {
                text.write_all(buf)?;
                Stage::Plain(text)
            }
            Stage::Gzip(mut gz) => {
                gz.write_all(buf)?;
                Stage::Gzip(gz)
            }
            Stage::Broken => return Err(io::Error::other("decoder used after a failed write")),
        };
        self.raw_bytes += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.stage {
            Stage::Plain(text) => text.flush(),
            Stage::Gzip(gz) => gz.flush(),
            Stage::Sniffing(..) | Stage::Broken => Ok(()),
        }
    }
}

type Prefixed<R> = Chain<Cursor<Vec<u8>>, R>;

enum Source<R: Read> {
    /// Not read yet; gzip detection happens on the first read.
    Pending(R, Option<CompressionAlgorithm>),
    Plain(Prefixed<R>),
    Gzip(Box<GzReader<Prefixed<R>>>),
    Taken,
}

impl<R: Read> Source<R> {
    fn open(self) -> io::Result<Self> {
        let Self::Pending(mut reader, compression) = self else {
            return Ok(self);
        };
        let mut head = Vec::with_capacity(2);
        while head.len() < 2 {
            let mut byte = [0u8; 2];
            let n = reader.read(&mut byte[..2 - head.len()])?;
            if n == 0 {
                break;
            }
            head.extend_from_slice(&byte[..n]);
        }
        let gzip = compression == Some(CompressionAlgorithm::Gzip) || head.starts_with(&GZIP_MAGIC);
        let prefixed = Cursor::new(head).chain(reader);
        Ok(if gzip {
            Self::Gzip(Box::new(GzReader::new(prefixed)))
        } else {
            Self::Plain(prefixed)
        })
    }

    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Self::Plain(r) => r.read(buf),
            Self::Gzip(r) => r.read(buf),
            Self::Pending(..) | Self::Taken => Err(io::Error::other("document source not open")),
        }
    }
}

/// A `Read` adapter: reads raw document bytes (possibly gzip) from `R` and yields UTF-8 text.
/// Works over anything readable, e.g. a file or an S3 object body bridged to `Read`.
///
/// ```
/// use spsync_spapi::documents::DocumentReader;
/// use std::io::Read;
///
/// // "テスト" in Shift_JIS, as a JP report might be served.
/// let raw: &[u8] = b"\x83\x65\x83\x58\x83\x67";
/// let mut text = String::new();
/// DocumentReader::new(raw, Some("text/plain; charset=windows-31j"), None)?
///     .read_to_string(&mut text)?;
/// assert_eq!(text, "テスト");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct DocumentReader<R: Read> {
    source: Source<R>,
    decoder: encoding_rs::Decoder,
    input: Box<[u8]>,
    in_start: usize,
    in_end: usize,
    output: Box<[u8]>,
    out_start: usize,
    out_end: usize,
    eof: bool,
    done: bool,
    had_replacements: bool,
}

impl<R: Read> DocumentReader<R> {
    /// A reader for a document served with `content_type` and declared `compression`.
    pub fn new(
        reader: R,
        content_type: Option<&str>,
        compression: Option<CompressionAlgorithm>,
    ) -> Result<Self, SpApiError> {
        let encoding = encoding_for_content_type(content_type)?;
        Ok(Self {
            source: Source::Pending(reader, compression),
            decoder: encoding.new_decoder(),
            input: vec![0; BUF_SIZE].into_boxed_slice(),
            in_start: 0,
            in_end: 0,
            output: vec![0; BUF_SIZE].into_boxed_slice(),
            out_start: 0,
            out_end: 0,
            eof: false,
            done: false,
            had_replacements: false,
        })
    }

    /// Whether any malformed sequence has been replaced with U+FFFD so far.
    pub fn had_replacements(&self) -> bool {
        self.had_replacements
    }

    /// Whether the source turned out to be gzip (known after the first read).
    pub fn is_gzip(&self) -> bool {
        matches!(self.source, Source::Gzip(_))
    }
}

impl<R: Read> Read for DocumentReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if matches!(self.source, Source::Pending(..)) {
            self.source = std::mem::replace(&mut self.source, Source::Taken).open()?;
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
                let n = self.source.read(&mut self.input)?;
                self.in_start = 0;
                self.in_end = n;
                self.eof = n == 0;
            }
            let (result, read, written, replaced) = self.decoder.decode_to_utf8(
                &self.input[self.in_start..self.in_end],
                &mut self.output,
                self.eof,
            );
            self.had_replacements |= replaced;
            self.in_start += read;
            self.out_start = 0;
            self.out_end = written;
            if self.eof && result == CoderResult::InputEmpty {
                self.done = true;
            }
        }
    }
}

/// A presigned document download in progress: headers known, body streamed chunk by chunk.
pub struct DocumentStream {
    response: reqwest::Response,
    content_type: Option<String>,
    content_encoding: Option<String>,
    /// Read before the body: reqwest's own value shrinks as the body is consumed.
    content_length: Option<u64>,
    bytes_read: u64,
}

impl fmt::Debug for DocumentStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DocumentStream")
            .field("content_type", &self.content_type)
            .field("content_encoding", &self.content_encoding)
            .field("bytes_read", &self.bytes_read)
            .finish_non_exhaustive()
    }
}

impl DocumentStream {
    /// The `Content-Type` the server sent (carries the charset); store it next to the raw bytes.
    pub fn content_type(&self) -> Option<&str> {
        self.content_type.as_deref()
    }

    /// The `Content-Encoding` the server sent (`gzip` when `enableContentEncodingUrlHeader`
    /// was used); this client never decompresses transparently, so the bytes stay raw.
    pub fn content_encoding(&self) -> Option<&str> {
        self.content_encoding.as_deref()
    }

    /// `Content-Length`, when the server sent one (the whole body, not what is left of it).
    pub fn content_length(&self) -> Option<u64> {
        self.content_length
    }

    /// Bytes received so far.
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read
    }

    /// The next chunk of raw bytes, or `None` at the end.
    pub async fn next_chunk(&mut self) -> Result<Option<Bytes>, SpApiError> {
        let chunk = self
            .response
            .chunk()
            .await
            .map_err(|e| SpApiError::Transport {
                operation: DOWNLOAD_OPERATION,
                source: e.without_url(),
            })?;
        if let Some(c) = &chunk {
            self.bytes_read += c.len() as u64;
        }
        Ok(chunk)
    }
}

/// Result of [`DocumentsApi::download_raw`]. `Debug` leaves the sink out (document contents).
pub struct RawDownload<W> {
    /// The sink, holding the raw bytes exactly as served.
    pub sink: W,
    /// `Content-Type` as served.
    pub content_type: Option<String>,
    /// Bytes written.
    pub bytes: u64,
}

/// Result of [`DocumentsApi::download_text`]. `Debug` leaves the sink out (document contents).
pub struct TextDownload<W> {
    /// The sink, holding UTF-8 text.
    pub sink: W,
    /// `Content-Type` as served.
    pub content_type: Option<String>,
    /// Decoder statistics.
    pub stats: DecodeStats,
}

impl<W> fmt::Debug for Decoded<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decoded")
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl<W> fmt::Debug for RawDownload<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawDownload")
            .field("content_type", &self.content_type)
            .field("bytes", &self.bytes)
            .finish_non_exhaustive()
    }
}

impl<W> fmt::Debug for TextDownload<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TextDownload")
            .field("content_type", &self.content_type)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

/// Presigned document transfers; get one from [`SpApiClient::documents`].
#[derive(Debug, Clone, Copy)]
pub struct DocumentsApi<'a> {
    client: &'a SpApiClient,
}

impl<'a> DocumentsApi<'a> {
    pub(crate) fn new(client: &'a SpApiClient) -> Self {
        Self { client }
    }

    /// Starts downloading `url`: sends the `GET` (no access token: the URL is its own
    /// credential), checks the status, and returns the body as a chunk stream. A 5xx or a
    /// failure before the headers arrive is retried a few times.
    pub async fn open(&self, url: &PresignedUrl) -> Result<DocumentStream, SpApiError> {
        let response = self
            .client
            .presigned_transfer(DOWNLOAD_OPERATION, || self.client.http().get(url.as_str()))
            .await?;
        let content_type = header_str(response.headers(), CONTENT_TYPE);
        let content_encoding = header_str(response.headers(), CONTENT_ENCODING);
        tracing::debug!(
            sp_operation = DOWNLOAD_OPERATION,
            sp_status = response.status().as_u16(),
            content_type = content_type.as_deref().unwrap_or(""),
            "document download started"
        );
        Ok(DocumentStream {
            content_length: response.content_length(),
            response,
            content_type,
            content_encoding,
            bytes_read: 0,
        })
    }

    /// Downloads `url` into `sink` byte for byte (to store the document verbatim).
    pub async fn download_raw<W: Write>(
        &self,
        url: &PresignedUrl,
        mut sink: W,
    ) -> Result<RawDownload<W>, SpApiError> {
        let mut stream = self.open(url).await?;
        while let Some(chunk) = stream.next_chunk().await? {
            sink.write_all(&chunk).map_err(|source| SpApiError::Io {
                operation: DOWNLOAD_OPERATION,
                source,
            })?;
        }
        sink.flush().map_err(|source| SpApiError::Io {
            operation: DOWNLOAD_OPERATION,
            source,
        })?;
        check_complete(stream.content_length(), stream.bytes_read())?;
        Ok(RawDownload {
            bytes: stream.bytes_read(),
            content_type: stream.content_type,
            sink,
        })
    }

    /// Downloads `url`, decompresses and decodes it on the fly, and writes UTF-8 text to `sink`.
    /// `compression` is the document's `compressionAlgorithm`; gzip is also detected by magic.
    pub async fn download_text<W: Write>(
        &self,
        url: &PresignedUrl,
        compression: Option<CompressionAlgorithm>,
        sink: W,
    ) -> Result<TextDownload<W>, SpApiError> {
        let mut stream = self.open(url).await?;
        let mut decoder = DocumentDecoder::new(sink, stream.content_type(), compression)?;
        while let Some(chunk) = stream.next_chunk().await? {
            decoder
                .write_all(&chunk)
                .map_err(|e| document_io_error(DOWNLOAD_OPERATION, e))?;
        }
        // Before finishing: a short body must read as "try again", not as a corrupt gzip.
        check_complete(stream.content_length(), stream.bytes_read())?;
        let decoded = decoder
            .finish()
            .map_err(|e| document_io_error(DOWNLOAD_OPERATION, e))?;
        Ok(TextDownload {
            sink: decoded.sink,
            content_type: stream.content_type,
            stats: decoded.stats,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use flate2::Compression;
    use flate2::write::GzEncoder;

    use std::time::Duration;

    use super::*;
    use crate::config::Timeouts;
    use crate::test_support::{MockServer, Reply};
    use crate::{Retryability, SpApiClient};

    /// A report-like text with characters outside ASCII for every encoding under test.
    const LATIN: &str = "sku\titem-name\tprice\nMUG-1\tCafé crème – 20€ «große» Tasse\t9,99\n";
    const JAPANESE: &str = "sku\t商品名\tprice\nMUG-1\tコーヒーマグ（赤）①\t1980\n";

    fn encode(encoding: &'static Encoding, text: &str) -> Vec<u8> {
        let (bytes, used, unmappable) = encoding.encode(text);
        assert_eq!(used, encoding, "encoder switched");
        assert!(
            !unmappable,
            "test text not representable in {}",
            encoding.name()
        );
        bytes.into_owned()
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    struct Case {
        name: &'static str,
        raw: Vec<u8>,
        content_type: Option<&'static str>,
        compression: Option<CompressionAlgorithm>,
        text: &'static str,
        gzip: bool,
    }

    fn cases() -> Vec<Case> {
        let cp1252 = encode(encoding_rs::WINDOWS_1252, LATIN);
        let sjis = encode(encoding_rs::SHIFT_JIS, JAPANESE);
        let mut bom_utf8 = vec![0xEF, 0xBB, 0xBF];
        bom_utf8.extend_from_slice(LATIN.as_bytes());
        // Two gzip members back to back, as some producers write large files.
        let mut multi = gzip(&cp1252[..20]);
        multi.extend(gzip(&cp1252[20..]));
        vec![
            Case {
                name: "utf-8 without content type",
                raw: LATIN.as_bytes().to_vec(),
                content_type: None,
                compression: None,
                text: LATIN,
                gzip: false,
            },
            Case {
                name: "utf-8 declared",
                raw: LATIN.as_bytes().to_vec(),
                content_type: Some("text/plain; charset=UTF-8"),
                compression: None,
                text: LATIN,
                gzip: false,
            },
            Case {
                name: "utf-8 BOM stripped",
                raw: bom_utf8.clone(),
                content_type: Some("text/plain;charset=utf-8"),
                compression: None,
                text: LATIN,
                gzip: false,
            },
            Case {
                name: "utf-8 BOM wins over a wrong declared charset",
                raw: bom_utf8,
                content_type: Some("text/plain; charset=Cp1252"),
                compression: None,
                text: LATIN,
                gzip: false,
            },
            Case {
                name: "Cp1252 (Java alias)",
                raw: cp1252.clone(),
                content_type: Some("text/plain; charset=Cp1252"),
                compression: None,
                text: LATIN,
                gzip: false,
            },
            Case {
                name: "windows-1252 gzip declared",
                raw: gzip(&cp1252),
                content_type: Some("text/tab-separated-values; charset=windows-1252"),
                compression: Some(CompressionAlgorithm::Gzip),
                text: LATIN,
                gzip: true,
            },
            Case {
                name: "windows-1252 gzip sniffed by magic",
                raw: gzip(&cp1252),
                content_type: Some("text/plain; charset=\"WINDOWS-1252\""),
                compression: None,
                text: LATIN,
                gzip: true,
            },
            Case {
                name: "multi-member gzip",
                raw: multi,
                content_type: Some("text/plain; charset=Cp1252"),
                compression: None,
                text: LATIN,
                gzip: true,
            },
            Case {
                name: "Shift_JIS",
                raw: sjis.clone(),
                content_type: Some("text/plain; charset=Shift_JIS"),
                compression: None,
                text: JAPANESE,
                gzip: false,
            },
            Case {
                name: "windows-31j gzip",
                raw: gzip(&sjis),
                content_type: Some("text/plain; charset=windows-31j"),
                compression: Some(CompressionAlgorithm::Gzip),
                text: JAPANESE,
                gzip: true,
            },
            Case {
                name: "MS932",
                raw: sjis.clone(),
                content_type: Some("text/plain; charset=MS932"),
                compression: None,
                text: JAPANESE,
                gzip: false,
            },
            Case {
                name: "empty document",
                raw: Vec::new(),
                content_type: Some("text/plain; charset=Cp1252"),
                compression: None,
                text: "",
                gzip: false,
            },
            Case {
                name: "one byte",
                raw: vec![0xE9],
                content_type: Some("text/plain; charset=ISO-8859-1"),
                compression: None,
                text: "é",
                gzip: false,
            },
        ]
    }

    #[test]
    fn charset_table() {
        let cases: &[(Option<&str>, Option<&str>)] = &[
            (None, Some("UTF-8")),
            (Some("text/plain"), Some("UTF-8")),
            (Some("text/plain; charset=UTF-8"), Some("UTF-8")),
            (Some("text/plain;charset=\"utf-8\""), Some("UTF-8")),
            (
                Some("text/plain; format=flowed; CHARSET=Cp1252"),
                Some("windows-1252"),
            ),
            (
                Some("text/plain; charset=windows-1252"),
                Some("windows-1252"),
            ),
            (Some("text/plain; charset=ISO-8859-1"), Some("windows-1252")),
            (Some("text/plain; charset=Shift_JIS"), Some("Shift_JIS")),
            (Some("text/plain; charset=windows-31j"), Some("Shift_JIS")),
            (Some("text/plain; charset=MS932"), Some("Shift_JIS")),
            (Some("text/plain; charset=Cp932"), Some("Shift_JIS")),
            (Some("text/plain; charset="), Some("UTF-8")),
            (Some("text/plain; charset=EBCDIC-XYZ"), None),
        ];
        for (content_type, expected) in cases {
            let got = encoding_for_content_type(*content_type).map(|e| e.name());
            match expected {
                Some(name) => assert_eq!(got.ok(), Some(*name), "{content_type:?}"),
                None => {
                    let err = got.unwrap_err();
                    assert!(matches!(err, SpApiError::InvalidDocument { .. }), "{err:?}");
                    assert_eq!(err.retryability(), Retryability::Permanent);
                }
            }
        }
    }

    #[test]
    fn decoder_write_adapter_handles_every_case_in_any_chunking() {
        for case in cases() {
            for chunk in [1, 2, 3, 7, 4096, usize::MAX] {
                let mut decoder =
                    DocumentDecoder::new(Vec::new(), case.content_type, case.compression).unwrap();
                for piece in case.raw.chunks(chunk.min(case.raw.len().max(1))) {
                    decoder.write_all(piece).unwrap();
                }
                let done = decoder.finish().unwrap();
                let text = String::from_utf8(done.sink).unwrap();
                assert_eq!(text, case.text, "{} (chunk {chunk})", case.name);
                assert_eq!(done.stats.gzip, case.gzip, "{}", case.name);
                assert_eq!(done.stats.raw_bytes, case.raw.len() as u64, "{}", case.name);
                assert_eq!(
                    done.stats.text_bytes,
                    case.text.len() as u64,
                    "{}",
                    case.name
                );
                assert!(!done.stats.had_replacements, "{}", case.name);
            }
        }
    }

    #[test]
    fn reader_adapter_handles_every_case() {
        /// A reader that hands out at most `n` bytes per call, like a network stream.
        struct Trickle<'a>(&'a [u8], usize);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = self.1.min(buf.len()).min(self.0.len());
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        for case in cases() {
            for (trickle, out_buf) in [(1, 1), (3, 5), (8192, 64 * 1024)] {
                let mut reader = DocumentReader::new(
                    Trickle(&case.raw, trickle),
                    case.content_type,
                    case.compression,
                )
                .unwrap();
                let mut text = Vec::new();
                let mut buf = vec![0; out_buf];
                loop {
                    let n = reader.read(&mut buf).unwrap();
                    if n == 0 {
                        break;
                    }
                    text.extend_from_slice(&buf[..n]);
                }
                assert_eq!(
                    String::from_utf8(text).unwrap(),
                    case.text,
                    "{} (trickle {trickle}, buf {out_buf})",
                    case.name
                );
                assert_eq!(reader.is_gzip(), case.gzip, "{}", case.name);
                assert!(!reader.had_replacements());
            }
        }
    }

    #[test]
    fn large_gzip_documents_stream_through_small_buffers() {
        // ~2 MB of text: far more than any internal buffer, so decoding must be incremental.
        let line = "MUG-1\tCafé crème – 20€\t9,99\n";
        let text: String = line.repeat(2_000_000 / line.len());
        let raw = gzip(&encode(encoding_rs::WINDOWS_1252, &text));
        let mut decoder =
            DocumentDecoder::new(Vec::new(), Some("text/plain; charset=Cp1252"), None).unwrap();
        for piece in raw.chunks(1000) {
            decoder.write_all(piece).unwrap();
        }
        let done = decoder.finish().unwrap();
        assert!(done.sink == text.as_bytes(), "decoded text differs");
        let mut read_back = String::new();
        DocumentReader::new(raw.as_slice(), Some("text/plain; charset=Cp1252"), None)
            .unwrap()
            .read_to_string(&mut read_back)
            .unwrap();
        assert!(read_back == text, "reader text differs");
    }

    #[test]
    fn malformed_bytes_are_replaced_and_reported() {
        // 0xFF and 0xFE never occur in UTF-8.
        let mut decoder =
            DocumentDecoder::new(Vec::new(), Some("text/plain; charset=UTF-8"), None).unwrap();
        decoder.write_all(b"ok \xff\xfe end").unwrap();
        let done = decoder.finish().unwrap();
        assert_eq!(
            String::from_utf8(done.sink).unwrap(),
            "ok \u{FFFD}\u{FFFD} end"
        );
        assert!(done.stats.had_replacements);
    }

    #[test]
    fn corrupt_and_truncated_gzip_are_invalid_documents() {
        let raw = gzip(LATIN.as_bytes());
        let truncated = raw[..raw.len() - 6].to_vec();
        let mut corrupt = raw.clone();
        let middle = corrupt.len() / 2;
        corrupt[middle] ^= 0xFF;
        let declared_but_plain = LATIN.as_bytes().to_vec();
        for (name, bytes, compression) in [
            ("truncated", truncated, None),
            ("corrupt", corrupt, None),
            (
                "declared gzip, not gzip",
                declared_but_plain,
                Some(CompressionAlgorithm::Gzip),
            ),
        ] {
            let mut decoder = DocumentDecoder::new(Vec::new(), None, compression).unwrap();
            let result = decoder
                .write_all(&bytes)
                .and_then(|()| decoder.finish().map(|_| ()));
            let err = result.expect_err(name);
            let err = document_io_error(DOWNLOAD_OPERATION, err);
            assert!(
                matches!(err, SpApiError::InvalidDocument { .. }),
                "{name}: {err:?}"
            );
            assert_eq!(err.retryability(), Retryability::Permanent, "{name}");

            let mut reader = DocumentReader::new(bytes.as_slice(), None, compression).unwrap();
            let mut sink = String::new();
            assert!(reader.read_to_string(&mut sink).is_err(), "{name}: reader");
        }
    }

    #[test]
    fn sink_failures_are_io_errors_not_corrupt_documents() {
        struct Full;
        impl Write for Full {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::new(io::ErrorKind::StorageFull, "disk full"))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut decoder = DocumentDecoder::new(Full, None, None).unwrap();
        let err = decoder
            .write_all(&gzip(LATIN.as_bytes()))
            .and_then(|()| decoder.finish().map(|_| ()))
            .unwrap_err();
        let err = document_io_error(DOWNLOAD_OPERATION, err);
        assert!(matches!(err, SpApiError::Io { .. }), "{err:?}");
        assert_eq!(err.retryability(), Retryability::Transient);
    }

    #[tokio::test]
    async fn download_raw_streams_bytes_verbatim_without_the_access_token() {
        let mock = MockServer::start().await;
        mock.lwa_ok(3600);
        // ~1 MB of gzip, served as-is: raw download must not touch it.
        let text = LATIN.repeat(20_000);
        let raw = gzip(&encode(encoding_rs::WINDOWS_1252, &text));
        let served = raw.clone();
        mock.route("GET", "/docs/report.gz", move |_, _| {
            Reply::bytes(200, Some("text/plain; charset=Cp1252"), served.clone())
        });
        let client = SpApiClient::new(mock.config()).unwrap();
        let url = PresignedUrl::new(mock.url("/docs/report.gz?X-Amz-Signature=s").to_string());

        let download = client
            .documents()
            .download_raw(&url, Vec::new())
            .await
            .unwrap();
        assert!(download.sink == raw, "raw bytes differ");
        assert_eq!(download.bytes, raw.len() as u64);
        assert_eq!(
            download.content_type.as_deref(),
            Some("text/plain; charset=Cp1252")
        );

        let decoded = client
            .documents()
            .download_text(&url, Some(CompressionAlgorithm::Gzip), Vec::new())
            .await
            .unwrap();
        assert!(decoded.sink == text.as_bytes(), "decoded text differs");
        assert!(decoded.stats.gzip);
        assert_eq!(decoded.stats.encoding, "windows-1252");

        for request in mock.requests("GET", "/docs/report.gz") {
            assert_eq!(request.header("x-amz-access-token"), None);
        }
        assert_eq!(mock.calls("POST", crate::test_support::TOKEN_PATH), 0);
    }

    #[tokio::test]
    async fn document_stream_yields_chunks() {
        let mock = MockServer::start().await;
        let body = vec![b'x'; 300_000];
        let served = body.clone();
        mock.route("GET", "/docs/big", move |_, _| {
            Reply::bytes(200, Some("text/plain"), served.clone())
        });
        let client = SpApiClient::new(mock.config()).unwrap();
        let url = PresignedUrl::new(mock.url("/docs/big").to_string());
        let mut stream = client.documents().open(&url).await.unwrap();
        assert_eq!(stream.content_length(), Some(300_000));
        let mut chunks = 0;
        let mut total = 0;
        while let Some(chunk) = stream.next_chunk().await.unwrap() {
            chunks += 1;
            total += chunk.len();
        }
        assert_eq!(total, body.len());
        assert_eq!(stream.bytes_read(), body.len() as u64);
        assert!(
            chunks > 1,
            "a 300 KB body arrives in several chunks, got {chunks}"
        );
    }

    #[tokio::test]
    async fn download_errors_are_classified() {
        let mock = MockServer::start().await;
        mock.route("GET", "/docs/expired", |_, _| {
            Reply::bytes(
                403,
                Some("application/xml"),
                b"<Error>Request has expired</Error>".to_vec(),
            )
        });
        mock.route("GET", "/docs/missing", |_, _| {
            Reply::bytes(404, None, Vec::new())
        });
        mock.route("GET", "/docs/flaky", |_, n| {
            if n == 0 {
                Reply::bytes(500, None, Vec::new())
            } else {
                Reply::bytes(200, Some("text/plain"), b"ok".to_vec())
            }
        });
        let client = SpApiClient::new(mock.config()).unwrap();
        let url = |p: &str| PresignedUrl::new(mock.url(p).to_string());

        let expired = client
            .documents()
            .download_raw(&url("/docs/expired"), Vec::new())
            .await
            .unwrap_err();
        assert!(matches!(
            expired,
            SpApiError::DocumentHttp { status: 403, .. }
        ));
        assert_eq!(
            expired.retryability(),
            Retryability::Transient,
            "a new getReportDocument gives a fresh URL"
        );
        let missing = client
            .documents()
            .download_raw(&url("/docs/missing"), Vec::new())
            .await
            .unwrap_err();
        assert_eq!(missing.retryability(), Retryability::Permanent);
        let ok = client
            .documents()
            .download_text(&url("/docs/flaky"), None, Vec::new())
            .await
            .unwrap();
        assert_eq!(ok.sink, b"ok");
        assert_eq!(mock.calls("GET", "/docs/expired"), 1);
        assert_eq!(mock.calls("GET", "/docs/flaky"), 2);
    }

    fn s3_xml(status: u16, code: &str, message: &str) -> Reply {
        Reply::bytes(
            status,
            Some("application/xml"),
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message><RequestId>4442587FB7D0A2F9</RequestId></Error>"
            )
            .into_bytes(),
        )
    }

    // Review item 6: S3 error codes.

    #[tokio::test]
    async fn s3_error_codes_decide_retries_and_class() {
        let mock = MockServer::start().await;
        mock.route("GET", "/docs/slow", |_, n| {
            if n == 0 {
                s3_xml(400, "RequestTimeout", "Your socket connection to the server was not read from or written to within the timeout period.")
            } else {
                Reply::bytes(200, Some("text/plain"), b"ok".to_vec())
            }
        });
        mock.route("GET", "/docs/always-slow", |_, _| {
            s3_xml(503, "SlowDown", "Please reduce your request rate.")
        });
        mock.route("GET", "/docs/expired", |_, _| {
            s3_xml(403, "AccessDenied", "Request has expired")
        });
        mock.route("PUT", "/upload/bad-signature", |_, _| {
            s3_xml(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
            )
        });
        let client = SpApiClient::new(mock.config()).unwrap();
        let url = |p: &str| PresignedUrl::new(mock.url(p).to_string());

        let ok = client
            .documents()
            .download_raw(&url("/docs/slow"), Vec::new())
            .await
            .unwrap();
        let slow = client
            .documents()
            .download_raw(&url("/docs/always-slow"), Vec::new())
            .await
            .unwrap_err();
        let expired = client
            .documents()
            .download_raw(&url("/docs/expired?X-Amz-Signature=topsecret"), Vec::new())
            .await
            .unwrap_err();
        let signature = client
            .feeds()
            .upload_feed_document(
                &url("/upload/bad-signature"),
                "text/plain",
                Bytes::from_static(b"x"),
            )
            .await
            .unwrap_err();

        assert_eq!(ok.sink, b"ok");
        assert_eq!(
            mock.calls("GET", "/docs/slow"),
            2,
            "RequestTimeout is retried"
        );
        assert!(
            matches!(&slow, SpApiError::DocumentHttp { status: 503, code: Some(c), .. } if c == "SlowDown"),
            "{slow:?}"
        );
        assert_eq!(slow.retryability(), Retryability::Transient);
        assert_eq!(mock.calls("GET", "/docs/always-slow"), 3);

        assert!(expired.is_document_url_expired(), "{expired:?}");
        assert_eq!(expired.retryability(), Retryability::Transient);
        assert_eq!(expired.retry_after(), Some(Duration::from_secs(1)));
        assert_eq!(
            mock.calls("GET", "/docs/expired"),
            1,
            "the same URL stays expired"
        );
        assert!(!format!("{expired} {expired:?}").contains("topsecret"));

        assert!(!signature.is_document_url_expired());
        assert_eq!(
            signature.retryability(),
            Retryability::Permanent,
            "{signature:?}"
        );
        assert_eq!(mock.calls("PUT", "/upload/bad-signature"), 1);
    }

    // Review item 13: the whole transfer is bounded.

    #[tokio::test(start_paused = true)]
    async fn presigned_retries_stay_within_the_document_budget() {
        let mock = MockServer::start().await;
        mock.route("GET", "/docs/stuck", |_, _| {
            Reply::bytes(500, None, Vec::new()).delayed(Duration::from_millis(150))
        });
        let mut config = mock.config();
        config.timeouts.document = Duration::from_millis(250);
        let client = SpApiClient::new(config).unwrap();
        let started = tokio::time::Instant::now();

        let err = client
            .documents()
            .download_raw(
                &PresignedUrl::new(mock.url("/docs/stuck").to_string()),
                Vec::new(),
            )
            .await
            .unwrap_err();

        assert!(
            started.elapsed() < Duration::from_millis(300),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(err.retryability(), Retryability::Transient);
        assert_eq!(mock.calls("GET", "/docs/stuck"), 2, "not 3 x the budget");
        assert!(Timeouts::default().document <= Duration::from_secs(300));
    }

    // Review item 7: no URL serialization, no contents in Debug.

    /// `is_serialize()` resolves to the inherent method only when `T: Serialize`.
    struct Probe<T>(std::marker::PhantomData<T>);
    trait NotSerialize {
        fn is_serialize(&self) -> bool {
            false
        }
    }
    impl<T> NotSerialize for Probe<T> {}
    impl<T: Serialize> Probe<T> {
        fn is_serialize(&self) -> bool {
            true
        }
    }

    #[test]
    fn presigned_urls_cannot_be_serialized() {
        use std::marker::PhantomData;
        assert!(
            Probe::<CompressionAlgorithm>(PhantomData).is_serialize(),
            "probe works"
        );
        assert!(!Probe::<PresignedUrl>(PhantomData).is_serialize());
        assert!(!Probe::<crate::reports::ReportDocument>(PhantomData).is_serialize());
        assert!(!Probe::<crate::feeds::FeedDocument>(PhantomData).is_serialize());
        assert!(!Probe::<crate::feeds::CreateFeedDocumentResponse>(PhantomData).is_serialize());
    }

    #[tokio::test]
    async fn download_results_do_not_print_the_document() {
        let mock = MockServer::start().await;
        mock.route("GET", "/docs/secret", |_, _| {
            Reply::bytes(
                200,
                Some("text/plain"),
                b"Jorg Muller, Hauptstrasse 1".to_vec(),
            )
        });
        let client = SpApiClient::new(mock.config()).unwrap();
        let url = PresignedUrl::new(mock.url("/docs/secret").to_string());

        let raw = client
            .documents()
            .download_raw(&url, Vec::new())
            .await
            .unwrap();
        let text = client
            .documents()
            .download_text(&url, None, Vec::new())
            .await
            .unwrap();
        let mut decoder = DocumentDecoder::new(Vec::new(), None, None).unwrap();
        decoder.write_all(b"Hauptstrasse").unwrap();
        let decoded = decoder.finish().unwrap();

        for printed in [
            format!("{raw:?}"),
            format!("{text:?}"),
            format!("{decoded:?}"),
        ] {
            assert!(!printed.contains("Hauptstrasse"), "{printed}");
            assert!(
                !printed.contains("74, 111"),
                "no byte lists either: {printed}"
            );
        }
        assert!(format!("{raw:?}").contains("bytes: 27"));
    }

    // Review item 12: io::Error from the adapters maps to the crate error.

    #[test]
    fn io_errors_from_the_adapters_are_classified() {
        struct Broken;
        impl Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::new(
                    io::ErrorKind::ConnectionReset,
                    "reset by peer",
                ))
            }
        }
        let mut text = String::new();
        let network = DocumentReader::new(Broken, None, None)
            .unwrap()
            .read_to_string(&mut text)
            .map_err(|e| document_io_error("ingestReport", e))
            .unwrap_err();
        assert!(
            matches!(
                network,
                SpApiError::Io {
                    operation: "ingestReport",
                    ..
                }
            ),
            "{network:?}"
        );
        assert_eq!(network.retryability(), Retryability::Transient);

        let raw = gzip(LATIN.as_bytes());
        let truncated = &raw[..raw.len() - 6];
        let corrupt = DocumentReader::new(truncated, None, None)
            .unwrap()
            .read_to_string(&mut text)
            .map_err(|e| document_io_error("ingestReport", e))
            .unwrap_err();
        assert!(
            matches!(corrupt, SpApiError::InvalidDocument { .. }),
            "{corrupt:?}"
        );
        assert_eq!(corrupt.retryability(), Retryability::Permanent);
    }

    #[test]
    fn a_body_shorter_than_its_content_length_is_transient() {
        assert!(check_complete(None, 10).is_ok());
        assert!(check_complete(Some(10), 10).is_ok());
        let short = check_complete(Some(100), 10).unwrap_err();
        assert!(
            matches!(
                short,
                SpApiError::IncompleteBody {
                    expected: 100,
                    received: 10,
                    ..
                }
            ),
            "{short:?}"
        );
        assert_eq!(short.retryability(), Retryability::Transient);
    }
}
