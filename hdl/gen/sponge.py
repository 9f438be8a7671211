# Generates hdl/src/sponge.rs (the rust-hdl Keccak core, two rounds per cycle).
# Run: python3 hdl/gen/sponge.py && rustfmt --edition 2021 hdl/src/sponge.rs
import os
RHO = [[0,36,3,41,18],[1,44,10,45,2],[62,6,43,15,61],[28,55,25,21,56],[27,20,39,8,14]]  # RHO[x][y]
def rc():
    out=[]; R=1
    for i in range(24):
        v=0
        for j in range(7):
            R=((R<<1)^((R>>7)*0x71))%256
            if R&2: v^=1<<((1<<j)-1)
        out.append(v)
    return out
RC=rc()
assert RC[0]==1 and RC[23]==0x8000000080008008, hex(RC[23])
L=lambda x,y: 5*y+x
fields=[]; defaults=[]; body=[]
def local(n,w=64):
    fields.append(f"    {n}: Signal<Local, Bits<{w}>>,"); defaults.append(f"            {n}: Default::default(),")
for i in range(25):
    fields.append(f"    s{i}: DFF<Bits<64>>,"); defaults.append(f"            s{i}: Default::default(),")
for i in range(21):
    fields.append(f"    b{i}: DFF<Bits<64>>,"); defaults.append(f"            b{i}: Default::default(),")
for i in range(25): local(f"i{i}")
for r in range(2):
    for x in range(5): local(f"c{r}_{x}"); local(f"d{r}_{x}")
    for i in range(25): local(f"t{r}_{i}"); local(f"p{r}_{i}"); local(f"o{r}_{i}")
local("rc_a"); local("rc_b"); local("wlo"); local("whi")
for i in range(24):
    fields.append(f"    rc{i}: Constant<Bits<64>>,"); defaults.append(f"            rc{i}: Constant::new({RC[i]:#x}u64.into()),")
def rot(e,n):
    if n==0: return e
    return f"({e} << {n}) | ({e} >> {64-n})"
# round input
body.append("        // Round input: the state, XORed with the block buffer on `start`.")
for i in range(25):
    if i<21:
        body.append(f"        self.i{i}.next = self.s{i}.q.val();")
        body.append(f"        if !self.busy_r.q.val() {{ self.i{i}.next = self.s{i}.q.val() ^ self.b{i}.q.val(); }}")
    else:
        body.append(f"        self.i{i}.next = self.s{i}.q.val();")
body.append("        // Round constants of this cycle's two rounds.")
body.append("        self.rc_a.next = self.rc0.val();\n        self.rc_b.next = self.rc1.val();")
for k in range(1,12):
    body.append(f"        if self.rnd.q.val() == bits::<4>({k}) {{ self.rc_a.next = self.rc{2*k}.val(); self.rc_b.next = self.rc{2*k+1}.val(); }}")
for r in range(2):
    src=(lambda i: f"self.i{i}.val()") if r==0 else (lambda i: f"self.o0_{i}.val()")
    rcn = "rc_a" if r==0 else "rc_b"
    body.append(f"        // Round {r+1} of 2: theta.")
    for x in range(5):
        body.append(f"        self.c{r}_{x}.next = " + " ^ ".join(src(L(x,y)) for y in range(5)) + ";")
    for x in range(5):
        c1=f"self.c{r}_{(x+1)%5}.val()"
        body.append(f"        self.d{r}_{x}.next = self.c{r}_{(x-1)%5}.val() ^ ({rot(c1,1)});")
    for x in range(5):
        for y in range(5):
            body.append(f"        self.t{r}_{L(x,y)}.next = {src(L(x,y))} ^ self.d{r}_{x}.val();")
    body.append(f"        // rho and pi: lane (x, y) moves to (y, 2x + 3y).")
    for x in range(5):
        for y in range(5):
            e=f"self.t{r}_{L(x,y)}.val()"
            body.append(f"        self.p{r}_{L(y,(2*x+3*y)%5)}.next = {rot(e,RHO[x][y])};")
    body.append(f"        // chi and iota.")
    for x in range(5):
        for y in range(5):
            e=f"self.p{r}_{L(x,y)}.val() ^ (!self.p{r}_{L((x+1)%5,y)}.val() & self.p{r}_{L((x+2)%5,y)}.val())"
            if x==0 and y==0: e=f"{e} ^ self.{rcn}.val()"
            body.append(f"        self.o{r}_{L(x,y)}.next = {e};")
body.append("        // The two write lanes.")
body.append("        self.wlo.next = self.buf_data.val().get_bits::<64>(0);")
body.append("        self.whi.next = self.buf_data.val().get_bits::<64>(64);")
# state update
body.append("        if self.start.val() & !self.busy_r.q.val() {")
for i in range(25): body.append(f"            self.s{i}.d.next = self.o1_{i}.val();")
body.append("            self.rnd.d.next = bits::<4>(1);\n            self.busy_r.d.next = true;")
for i in range(21): body.append(f"            self.b{i}.d.next = bits::<64>(0);")
body.append("        }")
body.append("        if self.busy_r.q.val() {")
for i in range(25): body.append(f"            self.s{i}.d.next = self.o1_{i}.val();")
body.append("            self.rnd.d.next = self.rnd.q.val() + 1;")
body.append("            if self.rnd.q.val() == bits::<4>(11) {\n                self.busy_r.d.next = false;\n            }")
body.append("        }")
body.append("        // Block buffer writes (XOR), after any clearing by `start`.")
for i in range(21):
    base = f"self.b{i}.q.val()"
    body.append(f"        if self.buf_we.val() & self.buf_mask.val().get_bit(0) & (self.buf_idx.val() == bits::<5>({i})) {{")
    body.append(f"            if self.start.val() & !self.busy_r.q.val() {{ self.b{i}.d.next = self.wlo.val(); }} else {{ self.b{i}.d.next = {base} ^ self.wlo.val(); }}")
    body.append("        }")
    if i>0:
        body.append(f"        if self.buf_we.val() & self.buf_mask.val().get_bit(1) & (self.buf_idx.val() == bits::<5>({i-1})) {{")
        body.append(f"            if self.start.val() & !self.busy_r.q.val() {{ self.b{i}.d.next = self.whi.val(); }} else {{ self.b{i}.d.next = {base} ^ self.whi.val(); }}")
        body.append("        }")
body.append("        // State loads (RESUME), when idle.")
body.append("        if self.st_we.val() & !self.busy_r.q.val() & !self.start.val() {")
for i in range(25):
    body.append(f"            if self.st_mask.val().get_bit(0) & (self.st_idx.val() == bits::<5>({i})) {{ self.s{i}.d.next = self.st_data.val().get_bits::<64>(0); }}")
    if i>0:
        body.append(f"            if self.st_mask.val().get_bit(1) & (self.st_idx.val() == bits::<5>({i-1})) {{ self.s{i}.d.next = self.st_data.val().get_bits::<64>(64); }}")
body.append("        }")
body.append("        // Read port: lanes k and k + 1.")
body.append("        self.rd_data.next = bits::<128>(0);")
for i in range(25):
    hi = f"(bit_cast::<128, 64>(self.s{i+1}.q.val()) << 64) | " if i<24 else ""
    body.append(f"        if self.rd_idx.val() == bits::<5>({i}) {{ self.rd_data.next = {hi}bit_cast::<128, 64>(self.s{i}.q.val()); }}")
body.append("        if self.init.val() | self.reset.val() {")
for i in range(25): body.append(f"            self.s{i}.d.next = bits::<64>(0);")
for i in range(21): body.append(f"            self.b{i}.d.next = bits::<64>(0);")
body.append("            self.busy_r.d.next = false;\n            self.rnd.d.next = bits::<4>(0);\n        }")
dffs = ", ".join([f"s{i}" for i in range(25)]+[f"b{i}" for i in range(21)]+["rnd","busy_r"])
src = open(os.path.join(os.path.dirname(__file__), 'sponge_head.rs')).read()
src = src.replace("//FIELDS", "\n".join(fields)).replace("//DEFAULTS", "\n".join(defaults)).replace("//DFFS", dffs).replace("//BODY", "\n".join(body))
open(os.path.join(os.path.dirname(__file__), '..', 'src', 'sponge.rs'), 'w').write(src)
