//! [`PrefixedIo`]: a stream that replays bytes already read from it.

use std::fmt;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use pin_project_lite::pin_project;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

pin_project! {
    /// A stream whose reads first return `prefix`, then read from the inner stream.
    ///
    /// [`inspect`](super::inspect) returns one holding the bytes it read, so whatever
    /// comes next (a TLS acceptor, an HTTP server, a proxy to the backend) sees the
    /// client's bytes from the first one. Writes, flushes and shutdown go straight to the
    /// inner stream.
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Bytes;
    /// use lb_tcp::inspect::PrefixedIo;
    /// use tokio::io::AsyncReadExt;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// let mut io = PrefixedIo::new(Bytes::from_static(b"GET / "), &b"HTTP/1.1\r\n"[..]);
    /// let mut all = String::new();
    /// io.read_to_string(&mut all).await?;
    /// assert_eq!(all, "GET / HTTP/1.1\r\n");
    /// # Ok(())
    /// # }
    /// ```
    pub struct PrefixedIo<I> {
        prefix: Bytes,
        #[pin]
        inner: I,
    }
}

impl<I> PrefixedIo<I> {
    /// Wraps `inner`, replaying `prefix` before reading from it.
    pub const fn new(prefix: Bytes, inner: I) -> Self {
        Self { prefix, inner }
    }

    /// The bytes of the prefix not read yet.
    pub fn prefix(&self) -> &[u8] {
        &self.prefix
    }

    /// A reference to the inner stream.
    pub const fn get_ref(&self) -> &I {
        &self.inner
    }

    /// A mutable reference to the inner stream.
    ///
    /// Reading from it directly skips the unread prefix.
    pub fn get_mut(&mut self) -> &mut I {
        &mut self.inner
    }

    /// A pinned mutable reference to the inner stream.
    pub fn get_pin_mut(self: Pin<&mut Self>) -> Pin<&mut I> {
        self.project().inner
    }

    /// The unread prefix and the inner stream.
    ///
    /// There is no `into_inner`: dropping the unread prefix would lose client bytes.
    pub fn into_parts(self) -> (Bytes, I) {
        (self.prefix, self.inner)
    }
}

impl<I: fmt::Debug> fmt::Debug for PrefixedIo<I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrefixedIo")
            .field("prefix_len", &self.prefix.len())
            .field("inner", &self.inner)
            .finish()
    }
}

impl<I: AsyncRead> AsyncRead for PrefixedIo<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.project();
        if this.prefix.is_empty() {
            return this.inner.poll_read(cx, buf);
        }
        let n = this.prefix.len().min(buf.remaining());
        buf.put_slice(&this.prefix[..n]);
        this.prefix.advance(n);
        if this.prefix.is_empty() {
            // Release the inspection buffer.
            *this.prefix = Bytes::new();
        }
        Poll::Ready(Ok(()))
    }
}

impl<I: AsyncWrite> AsyncWrite for PrefixedIo<I> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.project().inner.poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.project().inner.poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_test::io::Builder;

    use super::*;

    #[tokio::test]
    async fn replays_prefix_then_inner() {
        let inner = Builder::new().read(b" world").read(b"!").build();
        let mut io = PrefixedIo::new(Bytes::from_static(b"hello"), inner);
        let mut all = Vec::new();
        io.read_to_end(&mut all).await.expect("read");
        assert_eq!(all, b"hello world!");
    }

    #[tokio::test]
    async fn small_reads_split_the_prefix() {
        let mut io = PrefixedIo::new(Bytes::from_static(b"abc"), &b"d"[..]);
        let mut one = [0; 2];
        assert_eq!(io.read(&mut one).await.expect("read"), 2);
        assert_eq!(&one, b"ab");
        assert_eq!(io.prefix(), b"c");
        assert_eq!(io.read(&mut one).await.expect("read"), 1);
        assert_eq!(&one[..1], b"c");
        assert_eq!(io.read(&mut one).await.expect("read"), 1);
        assert_eq!(&one[..1], b"d");
        assert_eq!(io.read(&mut one).await.expect("read"), 0);
    }

    #[tokio::test]
    async fn empty_read_buffer_consumes_nothing() {
        let mut io = PrefixedIo::new(Bytes::from_static(b"abc"), &b""[..]);
        assert_eq!(io.read(&mut []).await.expect("read"), 0);
        assert_eq!(io.prefix(), b"abc");
    }

    #[tokio::test]
    async fn writes_pass_through() {
        let inner = Builder::new().write(b"response").write(b"vectored").build();
        let mut io = PrefixedIo::new(Bytes::from_static(b"request"), inner);
        io.write_all(b"response").await.expect("write");
        let bufs = [IoSlice::new(b"vec"), IoSlice::new(b"tored")];
        let n = io.write_vectored(&bufs).await.expect("write");
        // The mock is not vectored: the default writes the first non-empty slice.
        assert_eq!(io.is_write_vectored(), io.get_ref().is_write_vectored());
        io.write_all(&b"vectored"[n..]).await.expect("write");
        io.flush().await.expect("flush");
        io.shutdown().await.expect("shutdown");
        let mut prefix = Vec::new();
        io.read_to_end(&mut prefix).await.expect("read");
        assert_eq!(prefix, b"request");
    }

    #[tokio::test]
    async fn duplex_both_ways() {
        let (mut client, server) = tokio::io::duplex(64);
        let mut io = PrefixedIo::new(Bytes::from_static(b"ping "), server);
        client.write_all(b"more").await.expect("write");
        client.shutdown().await.expect("shutdown");
        let mut got = String::new();
        io.read_to_string(&mut got).await.expect("read");
        assert_eq!(got, "ping more");

        io.write_all(b"pong").await.expect("write");
        drop(io);
        let mut back = String::new();
        client.read_to_string(&mut back).await.expect("read");
        assert_eq!(back, "pong");
    }

    #[tokio::test]
    async fn into_parts_keeps_the_unread_prefix() {
        let mut io = PrefixedIo::new(Bytes::from_static(b"abcdef"), &b"gh"[..]);
        let mut two = [0; 2];
        io.read_exact(&mut two).await.expect("read");
        let (prefix, inner) = io.into_parts();
        assert_eq!((&prefix[..], inner), (&b"cdef"[..], &b"gh"[..]));
        let debug = format!("{:?}", PrefixedIo::new(prefix, ()));
        assert_eq!(debug, "PrefixedIo { prefix_len: 4, inner: () }");
    }

    proptest! {
        #[test]
        fn yields_prefix_then_rest(
            data in proptest::collection::vec(any::<u8>(), 0..2048),
            split in any::<prop::sample::Index>(),
            chunks in proptest::collection::vec(1usize..300, 1..8),
            read_size in 1usize..512,
        ) {
            let at = split.index(data.len() + 1);
            let (head, tail) = data.split_at(at);
            // The rest arrives in arbitrary chunks.
            let mut inner = Builder::new();
            let mut rest = tail;
            for &size in chunks.iter().cycle() {
                if rest.is_empty() {
                    break;
                }
                let (chunk, more) = rest.split_at(size.min(rest.len()));
                inner.read(chunk);
                rest = more;
            }
            let mut io = PrefixedIo::new(Bytes::copy_from_slice(head), inner.build());
            let got = tokio_test::block_on(async {
                let mut got = Vec::new();
                let mut buf = vec![0; read_size];
                loop {
                    let n = io.read(&mut buf).await.expect("read");
                    if n == 0 {
                        break got;
                    }
                    got.extend_from_slice(&buf[..n]);
                }
            });
            prop_assert_eq!(got, data);
        }
    }
}
