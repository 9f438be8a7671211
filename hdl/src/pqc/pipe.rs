//! [`Delay7`]: a fixed seven-cycle delay line, the latency of the modular
//! multiplier plus its operand stage, used to carry operands and control
//! alongside the butterflies.

use rust_hdl::prelude::*;

/// Cycles of delay through [`Delay7`].
pub const DELAY7_CYCLES: usize = 7;

/// `q` in cycle `c + 7` is `d` of cycle `c`: seven registers in a row.
/// `clear` zeroes every stage at the next edge (so that a valid bit
/// carried through the line dies with a reset of its owner).
#[derive(LogicBlock, Default)]
pub struct Delay7<const W: usize> {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Synchronous clear of every stage.
    pub clear: Signal<In, Bit>,
    /// Input.
    pub d: Signal<In, Bits<W>>,
    /// `d`, seven cycles later.
    pub q: Signal<Out, Bits<W>>,
    s1: DFF<Bits<W>>,
    s2: DFF<Bits<W>>,
    s3: DFF<Bits<W>>,
    s4: DFF<Bits<W>>,
    s5: DFF<Bits<W>>,
    s6: DFF<Bits<W>>,
    s7: DFF<Bits<W>>,
}

impl<const W: usize> Logic for Delay7<W> {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, s1, s2, s3, s4, s5, s6, s7);
        self.s1.d.next = self.d.val();
        self.s2.d.next = self.s1.q.val();
        self.s3.d.next = self.s2.q.val();
        self.s4.d.next = self.s3.q.val();
        self.s5.d.next = self.s4.q.val();
        self.s6.d.next = self.s5.q.val();
        self.s7.d.next = self.s6.q.val();
        if self.clear.val() {
            self.s1.d.next = 0.into();
            self.s2.d.next = 0.into();
            self.s3.d.next = 0.into();
            self.s4.d.next = 0.into();
            self.s5.d.next = 0.into();
            self.s6.d.next = 0.into();
            self.s7.d.next = 0.into();
        }
        self.q.next = self.s7.q.val();
    }
}
