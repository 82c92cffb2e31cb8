//! Request bodies on the receiving side: a refused body is drained, so its sender reads the refusal.
//!
//! A server that answers before reading the whole request (413 for an oversized hook, 401 for a
//! wrong key) and then closes the connection leaves the unread rest in the kernel's receive
//! buffer, and closing a socket with unread data sends a TCP reset. A reset that reaches the
//! client while it is still writing its body destroys the answer it has not read yet: the client
//! sees "connection reset" instead of the typed 413, and retries what it should have fixed.
//! Wrapping every inbound body in [`Lingering`] closes that race the way nginx's lingering close
//! does: a body dropped before its end is read to its end in the background, at most
//! [`LINGER_BYTES`] more within [`LINGER_TIME`], and only then is the connection let go.
//!
//! ```
//! # async fn demo() {
//! use http_body_util::{BodyExt, Full};
//! use walletport_http::inbound::Lingering;
//!
//! let body = Lingering::new(Full::new(bytes::Bytes::from_static(b"{}")));
//! let read = body.collect().await.map(|c| c.to_bytes());
//! assert_eq!(read.as_deref().ok(), Some(&b"{}"[..]));
//! # }
//! ```

use std::future::poll_fn;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Buf;
use http_body::{Body, Frame, SizeHint};

/// How much of a refused body is read and discarded, past the point where it was dropped.
///
/// Bounded so that a client announcing gigabytes cannot keep a task reading them; a body larger
/// than this past the refusal may still see its connection reset.
pub const LINGER_BYTES: usize = 8 * 1024 * 1024;

/// How long a refused body is drained before the connection is let go regardless.
pub const LINGER_TIME: Duration = Duration::from_secs(5);

/// A request body that, when dropped before its end, drains the rest in the background.
///
/// Reading it is reading the inner body; only its `Drop` differs. Without a Tokio runtime
/// (dropped outside one) the rest is not drained and the connection closes as it would have.
#[derive(Debug)]
pub struct Lingering<B: Body + Send + Unpin + 'static> {
    inner: Option<B>,
    ended: bool,
}

impl<B: Body + Send + Unpin + 'static> Lingering<B> {
    /// Wraps an inbound body; use it on every request a server may refuse before reading it all.
    pub fn new(inner: B) -> Self {
        Self {
            inner: Some(inner),
            ended: false,
        }
    }
}

impl<B: Body + Send + Unpin + 'static> Body for Lingering<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let Some(inner) = self.inner.as_mut() else {
            return Poll::Ready(None);
        };
        let polled = Pin::new(inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None | Some(Err(_)))) {
            self.ended = true;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.ended || self.inner.as_ref().is_none_or(Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), Body::size_hint)
    }
}

impl<B: Body + Send + Unpin + 'static> Drop for Lingering<B> {
    fn drop(&mut self) {
        if self.is_end_stream() {
            return;
        }
        let (Some(rest), Ok(runtime)) = (self.inner.take(), tokio::runtime::Handle::try_current())
        else {
            return;
        };
        runtime.spawn(async move {
            // Either outcome lets the connection go: the end was read, or the bound was reached.
            let _ = tokio::time::timeout(LINGER_TIME, drain(rest, LINGER_BYTES)).await;
        });
    }
}

/// Wraps a request's body in [`Lingering`]: the whole of a server's `map_request` middleware.
///
/// With axum: `.layer(middleware::map_request(|r: Request| async { lingering(r).map(Body::new) }))`.
pub fn lingering<B: Body + Send + Unpin + 'static>(
    request: http::Request<B>,
) -> http::Request<Lingering<B>> {
    request.map(Lingering::new)
}

/// Reads `body` to its end or until more than `limit` bytes were read, discarding every frame.
async fn drain<B: Body + Unpin>(mut body: B, limit: usize) {
    let mut read = 0usize;
    while let Some(Ok(frame)) = poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        read = read.saturating_add(frame.data_ref().map_or(0, Buf::remaining));
        if read > limit {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use bytes::Bytes;

    use super::*;

    /// A body of `chunks` frames of `size` bytes that counts how many bytes were read from it.
    struct Counted {
        left: usize,
        size: usize,
        read: Arc<AtomicUsize>,
    }

    impl Body for Counted {
        type Data = Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            if self.left == 0 {
                return Poll::Ready(None);
            }
            self.left -= 1;
            self.read.fetch_add(self.size, Ordering::SeqCst);
            Poll::Ready(Some(Ok(Frame::data(Bytes::from(vec![b'x'; self.size])))))
        }

        fn is_end_stream(&self) -> bool {
            self.left == 0
        }
    }

    fn counted(chunks: usize, size: usize) -> (Counted, Arc<AtomicUsize>) {
        let read = Arc::new(AtomicUsize::new(0));
        let body = Counted {
            left: chunks,
            size,
            read: read.clone(),
        };
        (body, read)
    }

    async fn settled(read: &AtomicUsize) -> usize {
        for _ in 0..100 {
            tokio::task::yield_now().await;
        }
        read.load(Ordering::SeqCst)
    }

    #[tokio::test]
    async fn a_body_dropped_unread_is_drained_to_its_end() {
        let (body, read) = counted(10, 1024);
        drop(Lingering::new(body));
        assert_eq!(settled(&read).await, 10 * 1024);
    }

    #[tokio::test]
    async fn draining_stops_past_the_bound() {
        let chunk = 64 * 1024;
        let (body, read) = counted(1000, chunk);
        drop(Lingering::new(body));
        let drained = settled(&read).await;
        assert!(drained > LINGER_BYTES, "{drained}");
        assert!(drained <= LINGER_BYTES + chunk, "{drained}");
    }

    #[tokio::test]
    async fn a_body_read_to_its_end_is_not_touched_again() {
        let (body, read) = counted(3, 10);
        let mut body = Lingering::new(body);
        while poll_fn(|cx| Pin::new(&mut body).poll_frame(cx))
            .await
            .is_some()
        {}
        assert!(body.is_end_stream());
        drop(body);
        assert_eq!(settled(&read).await, 30);
    }

    #[test]
    fn without_a_runtime_dropping_does_not_panic() {
        let (body, read) = counted(3, 10);
        drop(Lingering::new(body));
        assert_eq!(read.load(Ordering::SeqCst), 0);
    }
}
