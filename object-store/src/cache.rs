//! The digest-table cache: verified [`ChunkTable`]s keyed by location and version, bounded in
//! bytes (least recently used first out), and one build at a time per key (single flight).

use object_store::path::Path;
use object_store::{Attributes, ObjectMeta};
use s3_encryption::ChunkTable;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// One verified object: its table (key material and chunk digests, bound to the ETag, version
/// and stored length it was built from), and what a read reports about it.
#[derive(Debug)]
pub(crate) struct Verified {
    pub table: ChunkTable,
    /// The object's description with its plaintext size.
    pub meta: ObjectMeta,
    /// The user's attributes (without the envelope).
    pub attributes: Attributes,
}

impl Verified {
    fn size(&self) -> usize {
        self.table.memory_size()
            + std::mem::size_of::<Self>()
            + self.meta.location.as_ref().len() * 2
    }
}

type Key = (Path, Option<String>);

#[derive(Debug, Default)]
struct Inner {
    map: HashMap<Key, (Arc<Verified>, u64)>,
    bytes: usize,
    tick: u64,
}

/// The gate of one key's table build: whoever holds its lock builds; the others wait for it,
/// then find the table cached.
pub(crate) type Gate = Arc<futures_util::lock::Mutex<()>>;

/// A cache of verified tables, bounded in bytes.
#[derive(Debug)]
pub(crate) struct TableCache {
    limit: usize,
    inner: Mutex<Inner>,
    /// The builds in flight, by key.
    gates: Mutex<HashMap<Key, Gate>>,
}

impl TableCache {
    pub fn new(limit: usize) -> Self {
        TableCache {
            limit,
            inner: Mutex::new(Inner::default()),
            gates: Mutex::new(HashMap::new()),
        }
    }

    /// The gate of the table build of `location` (and `version`): lock it before building and
    /// look in the cache again once it is held (a build before may have finished); then
    /// [`TableCache::built`].
    pub fn gate(&self, location: &Path, version: Option<&str>) -> Gate {
        let key = (location.clone(), version.map(String::from));
        let mut g = self.gates.lock().unwrap_or_else(|p| p.into_inner());
        g.entry(key).or_default().clone()
    }

    /// The build behind `gate` is over (built, failed, or found cached): forget the gate unless
    /// a newer one took its place. Those still waiting on it hold their own reference.
    pub fn built(&self, location: &Path, version: Option<&str>, gate: &Gate) {
        let key = (location.clone(), version.map(String::from));
        let mut g = self.gates.lock().unwrap_or_else(|p| p.into_inner());
        if g.get(&key).is_some_and(|x| Arc::ptr_eq(x, gate)) {
            g.remove(&key);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn get(&self, location: &Path, version: Option<&str>) -> Option<Arc<Verified>> {
        let mut g = self.lock();
        g.tick += 1;
        let tick = g.tick;
        let key = (location.clone(), version.map(String::from));
        let e = g.map.get_mut(&key)?;
        e.1 = tick;
        Some(e.0.clone())
    }

    pub fn insert(&self, location: &Path, version: Option<&str>, v: Arc<Verified>) {
        let size = v.size();
        if size > self.limit {
            return;
        }
        let mut g = self.lock();
        g.tick += 1;
        let tick = g.tick;
        let key = (location.clone(), version.map(String::from));
        if let Some((old, _)) = g.map.insert(key, (v, tick)) {
            g.bytes -= old.size();
        }
        g.bytes += size;
        while g.bytes > self.limit {
            let Some(k) = g
                .map
                .iter()
                .min_by_key(|(_, (_, t))| *t)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some((old, _)) = g.map.remove(&k) {
                g.bytes -= old.size();
            }
        }
    }

    /// Forget every table of `location` (any version).
    pub fn invalidate(&self, location: &Path) {
        let mut g = self.lock();
        let keys: Vec<Key> = g.map.keys().filter(|k| &k.0 == location).cloned().collect();
        for k in keys {
            if let Some((old, _)) = g.map.remove(&k) {
                g.bytes -= old.size();
            }
        }
    }

    /// Forget one table if it is still the one cached.
    pub fn remove_if(&self, location: &Path, version: Option<&str>, v: &Arc<Verified>) {
        let mut g = self.lock();
        let key = (location.clone(), version.map(String::from));
        if g.map.get(&key).is_some_and(|(x, _)| Arc::ptr_eq(x, v))
            && let Some((old, _)) = g.map.remove(&key)
        {
            g.bytes -= old.size();
        }
    }

    /// Bytes held and tables cached.
    pub fn usage(&self) -> (usize, usize) {
        let g = self.lock();
        (g.bytes, g.map.len())
    }
}
