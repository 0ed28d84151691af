//! [`Meter`]: where the forwarder reports the bytes it moves, and [`Counters`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Receives byte counts as the forwarder reads them, once per chunk read.
///
/// Implementations must be cheap: they run on the hot path, once per read (up to one
/// buffer). Compose meters to feed several sets of statistics at once (frontend, backend,
/// server): `(A, B)`, `&[M]`, `&M`, `Arc<M>` and `Option<M>` are meters; `()` counts
/// nothing.
///
/// # Examples
///
/// ```
/// use lb_tcp::forward::{Counters, Meter};
///
/// let frontend = Counters::new();
/// let server = Counters::new();
/// let both = (&frontend, &server);
/// both.client_to_server(100);
/// both.server_to_client(7);
/// assert_eq!(frontend.load(), (100, 7));
/// assert_eq!(server.load(), (100, 7));
/// ```
pub trait Meter {
    /// `n` more bytes were read from the client (to be written to the server).
    fn client_to_server(&self, n: u64);
    /// `n` more bytes were read from the server (to be written to the client).
    fn server_to_client(&self, n: u64);
}

impl Meter for () {
    #[inline]
    fn client_to_server(&self, _: u64) {}
    #[inline]
    fn server_to_client(&self, _: u64) {}
}

impl<M: Meter + ?Sized> Meter for &M {
    #[inline]
    fn client_to_server(&self, n: u64) {
        (**self).client_to_server(n);
    }
    #[inline]
    fn server_to_client(&self, n: u64) {
        (**self).server_to_client(n);
    }
}

impl<M: Meter + ?Sized> Meter for Arc<M> {
    #[inline]
    fn client_to_server(&self, n: u64) {
        (**self).client_to_server(n);
    }
    #[inline]
    fn server_to_client(&self, n: u64) {
        (**self).server_to_client(n);
    }
}

impl<M: Meter> Meter for Option<M> {
    #[inline]
    fn client_to_server(&self, n: u64) {
        if let Some(m) = self {
            m.client_to_server(n);
        }
    }
    #[inline]
    fn server_to_client(&self, n: u64) {
        if let Some(m) = self {
            m.server_to_client(n);
        }
    }
}

impl<A: Meter, B: Meter> Meter for (A, B) {
    #[inline]
    fn client_to_server(&self, n: u64) {
        self.0.client_to_server(n);
        self.1.client_to_server(n);
    }
    #[inline]
    fn server_to_client(&self, n: u64) {
        self.0.server_to_client(n);
        self.1.server_to_client(n);
    }
}

impl<A: Meter, B: Meter, C: Meter> Meter for (A, B, C) {
    #[inline]
    fn client_to_server(&self, n: u64) {
        self.0.client_to_server(n);
        self.1.client_to_server(n);
        self.2.client_to_server(n);
    }
    #[inline]
    fn server_to_client(&self, n: u64) {
        self.0.server_to_client(n);
        self.1.server_to_client(n);
        self.2.server_to_client(n);
    }
}

impl<M: Meter> Meter for [M] {
    #[inline]
    fn client_to_server(&self, n: u64) {
        for m in self {
            m.client_to_server(n);
        }
    }
    #[inline]
    fn server_to_client(&self, n: u64) {
        for m in self {
            m.server_to_client(n);
        }
    }
}

/// Two byte counters, one per direction: the simplest [`Meter`].
///
/// One relaxed `fetch_add` per chunk read. Share it with `&Counters` or `Arc<Counters>`.
#[derive(Debug, Default)]
pub struct Counters {
    /// Bytes read from clients, to servers (HAProxy's `bytes_in`).
    pub bytes_in: AtomicU64,
    /// Bytes read from servers, to clients (HAProxy's `bytes_out`).
    pub bytes_out: AtomicU64,
}

impl Counters {
    /// Both counters at zero.
    pub const fn new() -> Self {
        Self {
            bytes_in: AtomicU64::new(0),
            bytes_out: AtomicU64::new(0),
        }
    }

    /// The current `(bytes_in, bytes_out)`.
    pub fn load(&self) -> (u64, u64) {
        (
            self.bytes_in.load(Ordering::Relaxed),
            self.bytes_out.load(Ordering::Relaxed),
        )
    }
}

impl Meter for Counters {
    #[inline]
    fn client_to_server(&self, n: u64) {
        self.bytes_in.fetch_add(n, Ordering::Relaxed);
    }
    #[inline]
    fn server_to_client(&self, n: u64) {
        self.bytes_out.fetch_add(n, Ordering::Relaxed);
    }
}
