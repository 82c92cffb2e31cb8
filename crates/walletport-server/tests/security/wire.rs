//! Raw pieces the security tests need: Basic credentials' base64, and a request body streamed
//! chunked (no `Content-Length`) over a plain connection.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Standard base64 with padding, the encoding of Basic credentials.
pub(crate) fn base64(input: &str) -> String {
    STANDARD.encode(input)
}

/// Sends `body` as a chunked stream (no `Content-Length`) over a raw connection; the status.
pub(crate) async fn post_chunked(
    addr: std::net::SocketAddr,
    path: &str,
    headers: &str,
    body: &[u8],
) -> u16 {
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n{headers}\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.expect("head");
    let (mut rd, mut wr) = s.into_split();
    let body = body.to_vec();
    // The server may answer and close before the whole body is sent; write errors are expected.
    let writer = tokio::spawn(async move {
        for chunk in body.chunks(8 * 1024) {
            let mut frame = format!("{:x}\r\n", chunk.len()).into_bytes();
            frame.extend_from_slice(chunk);
            frame.extend_from_slice(b"\r\n");
            if wr.write_all(&frame).await.is_err() {
                return;
            }
        }
        let _ = wr.write_all(b"0\r\n\r\n").await;
    });
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), async {
        let mut buf = [0u8; 4096];
        loop {
            match rd.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            }
            if answer.windows(4).any(|w| w == b"\r\n\r\n") {
                break;
            }
        }
    })
    .await;
    assert!(read.is_ok(), "no answer to a streamed body");
    writer.abort();
    let text = String::from_utf8_lossy(&answer);
    text.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {text:?}"))
}
