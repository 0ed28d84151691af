//! [`BalanceLayer`]: builds a [`Balance`] around an endpoint factory.

use tower::load::CompleteOnResponse;
use tower::Layer;

use super::{Balance, NewEndpoint};
use crate::backend::Backend;

/// Wraps an endpoint factory ([`NewEndpoint`]) into a [`Balance`] over a backend.
#[derive(Clone, Debug)]
pub struct BalanceLayer<K> {
    backend: Backend,
    key: K,
}

impl<K> BalanceLayer<K> {
    /// A layer balancing over `backend` with keys from `key`.
    pub fn new(backend: Backend, key: K) -> Self {
        BalanceLayer { backend, key }
    }
}

impl<N: NewEndpoint, K: Clone> Layer<N> for BalanceLayer<K> {
    type Service = Balance<N, K, CompleteOnResponse>;

    fn layer(&self, new_endpoint: N) -> Self::Service {
        Balance::new(self.backend.clone(), new_endpoint, self.key.clone())
    }
}
