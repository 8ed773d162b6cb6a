//! The stdio transport: LSP frames (`Content-Length` headers, a JSON body)
//! read and written by two threads.
//!
//! lsp-server's own transport ends the session on the first malformed
//! frame and allocates whatever `Content-Length` announces. A client is
//! input like any other, so this one answers a malformed frame with a
//! JSON-RPC error (`-32700` parse error, `-32600` invalid request) and keeps
//! serving, reads at most [`MAX_FRAME`] bytes of one body (a larger one is
//! skipped in pieces, never held) and at most [`MAX_HEADER_LINE`] bytes of
//! one header line.

use std::io::{self, BufRead, Read, Write};
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};
use lsp_server::{Connection, ErrorCode, Message};
use serde_json::Value as Json;

/// The largest message body read (64 MiB; a source file is at most 256 MiB
/// on disk, but no editor sends one this large in one message).
pub const MAX_FRAME: usize = 64 << 20;

/// The longest header line read.
pub const MAX_HEADER_LINE: usize = 8 << 10;

/// One frame read from the client.
#[derive(Debug)]
pub enum Frame {
    /// A well-formed message.
    Message(Message),
    /// A frame that is not one: answered with this error, then skipped.
    Invalid {
        /// The request's id, when the body was JSON with one.
        id: Json,
        /// The JSON-RPC error code.
        code: ErrorCode,
        /// What was wrong.
        message: String,
    },
}

/// Reads the next frame; `None` at the end of input (also when it ends
/// inside a frame: the client is gone).
pub fn read_frame(input: &mut dyn BufRead) -> io::Result<Option<Frame>> {
    let mut length: Option<Result<usize, String>> = None;
    let mut problem: Option<String> = None;
    let mut line = Vec::new();
    let mut header_lines = 0usize;
    loop {
        line.clear();
        let read = (&mut *input)
            .take(MAX_HEADER_LINE as u64)
            .read_until(b'\n', &mut line)?;
        if read == 0 {
            return Ok(None);
        }
        header_lines += 1;
        if !line.ends_with(b"\n") {
            if read < MAX_HEADER_LINE {
                return Ok(None);
            }
            skip_line(input)?;
            problem.get_or_insert_with(|| {
                format!("a header line is longer than {MAX_HEADER_LINE} bytes")
            });
            continue;
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\r', '\n']);
        if text.is_empty() {
            if header_lines == 1 {
                // A stray blank line between frames.
                header_lines = 0;
                continue;
            }
            break;
        }
        match text.split_once(':') {
            Some((name, value)) if name.trim().eq_ignore_ascii_case("content-length") => {
                length = Some(value.trim().parse::<usize>().map_err(|_| {
                    format!("`Content-Length: {}` is not a byte count", value.trim())
                }));
            }
            Some(_) => {}
            None => {
                problem.get_or_insert_with(|| format!("`{}` is not a header", truncate(text, 80)));
            }
        }
    }
    let invalid = |code, message| {
        Ok(Some(Frame::Invalid {
            id: Json::Null,
            code,
            message,
        }))
    };
    let length = match length {
        Some(Ok(n)) => n,
        Some(Err(why)) => return invalid(ErrorCode::ParseError, why),
        None => {
            let why = problem.unwrap_or_else(|| "a frame without `Content-Length`".into());
            return invalid(ErrorCode::ParseError, why);
        }
    };
    if length > MAX_FRAME {
        if !skip(input, length)? {
            return Ok(None);
        }
        return invalid(
            ErrorCode::InvalidRequest,
            format!("a message of {length} bytes is larger than the limit of {MAX_FRAME} bytes"),
        );
    }
    let mut body = vec![0; length];
    match input.read_exact(&mut body) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let json: Json = match serde_json::from_slice(&body) {
        Ok(json) => json,
        Err(e) => return invalid(ErrorCode::ParseError, format!("the body is not JSON: {e}")),
    };
    let id = json.get("id").cloned().unwrap_or(Json::Null);
    // lsp-server's untagged parse would take `{"id": 7, "method": 3}` for
    // a response; a `method` makes it a request or nothing.
    // (and `[1, 2]` for one, field by field). LSP has no batches.
    let shape = if !json.is_object() {
        Some("the body is not a JSON object")
    } else if json.get("method").is_some_and(|m| !m.is_string()) {
        Some("`method` is not a string")
    } else {
        None
    };
    if let Some(why) = shape {
        return Ok(Some(Frame::Invalid {
            id,
            code: ErrorCode::InvalidRequest,
            message: why.into(),
        }));
    }
    match serde_json::from_value::<Message>(json) {
        Ok(message) => Ok(Some(Frame::Message(message))),
        Err(e) => Ok(Some(Frame::Invalid {
            id,
            code: ErrorCode::InvalidRequest,
            message: format!("not a JSON-RPC message: {e}"),
        })),
    }
}

/// The JSON-RPC error response for an invalid frame, as a frame.
pub fn error_frame(id: &Json, code: ErrorCode, message: &str) -> Vec<u8> {
    // Only numbers and strings are ids; anything else is answered as null.
    let id = match id {
        Json::Number(_) | Json::String(_) => id.clone(),
        _ => Json::Null,
    };
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "id": id,
        "error": { "code": code as i32, "message": message },
    })
    .to_string();
    let mut out = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    out.extend_from_slice(body.as_bytes());
    out
}

/// Discards the rest of a line, in pieces.
fn skip_line(input: &mut dyn BufRead) -> io::Result<()> {
    loop {
        let buf = input.fill_buf()?;
        if buf.is_empty() {
            return Ok(());
        }
        match buf.iter().position(|&b| b == b'\n') {
            Some(i) => {
                input.consume(i + 1);
                return Ok(());
            }
            None => {
                let n = buf.len();
                input.consume(n);
            }
        }
    }
}

/// Discards `n` bytes in pieces; false when the input ends first.
fn skip(input: &mut dyn BufRead, mut n: usize) -> io::Result<bool> {
    while n > 0 {
        let buf = input.fill_buf()?;
        if buf.is_empty() {
            return Ok(false);
        }
        let take = buf.len().min(n);
        input.consume(take);
        n -= take;
    }
    Ok(true)
}

fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

/// The transport's threads; join them once the server is done.
pub struct IoThreads {
    reader: JoinHandle<io::Result<()>>,
    writer: JoinHandle<io::Result<()>>,
}

impl IoThreads {
    /// Waits for the writer to flush the last message. The reader ends
    /// after forwarding `exit` or at the end of input; a client that
    /// leaves its end open after the server finished is not waited for.
    pub fn join(self) -> io::Result<()> {
        let written = self
            .writer
            .join()
            .map_err(|_| io::Error::other("the writer thread panicked"))?;
        if self.reader.is_finished() {
            self.reader
                .join()
                .map_err(|_| io::Error::other("the reader thread panicked"))??;
        }
        written
    }
}

/// A connection over `input` and `output` (stdin and stdout, or pipes in
/// tests).
pub fn connect(
    input: impl BufRead + Send + 'static,
    output: impl Write + Send + 'static,
) -> (Connection, IoThreads) {
    let (to_server, from_client) = crossbeam_channel::unbounded::<Message>();
    let (to_client, from_server) = crossbeam_channel::unbounded::<Message>();
    let (errors_tx, errors_rx) = crossbeam_channel::unbounded::<Vec<u8>>();
    let reader = std::thread::spawn(move || read_loop(input, to_server, errors_tx));
    let writer = std::thread::spawn(move || write_loop(output, from_server, errors_rx));
    (
        Connection {
            sender: to_client,
            receiver: from_client,
        },
        IoThreads { reader, writer },
    )
}

/// A connection over stdin and stdout.
pub fn stdio() -> (Connection, IoThreads) {
    connect(io::BufReader::new(io::stdin()), io::stdout())
}

fn read_loop(
    mut input: impl BufRead,
    to_server: Sender<Message>,
    errors: Sender<Vec<u8>>,
) -> io::Result<()> {
    while let Some(frame) = read_frame(&mut input)? {
        match frame {
            Frame::Message(message) => {
                let exit = matches!(&message, Message::Notification(n) if n.method == "exit");
                if to_server.send(message).is_err() || exit {
                    break;
                }
            }
            Frame::Invalid { id, code, message } => {
                if errors.send(error_frame(&id, code, &message)).is_err() {
                    break;
                }
            }
        }
    }
    Ok(())
}

fn write_loop(
    mut output: impl Write,
    from_server: Receiver<Message>,
    errors: Receiver<Vec<u8>>,
) -> io::Result<()> {
    let mut errors = Some(errors);
    loop {
        let next = match &errors {
            Some(errors_rx) => crossbeam_channel::select! {
                recv(from_server) -> m => m.map(Outgoing::Message).ok(),
                recv(errors_rx) -> e => match e {
                    Ok(frame) => Some(Outgoing::Raw(frame)),
                    Err(_) => Some(Outgoing::ReaderGone),
                },
            },
            None => from_server.recv().map(Outgoing::Message).ok(),
        };
        match next {
            None => return Ok(()),
            Some(Outgoing::Message(message)) => message.write(&mut output)?,
            Some(Outgoing::Raw(frame)) => {
                output.write_all(&frame)?;
                output.flush()?;
            }
            Some(Outgoing::ReaderGone) => errors = None,
        }
    }
}

enum Outgoing {
    Message(Message),
    Raw(Vec<u8>),
    ReaderGone,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(input: &[u8]) -> Vec<Frame> {
        let mut input = io::Cursor::new(input.to_vec());
        let mut out = Vec::new();
        while let Some(frame) = read_frame(&mut input).expect("read") {
            out.push(frame);
        }
        out
    }

    fn framed(body: &str) -> String {
        format!("Content-Length: {}\r\n\r\n{body}", body.len())
    }

    fn is_message(frame: &Frame) -> bool {
        matches!(frame, Frame::Message(_))
    }

    fn invalid(frame: &Frame) -> (i32, &str) {
        match frame {
            Frame::Invalid { code, message, .. } => (*code as i32, message.as_str()),
            Frame::Message(m) => panic!("a message: {m:?}"),
        }
    }

    #[test]
    fn well_formed_frames_are_messages() {
        let ok = r#"{"jsonrpc":"2.0","method":"initialized","params":{}}"#;
        let got = frames(format!("{}{}", framed(ok), framed(ok)).as_bytes());
        assert_eq!(got.len(), 2);
        assert!(got.iter().all(is_message));
    }

    #[test]
    fn malformed_bodies_are_errors_and_reading_goes_on() {
        let ok = r#"{"jsonrpc":"2.0","method":"initialized","params":{}}"#;
        let input = [
            framed("{not json"),
            framed(r#"{"jsonrpc":"2.0","id":7,"method":3}"#),
            framed(r#"[1,2]"#),
            framed(ok),
        ]
        .concat();
        let got = frames(input.as_bytes());
        assert_eq!(got.len(), 4, "{got:?}");
        assert_eq!(invalid(&got[0]).0, -32700);
        assert_eq!(invalid(&got[1]).0, -32600);
        assert!(matches!(&got[1], Frame::Invalid { id, .. } if id == &Json::from(7)));
        assert_eq!(invalid(&got[2]).0, -32600);
        assert!(is_message(&got[3]));
    }

    #[test]
    fn an_announced_giant_is_skipped_without_being_held() {
        let ok = r#"{"jsonrpc":"2.0","method":"initialized","params":{}}"#;
        // Announces 4 GB but sends little: the input ends inside it.
        let got = frames(b"Content-Length: 4000000000\r\n\r\n{}");
        assert!(got.is_empty(), "{got:?}");
        // A body over the limit that is really sent is skipped in pieces.
        let big = MAX_FRAME + 10;
        let mut input = format!("Content-Length: {big}\r\n\r\n").into_bytes();
        input.resize(input.len() + big, b' ');
        input.extend_from_slice(framed(ok).as_bytes());
        let got = frames(&input);
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(invalid(&got[0]).1.contains("larger than the limit"));
        assert!(is_message(&got[1]));
    }

    #[test]
    fn bad_headers_are_errors() {
        let ok = r#"{"jsonrpc":"2.0","method":"initialized","params":{}}"#;
        let long = format!("X-Long: {}\r\n\r\n", "a".repeat(MAX_HEADER_LINE * 3));
        let input = [
            "Content-Length: lots\r\n\r\n".to_string(),
            "garbage\r\n\r\n".to_string(),
            long,
            framed(ok),
        ]
        .concat();
        let got = frames(input.as_bytes());
        assert_eq!(got.len(), 4, "{got:?}");
        assert!(invalid(&got[0]).1.contains("not a byte count"));
        assert!(invalid(&got[1]).1.contains("is not a header"));
        assert!(invalid(&got[2]).1.contains("longer than"));
        assert!(is_message(&got[3]));
    }

    #[test]
    fn error_frames_are_json_rpc_responses() {
        let frame = error_frame(&Json::from("a"), ErrorCode::ParseError, "bad");
        let text = String::from_utf8(frame).expect("utf-8");
        let (head, body) = text.split_once("\r\n\r\n").expect("header");
        assert_eq!(head, format!("Content-Length: {}", body.len()));
        let json: Json = serde_json::from_str(body).expect("json");
        assert_eq!(json["id"], "a");
        assert_eq!(json["error"]["code"], -32700);
        let frame = error_frame(&serde_json::json!({"x": 1}), ErrorCode::ParseError, "bad");
        assert!(String::from_utf8_lossy(&frame).contains(r#""id":null"#));
    }
}
