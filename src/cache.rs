//! An in-memory cache whose entries expire after a fixed time and which a change can clear at
//! once. A value read before a clear is not kept after it (see [`ExpiringCache::ticket`]), so a
//! slow read cannot bring back what the clear dropped.
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

pub struct ExpiringCache<K, V> {
    ttl: Duration,
    /// Entries kept at most; past it, expired entries are dropped (and if none had expired, all).
    max_entries: usize,
    entries: Mutex<HashMap<K, (Instant, Arc<V>)>>,
    /// Bumped by every clear.
    generation: AtomicU64,
}

impl<K: Eq + Hash, V> ExpiringCache<K, V> {
    pub fn new(ttl: Duration, max_entries: usize) -> Self {
        Self {
            ttl,
            max_entries,
            entries: Mutex::default(),
            generation: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<K, (Instant, Arc<V>)>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Forgets every entry, and every value being read now.
    pub fn clear(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.lock().clear();
    }

    /// The entry for `key` while it is fresh.
    pub fn get(&self, key: &K) -> Option<Arc<V>> {
        self.lock()
            .get(key)
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, value)| value.clone())
    }

    /// Take one before reading a value to [`put`](Self::put): the value is kept only if no
    /// clear came in between.
    pub fn ticket(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    pub fn put(&self, ticket: u64, key: K, value: Arc<V>) {
        let mut entries = self.lock();
        if self.generation.load(Ordering::SeqCst) != ticket {
            return;
        }
        if entries.len() >= self.max_entries {
            let ttl = self.ttl;
            entries.retain(|_, (at, _)| at.elapsed() < ttl);
            if entries.len() >= self.max_entries {
                entries.clear();
            }
        }
        entries.insert(key, (Instant::now(), value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_kept_until_they_expire() {
        let cache = ExpiringCache::new(Duration::from_secs(60), 10);
        cache.put(cache.ticket(), "k", Arc::new(1));
        assert_eq!(cache.get(&"k").as_deref(), Some(&1));
        let stale = ExpiringCache::new(Duration::ZERO, 10);
        stale.put(stale.ticket(), "k", Arc::new(1));
        assert_eq!(stale.get(&"k"), None);
    }

    #[test]
    fn a_value_read_before_a_clear_is_not_kept() {
        let cache = ExpiringCache::new(Duration::from_secs(60), 10);
        cache.put(cache.ticket(), "old", Arc::new(1));
        let ticket = cache.ticket();
        cache.clear();
        cache.put(ticket, "k", Arc::new(2));
        assert_eq!((cache.get(&"old"), cache.get(&"k")), (None, None));
        cache.put(cache.ticket(), "k", Arc::new(3));
        assert_eq!(cache.get(&"k").as_deref(), Some(&3));
    }

    #[test]
    fn a_full_cache_makes_room() {
        let cache = ExpiringCache::new(Duration::from_secs(60), 2);
        for (i, key) in ["a", "b", "c"].into_iter().enumerate() {
            cache.put(cache.ticket(), key, Arc::new(i));
        }
        assert_eq!(cache.get(&"c").as_deref(), Some(&2));
        assert!(cache.lock().len() <= 2);
    }
}
