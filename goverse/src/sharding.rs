//! Object-id sharding: mapping ids to shards and shards to owner nodes.
//!
//! Every object id hashes (FNV-1a) to one of a fixed number of shards, unless
//! the id pins itself to a shard (`shard#N/rest`). A [`ShardMap`] assigns each
//! shard to an owner node, and the pure functions [`balanced_assignment`],
//! [`rebalance`] and [`moves`] compute and compare such assignments.

use std::collections::BTreeMap;

/// Number of shards a cluster uses unless configured otherwise.
pub const DEFAULT_SHARD_COUNT: u32 = 8192;

/// Index of a shard, in `0..shard_count`.
pub type ShardId = u32;

/// FNV-1a 32-bit hash of `bytes`.
pub fn fnv1a32(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5, |hash, &byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    })
}

/// Shard that owns `id`.
///
/// A shard-pinned id `shard#N/rest` with `N < shard_count` maps to `N`; any
/// other id maps to `fnv1a32(id) % shard_count`. `shard_count` must be at
/// least 1; 0 is treated as 1.
pub fn shard_of(id: &str, shard_count: u32) -> ShardId {
    let shard_count = shard_count.max(1);
    if let IdForm::ShardPinned { shard, .. } = parse_id_form(id)
        && shard < shard_count
    {
        return shard;
    }
    fnv1a32(id.as_bytes()) % shard_count
}

/// The syntactic form of an object id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdForm<'a> {
    /// An ordinary id placed by hashing, e.g. `user/42` or `counter`.
    Plain,
    /// `shard#N/rest`, pinned to shard `N`, e.g. `shard#5/lobby`.
    ShardPinned {
        /// The shard number `N` (range is checked by the caller).
        shard: ShardId,
        /// Everything after the first `/`.
        rest: &'a str,
    },
    /// `host:port/rest`, pinned to a node, e.g. `localhost:7000/abc`.
    NodePinned {
        /// The `host:port` part, e.g. `127.0.0.1:7000`.
        node: &'a str,
        /// Everything after the first `/`.
        rest: &'a str,
    },
}

/// Classifies `id` as plain, shard-pinned or node-pinned (see [`IdForm`]).
///
/// Emptiness of any part other than the port and host is not validated here.
pub fn parse_id_form(id: &str) -> IdForm<'_> {
    let Some((head, rest)) = id.split_once('/') else {
        return IdForm::Plain;
    };
    if let Some(digits) = head.strip_prefix("shard#") {
        if is_decimal(digits)
            && let Ok(shard) = digits.parse()
        {
            return IdForm::ShardPinned { shard, rest };
        }
        return IdForm::Plain;
    }
    if let Some((host, port)) = head.rsplit_once(':')
        && !host.is_empty()
        && !host.contains('#')
        && is_decimal(port)
        && port.parse::<u16>().is_ok_and(|port| port != 0)
    {
        return IdForm::NodePinned { node: head, rest };
    }
    IdForm::Plain
}

fn is_decimal(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit())
}

/// Assignment of every shard to an optional owner node id.
#[derive(Debug, Clone)]
pub struct ShardMap {
    /// Node ids referenced by `owners`.
    nodes: Vec<String>,
    /// Per shard, an index into `nodes`, or `None` if unassigned.
    owners: Vec<Option<u32>>,
}

impl ShardMap {
    /// Map of `shard_count` shards, all unassigned.
    pub fn new(shard_count: u32) -> Self {
        Self {
            nodes: Vec::new(),
            owners: vec![None; shard_count as usize],
        }
    }

    /// Number of shards in the map.
    pub fn shard_count(&self) -> u32 {
        self.owners.len() as u32
    }

    /// Owner of `shard`, or `None` if unassigned or out of range.
    pub fn owner(&self, shard: ShardId) -> Option<&str> {
        let index = (*self.owners.get(shard as usize)?)?;
        Some(&self.nodes[index as usize])
    }

    /// Sets (or clears, with `None`) the owner of `shard`.
    ///
    /// # Panics
    /// If `shard >= self.shard_count()`.
    pub fn set_owner(&mut self, shard: ShardId, node: Option<String>) {
        let index = node.map(|node| self.node_index(node));
        self.owners[shard as usize] = index;
    }

    /// Shards owned by `node`, in ascending order.
    pub fn shards_of<'a>(&'a self, node: &'a str) -> impl Iterator<Item = ShardId> + 'a {
        let wanted = self.nodes.iter().position(|n| n == node).map(|i| i as u32);
        (0..self.shard_count())
            .filter(move |&shard| wanted.is_some() && self.owners[shard as usize] == wanted)
    }

    /// Number of shards owned by each node that owns at least one.
    pub fn counts(&self) -> BTreeMap<String, u32> {
        let mut per_index = vec![0u32; self.nodes.len()];
        for index in self.owners.iter().flatten() {
            per_index[*index as usize] += 1;
        }
        self.nodes
            .iter()
            .zip(per_index)
            .filter(|&(_, count)| count > 0)
            .map(|(node, count)| (node.clone(), count))
            .collect()
    }

    fn node_index(&mut self, node: String) -> u32 {
        match self.nodes.iter().position(|n| *n == node) {
            Some(index) => index as u32,
            None => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as u32
            }
        }
    }
}

/// Maps are equal when they have the same shard count and the same owner for
/// every shard, regardless of internal node-table order.
impl PartialEq for ShardMap {
    fn eq(&self, other: &Self) -> bool {
        self.shard_count() == other.shard_count()
            && (0..self.shard_count()).all(|shard| self.owner(shard) == other.owner(shard))
    }
}

impl Eq for ShardMap {}

/// Change of owner of one shard between two maps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardMove {
    /// The shard that changes owner.
    pub shard: ShardId,
    /// Previous owner, `None` if unassigned.
    pub from: Option<String>,
    /// New owner, `None` if unassigned.
    pub to: Option<String>,
}

/// Assigns `shard_count` shards evenly over `nodes` (counts differ by at most
/// 1). Deterministic for the same node set; no nodes leaves all unassigned.
pub fn balanced_assignment(shard_count: u32, nodes: &[String]) -> ShardMap {
    rebalance(&ShardMap::new(shard_count), nodes)
}

/// Target map of `current`'s shards over the live `nodes`, with minimal moves.
///
/// Each live node gets a quota of `floor(n/k)` or `ceil(n/k)` shards (the
/// larger quotas go to the nodes already holding most). Shards on a live node
/// within its quota stay; shards on dead nodes, unassigned shards and shards
/// over quota go, in ascending order, to the least-loaded node below quota.
/// Deterministic; no live nodes leaves all unassigned.
pub fn rebalance(current: &ShardMap, nodes: &[String]) -> ShardMap {
    let mut live = nodes.to_vec();
    live.sort();
    live.dedup();
    let shard_count = current.shard_count();
    let mut target = ShardMap::new(shard_count);
    if live.is_empty() {
        return target;
    }

    // Current owner of each shard as an index into `live`, if live.
    let live_owner: Vec<Option<usize>> = (0..shard_count)
        .map(|shard| {
            let owner = current.owner(shard)?;
            live.binary_search_by(|node| node.as_str().cmp(owner)).ok()
        })
        .collect();
    let mut held = vec![0u32; live.len()];
    for index in live_owner.iter().flatten() {
        held[*index] += 1;
    }

    let node_count = live.len() as u32;
    let mut quota = vec![shard_count / node_count; live.len()];
    let mut by_load: Vec<usize> = (0..live.len()).collect();
    by_load.sort_by_key(|&index| std::cmp::Reverse(held[index]));
    for &index in &by_load[..(shard_count % node_count) as usize] {
        quota[index] += 1;
    }

    let mut load = vec![0u32; live.len()];
    let mut pool = Vec::new();
    for (shard, owner) in live_owner.iter().enumerate() {
        match *owner {
            Some(index) if load[index] < quota[index] => {
                load[index] += 1;
                target.owners[shard] = Some(index as u32);
            }
            _ => pool.push(shard),
        }
    }
    for shard in pool {
        let index = (0..live.len())
            .filter(|&index| load[index] < quota[index])
            .min_by_key(|&index| load[index])
            .expect("quotas sum to the shard count");
        load[index] += 1;
        target.owners[shard] = Some(index as u32);
    }
    target.nodes = live;
    target
}

/// Shards whose owner differs between `from` and `to`, in ascending order.
pub fn moves(from: &ShardMap, to: &ShardMap) -> Vec<ShardMove> {
    (0..from.shard_count().max(to.shard_count()))
        .filter(|&shard| from.owner(shard) != to.owner(shard))
        .map(|shard| ShardMove {
            shard,
            from: from.owner(shard).map(str::to_owned),
            to: to.owner(shard).map(str::to_owned),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node_names(count: usize) -> Vec<String> {
        (0..count).map(|i| format!("node-{i}")).collect()
    }

    /// Asserts every shard is on one of `nodes` and counts differ by at most 1.
    fn assert_balanced(map: &ShardMap, nodes: &[String]) {
        for shard in 0..map.shard_count() {
            let owner = map.owner(shard).expect("every shard assigned");
            assert!(nodes.iter().any(|node| node == owner), "{owner} not live");
        }
        let counts = map.counts();
        let min = nodes
            .iter()
            .map(|n| counts.get(n).copied().unwrap_or(0))
            .min();
        let max = counts.values().copied().max();
        assert!(max.unwrap_or(0) - min.unwrap_or(0) <= 1, "{counts:?}");
    }

    #[test]
    fn fnv1a32_known_vectors() {
        assert_eq!(fnv1a32(b""), 0x811c_9dc5);
        assert_eq!(fnv1a32(b"a"), 0xe40c_292c);
        assert_eq!(fnv1a32(b"foobar"), 0xbf9c_f968);
    }

    #[test]
    fn shard_of_is_stable_and_in_range() {
        let long = "x".repeat(1000);
        let ids = ["", "a", "user/42", "ünïcödé/☃", "shard#/x", &long];
        for count in [1, 7, 64, DEFAULT_SHARD_COUNT] {
            for id in ids {
                assert!(shard_of(id, count) < count);
                assert_eq!(shard_of(id, count), shard_of(id, count));
            }
        }
        assert_eq!(shard_of("anything", 0), 0);
    }

    #[test]
    fn shard_of_pinned_ids() {
        let hashed = |id: &str| fnv1a32(id.as_bytes()) % 64;
        assert_eq!(shard_of("shard#5/x", 64), 5);
        assert_eq!(shard_of("shard#99999/x", 64), hashed("shard#99999/x"));
        assert_eq!(shard_of("shard#x/y", 64), hashed("shard#x/y"));
    }

    #[test]
    fn parse_id_form_cases() {
        let node = |node, rest| IdForm::NodePinned { node, rest };
        let local = parse_id_form("localhost:7000/abc");
        assert_eq!(local, node("localhost:7000", "abc"));
        let loopback = parse_id_form("127.0.0.1:7000/abc");
        assert_eq!(loopback, node("127.0.0.1:7000", "abc"));
        let pinned = IdForm::ShardPinned {
            shard: 3,
            rest: "z",
        };
        assert_eq!(parse_id_form("shard#3/z"), pinned);
        let plain = [
            "a/b",
            "host:notaport/x",
            "host:0/x",
            "host:65536/x",
            ":7000/x",
        ];
        let more = ["h#x:7000/x", "localhost:7000", "shard#3", "shard#+3/z"];
        for id in plain.into_iter().chain(more) {
            assert_eq!(parse_id_form(id), IdForm::Plain, "{id}");
        }
    }

    #[test]
    fn hashing_spreads_ids() {
        let mut counts = [0u32; 64];
        for i in 0..10_000 {
            counts[shard_of(&format!("object-{i}"), 64) as usize] += 1;
        }
        assert!(
            counts.iter().all(|&c| (100..=250).contains(&c)),
            "{counts:?}"
        );
    }

    #[test]
    fn shard_map_accessors() {
        let mut map = ShardMap::new(4);
        map.set_owner(1, Some("a".into()));
        map.set_owner(3, Some("a".into()));
        map.set_owner(2, Some("b".into()));
        map.set_owner(2, None);
        assert_eq!(map.owner(1), Some("a"));
        assert_eq!(map.owner(2), None);
        assert_eq!(map.owner(9), None);
        assert_eq!(map.shards_of("a").collect::<Vec<_>>(), [1, 3]);
        assert_eq!(map.shards_of("b").count(), 0);
        assert_eq!(map.counts(), BTreeMap::from([("a".to_owned(), 2)]));
        let mut same = ShardMap::new(4);
        same.set_owner(3, Some("a".into()));
        same.set_owner(1, Some("a".into()));
        assert_eq!(map, same);
    }

    #[test]
    fn balanced_assignment_is_even() {
        for k in 1..=7 {
            let nodes = node_names(k);
            let map = balanced_assignment(DEFAULT_SHARD_COUNT, &nodes);
            assert_balanced(&map, &nodes);
            let mut reversed = nodes.clone();
            reversed.reverse();
            assert_eq!(map, balanced_assignment(DEFAULT_SHARD_COUNT, &reversed));
        }
        let empty = balanced_assignment(16, &[]);
        assert_eq!(empty, ShardMap::new(16));
    }

    #[test]
    fn adding_a_node_moves_few_shards() {
        for k in 1..=6u32 {
            let before = balanced_assignment(DEFAULT_SHARD_COUNT, &node_names(k as usize));
            let nodes = node_names(k as usize + 1);
            let after = rebalance(&before, &nodes);
            assert_balanced(&after, &nodes);
            let limit = DEFAULT_SHARD_COUNT.div_ceil(k + 1) + k;
            assert!(moves(&before, &after).len() as u32 <= limit);
        }
    }

    #[test]
    fn removing_a_node_moves_only_its_shards() {
        for k in 1..=6 {
            let nodes = node_names(k + 1);
            let before = balanced_assignment(DEFAULT_SHARD_COUNT, &nodes);
            let dead = &nodes[k / 2];
            let live: Vec<String> = nodes.iter().filter(|n| *n != dead).cloned().collect();
            let after = rebalance(&before, &live);
            assert_balanced(&after, &live);
            let moved = moves(&before, &after);
            assert!(moved.iter().all(|m| m.from.as_ref() == Some(dead)));
            assert_eq!(moved.len(), before.shards_of(dead).count());
        }
    }

    #[test]
    fn rebalancing_a_balanced_map_moves_nothing() {
        let nodes = node_names(5);
        let map = balanced_assignment(DEFAULT_SHARD_COUNT, &nodes);
        assert!(moves(&map, &rebalance(&map, &nodes)).is_empty());
        assert_eq!(rebalance(&map, &[]), ShardMap::new(DEFAULT_SHARD_COUNT));
    }

    #[test]
    fn rebalance_random_maps() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move |bound: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % bound
        };
        let universe = node_names(10);
        for _ in 0..200 {
            let shard_count = 1 + next(600) as u32;
            let mut current = ShardMap::new(shard_count);
            for shard in 0..shard_count {
                let pick = next(universe.len() as u64 + 1) as usize;
                current.set_owner(shard, universe.get(pick).cloned());
            }
            let live: Vec<String> = universe.iter().filter(|_| next(2) == 0).cloned().collect();
            if live.is_empty() {
                continue;
            }
            let target = rebalance(&current, &live);
            assert_balanced(&target, &live);
            assert_eq!(target, rebalance(&current, &live));
            // Live nodes already at or below the floor quota keep all shards.
            let floor = shard_count / live.len() as u32;
            for node in &live {
                if current.shards_of(node).count() as u32 <= floor {
                    assert!(
                        current
                            .shards_of(node)
                            .all(|s| target.owner(s) == Some(node))
                    );
                }
            }
        }
    }
}
