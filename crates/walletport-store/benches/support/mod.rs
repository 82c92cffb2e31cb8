//! What the store's benches share: the runtime they drive the store on.

/// A two-worker multi-thread runtime, like the gateway's on the 2-core reference machine.
pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}
