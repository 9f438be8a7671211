//! Looking inside the card: every signal's value and every RAM's contents.
//!
//! rust-hdl keeps a RAM's contents to itself, but a RAM changes only
//! through its write port, which is made of signals. [`Shadow`] watches
//! every RAM's write port at every clock edge (the bench calls
//! [`Shadow::observe`] before each edge) and so knows every RAM's contents;
//! [`snapshot`] reads every signal of the card (registers, wires, ports).
//! Together they are the whole state of the card, to search for secrets.

use hsm_hdl::HsmCard;
use rust_hdl::prelude::*;
use std::collections::{BTreeMap, HashSet};

/// A value, least significant bit first.
pub type BitVec = Vec<bool>;

fn bits_of(atom: &dyn Atom) -> BitVec {
    fn flatten(v: VCDValue, out: &mut BitVec) {
        match v {
            VCDValue::Single(x) => out.push(x == vcd::Value::V1),
            // Most significant bit first.
            VCDValue::Vector(xs) => out.extend(xs.iter().rev().map(|x| *x == vcd::Value::V1)),
            VCDValue::String(_) => {}
            VCDValue::Composite(parts) => {
                for p in parts {
                    flatten(*p, out);
                }
            }
        }
    }
    let mut out = Vec::new();
    flatten(atom.vcd(), &mut out);
    out
}

fn to_u64(bits: &BitVec) -> u64 {
    bits.iter()
        .take(64)
        .enumerate()
        .fold(0, |acc, (i, b)| acc | ((*b as u64) << i))
}

/// Every RAM's contents: path, then address, then word.
#[derive(Default)]
pub struct Shadow {
    pub rams: BTreeMap<String, BTreeMap<u64, BitVec>>,
}

#[derive(Default)]
struct WritePort {
    ram: bool,
    address: u64,
    data: BitVec,
    enable: bool,
}

struct Watcher<'a> {
    path: Vec<String>,
    ports: Vec<WritePort>,
    shadow: &'a mut Shadow,
}

impl Probe for Watcher<'_> {
    fn visit_start_scope(&mut self, name: &str, _node: &dyn Block) {
        self.path.push(name.to_owned());
        self.ports.push(WritePort::default());
    }
    fn visit_atom(&mut self, name: &str, signal: &dyn Atom) {
        let port = self.ports.last_mut().expect("atoms are inside a scope");
        match name {
            "write_clock" => port.ram = true,
            "write_enable" => port.enable = bits_of(signal)[0],
            "write_address" => port.address = to_u64(&bits_of(signal)),
            "write_data" => port.data = bits_of(signal),
            _ => {}
        }
    }
    fn visit_end_scope(&mut self, _name: &str, _node: &dyn Block) {
        let port = self.ports.pop().expect("balanced scopes");
        if port.ram {
            let words = self.shadow.rams.entry(self.path.join(".")).or_default();
            if port.enable {
                words.insert(port.address, port.data);
            }
        }
        self.path.pop();
    }
}

impl Shadow {
    /// Records the writes the RAMs take at the coming clock edge (call
    /// with the inputs settled, before the edge).
    pub fn observe(&mut self, card: &HsmCard) {
        let mut w = Watcher {
            path: Vec::new(),
            ports: Vec::new(),
            shadow: self,
        };
        card.accept("top", &mut w);
    }

    /// Every word that is not all zeros: RAM path, address and bits.
    pub fn nonzero_words(&self) -> Vec<(String, u64, BitVec)> {
        self.rams
            .iter()
            .flat_map(|(path, words)| {
                words
                    .iter()
                    .filter(|(_, w)| w.iter().any(|b| *b))
                    .map(move |(a, w)| (path.clone(), *a, w.clone()))
            })
            .collect()
    }

    /// RAMs with words that are not all zeros: path and how many.
    pub fn nonzero(&self) -> Vec<(String, usize)> {
        self.rams
            .iter()
            .map(|(path, words)| {
                let n = words.values().filter(|w| w.iter().any(|b| *b)).count();
                (path.clone(), n)
            })
            .filter(|(_, n)| *n > 0)
            .collect()
    }
}

struct Reader {
    path: Vec<String>,
    out: Vec<(String, BitVec)>,
}

impl Probe for Reader {
    fn visit_start_scope(&mut self, name: &str, _node: &dyn Block) {
        self.path.push(name.to_owned());
    }
    fn visit_start_namespace(&mut self, name: &str, _node: &dyn Block) {
        self.path.push(name.to_owned());
    }
    fn visit_atom(&mut self, name: &str, signal: &dyn Atom) {
        self.out
            .push((format!("{}.{name}", self.path.join(".")), bits_of(signal)));
    }
    fn visit_end_namespace(&mut self, _name: &str, _node: &dyn Block) {
        self.path.pop();
    }
    fn visit_end_scope(&mut self, _name: &str, _node: &dyn Block) {
        self.path.pop();
    }
}

/// Every signal of the card (ports, registers' inputs and outputs, wires)
/// and its value.
pub fn snapshot(card: &HsmCard) -> Vec<(String, BitVec)> {
    let mut r = Reader {
        path: Vec::new(),
        out: Vec::new(),
    };
    card.accept("top", &mut r);
    r.out
}

/// What to look for: every 8-byte piece of each secret, as the card might
/// hold it (little- or big-endian), at any bit offset of a value.
pub struct Needles {
    set: HashSet<u64>,
}

impl Needles {
    pub fn new(secrets: &[&[u8]]) -> Needles {
        let mut set = HashSet::new();
        for s in secrets {
            for chunk in s.chunks_exact(8) {
                let v = u64::from_le_bytes(chunk.try_into().unwrap());
                // Zero words are no evidence of anything.
                if v != 0 {
                    set.insert(v);
                    set.insert(v.swap_bytes());
                }
            }
        }
        Needles { set }
    }

    /// Whether any needle is in `bits`.
    pub fn found_in(&self, bits: &BitVec) -> bool {
        let mut w = 0u64;
        for (i, b) in bits.iter().enumerate() {
            w = (w >> 1) | ((*b as u64) << 63);
            if i >= 63 && self.set.contains(&w) {
                return true;
            }
        }
        false
    }

    /// Where the needles are in the card: signal names and RAM words.
    pub fn find(&self, card: &HsmCard, shadow: &Shadow) -> Vec<String> {
        let mut hits: Vec<String> = snapshot(card)
            .into_iter()
            .filter(|(_, v)| self.found_in(v))
            .map(|(name, _)| name)
            .collect();
        for (path, words) in &shadow.rams {
            for (addr, w) in words {
                if self.found_in(w) {
                    hits.push(format!("{path}[{addr}]"));
                }
            }
        }
        hits
    }
}
