//! Parse throughput and peak memory of the All Orders report parser (issue 3: goal
//! ≥ 1,000,000 rows/s on one core and ≤ 64 MB peak on a 1,000,000-row report: stream, don't
//! load).
//!
//! The report is generated on the fly by a `Read` implementation (never a whole-document
//! `Vec`): the 33-column header real files have had since about 2023, about 3 items per
//! order, and a malformed row every 200,000 rows. Each row is stamped from a pre-rendered
//! template with its own order id, so generation costs a copy, not formatting; its cost alone
//! is measured first and printed so the parse figure can be read net of it.
//!
//! Run 1: plain UTF-8 text straight into `OrderReportReader`. Run 2: the same report gzipped
//! (compressed beforehand into a temporary file, streamed, so compression is not timed) and
//! read back through `text::decode_reader` (gunzip + charset decoding) into the parser.
//! Peak RSS is the kernel's high-water mark (`VmHWM`), reset between runs where the kernel
//! allows it (`/proc/self/clear_refs`).

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::time::Instant;

use flate2::Compression;
use flate2::write::GzEncoder;
use spsync_domain::text::decode_reader;
use spsync_domain::{OrderReportReader, ReportRowError};

const ROWS: u64 = 1_000_000;
const BAD_EVERY: u64 = 200_000;
const GOAL_ROWS_PER_SEC: f64 = 1_000_000.0;
const GOAL_PEAK_MB: f64 = 64.0;

use spsync_tests::ORDERS_REPORT_COLUMNS as COLUMNS;

/// Items per order, cycled (mean 3).
const ITEMS: [u64; 6] = [3, 2, 4, 3, 1, 5];

/// Row templates: everything after `amazon-order-id\t`, one per (order kind, item slot).
fn templates() -> Vec<Vec<u8>> {
    let kinds = [
        (
            "",
            "Unshipped",
            "Merchant",
            "Standard",
            "Unshipped",
            "USD",
            "19.99",
            "false",
        ),
        (
            "SO-88",
            "Pending",
            "Merchant",
            "Expedited",
            "Pending",
            "",
            "",
            "false",
        ),
        (
            "", "Shipped", "Amazon", "Standard", "Shipped", "USD", "45.00", "true",
        ),
        (
            "",
            "PartiallyShipped",
            "Merchant",
            "NextDay",
            "Shipped",
            "USD",
            "7.25",
            "false",
        ),
        (
            "",
            "Cancelled",
            "Merchant",
            "Standard",
            "Cancelled",
            "USD",
            "0.00",
            "false",
        ),
        (
            "SO-90",
            "Unshipped",
            "Merchant",
            "SecondDay",
            "Unshipped",
            "EUR",
            "129.90",
            "true",
        ),
    ];
    let mut out = Vec::new();
    for (k, (merchant_id, status, channel, level, item_status, currency, price, business)) in
        kinds.into_iter().enumerate()
    {
        for slot in 0..5 {
            let pending = status == "Pending";
            let money = |v: &str| if pending { String::new() } else { v.to_owned() };
            let ship = |v: &str| if pending { String::new() } else { v.to_owned() };
            let cells = [
                merchant_id.to_owned(),
                "2026-11-20T08:15:02+00:00".to_owned(),
                format!("2026-11-20T1{k}:0{slot}:00+00:00"),
                status.to_owned(),
                channel.to_owned(),
                "Amazon.com".to_owned(),
                String::new(),
                level.to_owned(),
                format!("Spsync Bench Product {k}{slot} - Stoneware Mug, 350 ml, Blue Glaze"),
                format!("SKU-BENCH-{k}{slot}"),
                format!("B0BENCH{k}{slot}00"),
                item_status.to_owned(),
                (slot + 1).to_string(),
                money(currency),
                money(price),
                money("1.60"),
                money("4.99"),
                money("0.00"),
                money("0.00"),
                money("0.00"),
                money("-1.00"),
                money("0.00"),
                ship("SEATTLE"),
                ship("WA"),
                ship("98101-1234"),
                ship("US"),
                if slot == 0 {
                    "PROMO-BENCH-1".to_owned()
                } else {
                    String::new()
                },
                String::new(),
                business.to_owned(),
                String::new(),
                String::new(),
                "false".to_owned(),
            ];
            let mut row = cells.join("\t").into_bytes();
            row.push(b'\n');
            out.push(row);
        }
    }
    out
}

/// A generated report served through `Read`, one row at a time from a reused buffer.
struct GeneratedReport {
    templates: Vec<Vec<u8>>,
    bad_template: Vec<u8>,
    row: Vec<u8>,
    pos: usize,
    rows_emitted: u64,
    order: u64,
    item: u64,
    header_done: bool,
    bytes: u64,
}

impl GeneratedReport {
    fn new() -> Self {
        let templates = templates();
        let bad_template = String::from_utf8_lossy(&templates[0])
            .replacen("2026-11-20T08:15:02+00:00", "20/11/2026 08:15", 1)
            .into_bytes();
        Self {
            templates,
            bad_template,
            row: Vec::with_capacity(1024),
            pos: 0,
            rows_emitted: 0,
            order: 0,
            item: 0,
            header_done: false,
            bytes: 0,
        }
    }

    fn next_row(&mut self) -> bool {
        self.row.clear();
        self.pos = 0;
        if !self.header_done {
            self.header_done = true;
            self.row.extend_from_slice(COLUMNS.join("\t").as_bytes());
            self.row.push(b'\n');
            return true;
        }
        if self.rows_emitted == ROWS {
            return false;
        }
        if self.item == ITEMS[(self.order % ITEMS.len() as u64) as usize] {
            self.item = 0;
            self.order += 1;
        }
        // 111-NNNNNNN-NNNNNNN
        let mut id = *b"111-0000000-0000000\t";
        let mut n = self.order;
        for i in (12..19).rev().chain((4..11).rev()) {
            id[i] = b'0' + (n % 10) as u8;
            n /= 10;
        }
        self.row.extend_from_slice(&id);
        self.rows_emitted += 1;
        let template = if self.rows_emitted.is_multiple_of(BAD_EVERY) {
            &self.bad_template
        } else {
            let kind = (self.order % 6) as usize;
            &self.templates[kind * 5 + (self.item % 5) as usize]
        };
        self.row.extend_from_slice(template);
        self.item += 1;
        true
    }
}

impl Read for GeneratedReport {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut written = 0;
        while written < buf.len() {
            if self.pos == self.row.len() && !self.next_row() {
                break;
            }
            let n = (self.row.len() - self.pos).min(buf.len() - written);
            buf[written..written + n].copy_from_slice(&self.row[self.pos..self.pos + n]);
            self.pos += n;
            written += n;
        }
        self.bytes += written as u64;
        Ok(written)
    }
}

/// Peak resident set size so far (`VmHWM`), in MB; 0 where /proc is unavailable.
fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Resets the high-water mark (Linux ≥ 4.0); false when not allowed.
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

struct Counts {
    rows: u64,
    orders: u64,
    bad_rows: u64,
}

fn parse(reader: impl Read) -> anyhow::Result<Counts> {
    let mut parser = OrderReportReader::new(reader)?;
    let mut counts = Counts {
        rows: 0,
        orders: 0,
        bad_rows: 0,
    };
    for item in parser.by_ref() {
        match item {
            Ok(order) => {
                counts.orders += 1;
                std::hint::black_box(&order);
            }
            Err(ReportRowError::Row(_)) => counts.bad_rows += 1,
            Err(e @ ReportRowError::Io(_)) => return Err(e.into()),
        }
    }
    counts.rows = parser.rows_read();
    Ok(counts)
}

fn report(label: &str, counts: &Counts, bytes: u64, secs: f64, rss_before: f64, rss_after: f64) {
    let rows_per_sec = counts.rows as f64 / secs;
    let mb_per_sec = bytes as f64 / 1e6 / secs;
    println!("{label}");
    println!(
        "  rows {}  orders {}  bad rows {}  text {:.1} MB",
        counts.rows,
        counts.orders,
        counts.bad_rows,
        bytes as f64 / 1e6
    );
    println!(
        "  {secs:.3} s  {rows_per_sec:.0} rows/s  {mb_per_sec:.1} MB/s   goal >= {GOAL_ROWS_PER_SEC:.0} rows/s per core: {}",
        if rows_per_sec >= GOAL_ROWS_PER_SEC {
            "met"
        } else {
            "NOT MET"
        }
    );
    println!(
        "  peak RSS before {rss_before:.1} MB, after {rss_after:.1} MB   goal <= {GOAL_PEAK_MB:.0} MB: {}",
        if rss_after <= GOAL_PEAK_MB {
            "met"
        } else {
            "NOT MET"
        }
    );
}

fn main() -> anyhow::Result<()> {
    // Generation alone, to read the parse figures net of it.
    let mut generator = GeneratedReport::new();
    let started = Instant::now();
    let text_bytes = io::copy(&mut generator, &mut io::sink())?;
    let generation_secs = started.elapsed().as_secs_f64();
    println!(
        "order report parse bench: {ROWS} rows, 33 columns, ~3 items per order, a bad row every {BAD_EVERY}"
    );
    println!(
        "generator alone: {:.1} MB in {generation_secs:.3} s (included in run 1's time)",
        text_bytes as f64 / 1e6
    );

    // Run 1: plain text.
    reset_peak_rss();
    let rss_before = peak_rss_mb();
    let started = Instant::now();
    let counts = parse(GeneratedReport::new())?;
    let secs = started.elapsed().as_secs_f64();
    report(
        "run 1: UTF-8 text -> OrderReportReader",
        &counts,
        text_bytes,
        secs,
        rss_before,
        peak_rss_mb(),
    );
    anyhow::ensure!(
        counts.rows == ROWS,
        "parsed {} rows, generated {ROWS}",
        counts.rows
    );
    anyhow::ensure!(
        counts.bad_rows == ROWS / BAD_EVERY,
        "bad rows {}",
        counts.bad_rows
    );

    // Run 2: gzip, compressed beforehand (streamed to a temporary file, not timed).
    let path = std::env::temp_dir().join(format!("spsync-bench-{}.tsv.gz", std::process::id()));
    let mut gz = GzEncoder::new(BufWriter::new(File::create(&path)?), Compression::fast());
    io::copy(&mut GeneratedReport::new(), &mut gz)?;
    gz.finish()?.flush()?;
    let gz_bytes = std::fs::metadata(&path)?.len();
    let reset = reset_peak_rss();
    let rss_before = peak_rss_mb();
    let started = Instant::now();
    let result = File::open(&path)
        .map_err(anyhow::Error::from)
        .and_then(|file| {
            let text = decode_reader(BufReader::new(file), true, Some("UTF-8"))?;
            parse(text)
        });
    let secs = started.elapsed().as_secs_f64();
    let rss_after = peak_rss_mb();
    std::fs::remove_file(&path)?;
    let counts = result?;
    report(
        &format!(
            "run 2: gzip ({:.1} MB) -> text::decode_reader -> OrderReportReader{}",
            gz_bytes as f64 / 1e6,
            if reset {
                ""
            } else {
                " (peak RSS not resettable: includes run 1)"
            }
        ),
        &counts,
        text_bytes,
        secs,
        rss_before,
        rss_after,
    );
    anyhow::ensure!(
        counts.rows == ROWS,
        "parsed {} rows, generated {ROWS}",
        counts.rows
    );
    Ok(())
}
