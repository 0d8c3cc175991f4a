//! The original project's thumbnailer as a persistent benchmark worker.
//!
//! The pipeline is what its Rust Lambda did with the `image` crate of its era:
//! `image::load_from_memory`, `.thumbnail(max, max)` (a fast integer box filter that keeps the
//! aspect ratio), then a JPEG at quality 85 with `JpegEncoder::new_with_quality`. Two things are
//! added so the output matches the other methods: an image already within `max` is not upscaled,
//! and the pixels become 8-bit RGB before encoding (JPEG has no alpha). EXIF orientation is not
//! applied: image 0.24 cannot read it, and the original did not.
//!
//! Protocol (bench/peers/protocol.py is the client), one request at a time on stdin:
//!
//!     load <n>\n<n bytes>   keep the image; reply  ok <cpu_us> 0\n
//!     run <max_size>\n      reply  ok <cpu_us> <n>\n<n bytes of JPEG>
//!     noop\n                reply  ok <cpu_us> 0\n   (the round trip alone)
//!
//! or `err <message>\n`. `cpu_us` is this process's CPU time (user and system, all threads) spent
//! on the request. End of input ends the process.

use std::io::{self, BufRead, BufReader, Read, Write};

use image::codecs::jpeg::JpegEncoder;
use image::{ColorType, GenericImageView};

const QUALITY: u8 = 85;

/// This process's CPU time in microseconds: what Python's time.process_time() reads too.
fn cpu_us() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes one timespec through a valid pointer.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_PROCESS_CPUTIME_ID) failed");
    ts.tv_sec as u64 * 1_000_000 + ts.tv_nsec as u64 / 1_000
}

fn thumbnail(data: &[u8], max_size: u32) -> Result<Vec<u8>, image::ImageError> {
    let img = image::load_from_memory(data)?;
    let (width, height) = img.dimensions();
    let img = if width <= max_size && height <= max_size {
        img
    } else {
        img.thumbnail(max_size, max_size)
    };
    let rgb = img.into_rgb8();
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, QUALITY).encode(
        rgb.as_raw(),
        rgb.width(),
        rgb.height(),
        ColorType::Rgb8,
    )?;
    Ok(out)
}

fn reply(out: &mut impl Write, result: Result<(u64, &[u8]), String>) -> io::Result<()> {
    match result {
        Ok((cpu, body)) => {
            write!(out, "ok {} {}\n", cpu, body.len())?;
            out.write_all(body)?;
        }
        Err(message) => write!(out, "err {}\n", message.replace('\n', " "))?,
    }
    out.flush()
}

fn main() -> io::Result<()> {
    let mut input = BufReader::new(io::stdin().lock());
    let mut out = io::BufWriter::new(io::stdout().lock());
    let mut loaded: Vec<u8> = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if input.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let mut words = line.split_whitespace();
        let command = words.next().unwrap_or("");
        let argument = words.next().and_then(|word| word.parse::<u64>().ok());
        match (command, argument) {
            ("load", Some(length)) => {
                loaded = vec![0; length as usize];
                input.read_exact(&mut loaded)?;
                reply(&mut out, Ok((0, &[])))?;
            }
            ("run", Some(max_size)) if max_size >= 1 && max_size <= u32::MAX as u64 => {
                let started = cpu_us();
                let result = thumbnail(&loaded, max_size as u32);
                let cpu = cpu_us() - started;
                match result {
                    Ok(body) => reply(&mut out, Ok((cpu, &body)))?,
                    Err(error) => reply(&mut out, Err(error.to_string()))?,
                }
            }
            ("noop", None) => {
                let started = cpu_us();
                reply(&mut out, Ok((cpu_us() - started, &[])))?;
            }
            _ => reply(&mut out, Err(format!("bad request: {:?}", line.trim_end())))?,
        }
    }
}
