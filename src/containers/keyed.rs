//! One async lock per key (an image, a network name), so that work on the same thing in
//! one process happens one at a time while work on different things runs at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// Locks by key, each guarding a `T`; a key's lock is made on first use and kept.
#[derive(Debug, Default)]
pub struct Keyed<T> {
    slots: Mutex<HashMap<String, Arc<tokio::sync::Mutex<T>>>>,
}

impl<T: Default> Keyed<T> {
    /// The lock of `key`.
    pub fn slot(&self, key: &str) -> Arc<tokio::sync::Mutex<T>> {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        slots.entry(key.to_string()).or_default().clone()
    }
}
