// The C++ side of the simulated card: owns the Verilated model of module
// `top`, clocks it, and serves its DMA port from host memory mappings.
//
// Everything that happens once per clock cycle lives here, so that the hot
// loop never crosses the FFI boundary; Rust calls in once per register access
// or once per chunk of cycles (`hsm_sim_run`). The port protocol is the one in
// docs/card-ports.md. The functions are not thread-safe: one thread at a time
// may use a given HsmSim (the Rust wrapper guarantees it).

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <memory>
#include <new>
#include <vector>

#include <cerrno>
#include <string>

#include <fcntl.h>
#include <sys/random.h>
#include <unistd.h>

#include "contract.h"

#include "Vtop.h"
#include "verilated.h"
#if VM_TRACE
#include "verilated_vcd_c.h"
#endif

namespace {

// One host memory range the card may reach, as set by DMA_MAP.
struct Mapping {
    uint64_t iova;
    uint64_t len;
    uint8_t* host;
    bool readable;
    bool writable;
};

// One accepted read burst, waiting in the request FIFO.
struct ReadBurst {
    uint64_t addr;      // bus address of the next beat to return
    uint32_t beats;     // beats still to return
    uint64_t ready_at;  // first cycle (total count) at which a beat may be presented
};

constexpr uint64_t kBeat = 16;

// What feeds the card's noise-source port. A real card samples a ring
// oscillator there; the simulated card feeds bytes from the host's
// getrandom(2). The other modes are faults for tests of the card's
// SP 800-90B health tests (hsm_sim_set_noise).
enum NoiseMode : uint32_t {
    kNoiseGetrandom = 0,  // bytes from getrandom(2)
    kNoiseStuck = 1,      // one value forever (the repetition count test fails)
    kNoiseBiased = 2,     // two values alternating (the adaptive proportion test fails, the repetition count test does not)
};

}  // namespace

// Counters the Rust side can read; see HsmSimStats in src/model.rs.
struct HsmSimStats {
    uint64_t cycles;
    uint64_t read_beats;
    uint64_t read_errors;
    uint64_t write_beats;
    uint64_t write_errors;
    uint64_t irqs;
};

// What one call to hsm_sim_run did; see RunResult in src/model.rs.
struct HsmSimRun {
    uint64_t cycles;
    uint64_t irqs;
    uint8_t busy;
    uint8_t dma_pending;
};

struct HsmSim {
    std::unique_ptr<VerilatedContext> ctx;
    std::unique_ptr<Vtop> top;
#if VM_TRACE
    std::unique_ptr<VerilatedVcdC> trace;
#endif
    std::vector<Mapping> maps;
    std::deque<ReadBurst> bursts;
    uint32_t read_latency = 4;
    bool write_err_next = false;  // drive dmaw_err during the next cycle
    uint64_t irqs_pending = 0;    // irq pulses not yet reported by hsm_sim_run
    HsmSimStats stats{};
    uint32_t noise_mode = kNoiseGetrandom;
    uint8_t noise_buf[4096];
    size_t noise_pos = sizeof noise_buf;  // next unread byte; refill when at the end
    uint64_t noise_samples = 0;           // samples fed since creation
    uint8_t selftest_inject = 0;          // fault injection into the self-tests
    uint8_t tamper = 0;                   // the tamper input's level
    // The card's persistent storage (hsm_contract::storage): the master-key
    // store and the record store, kept here and, when `state_dir` is set,
    // in files there (written atomically, hsm_sim_set_storage).
    std::string state_dir;
    bool bb_valid = false;
    uint8_t bb_key[32] = {};
    uint32_t bb_epoch = 0;
    uint64_t bb_table[HSM_NV_RECORDS] = {};  // the freshness table
    bool bb_ack_next = false;
    bool bb_ok_next = false;
    bool nv_present[HSM_NV_RECORDS] = {};
    uint8_t nv_records[HSM_NV_RECORDS][HSM_NV_RECORD_BEATS * kBeat] = {};
    uint8_t nv_staged[HSM_NV_RECORD_BEATS * kBeat] = {};
    bool nv_ack_next = false;
    bool nv_ok_next = false;
    uint8_t nv_rdata_next[kBeat] = {};
};

namespace {

// The mapping that holds [addr, addr + len), or nullptr.
const Mapping* find_mapping(const HsmSim* s, uint64_t addr, uint64_t len) {
    for (const Mapping& m : s->maps) {
        if (addr >= m.iova && addr - m.iova <= m.len && len <= m.len - (addr - m.iova)) {
            return &m;
        }
    }
    return nullptr;
}

void dump(HsmSim* s, uint64_t half_cycle) {
#if VM_TRACE
    if (s->trace) s->trace->dump(half_cycle);
#else
    (void)s;
    (void)half_cycle;
#endif
}

// The next noise-source sample.
uint8_t noise_sample(HsmSim* s) {
    const uint64_t n = s->noise_samples++;
    switch (s->noise_mode) {
        case kNoiseStuck:
            return 0x5a;
        case kNoiseBiased:
            return n % 2 == 0 ? 0x5a : 0xa5;
        default:
            break;
    }
    if (s->noise_pos == sizeof s->noise_buf) {
        size_t got = 0;
        while (got < sizeof s->noise_buf) {
            ssize_t r = getrandom(s->noise_buf + got, sizeof s->noise_buf - got, 0);
            if (r > 0) got += static_cast<size_t>(r);
            // EINTR: retry. getrandom(2) does not fail otherwise once the
            // kernel's pool is initialised, which it is on any running host.
        }
        s->noise_pos = 0;
    }
    uint8_t v = s->noise_buf[s->noise_pos];
    s->noise_buf[s->noise_pos++] = 0;
    return v;
}

// Writes `len` bytes to `dir/name` atomically: a temporary file, synced,
// renamed over the old one, and the directory synced. Returns success.
bool write_atomic(const std::string& dir, const std::string& name, const uint8_t* data, size_t len) {
    const std::string path = dir + "/" + name;
    const std::string tmp = path + ".tmp";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return false;
    size_t done = 0;
    while (done < len) {
        ssize_t w = ::write(fd, data + done, len - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        done += static_cast<size_t>(w);
    }
    bool ok = done == len && ::fsync(fd) == 0;
    ok = ::close(fd) == 0 && ok;
    if (ok) ok = ::rename(tmp.c_str(), path.c_str()) == 0;
    if (!ok) {
        ::unlink(tmp.c_str());
        return false;
    }
    int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        ::fsync(dfd);
        ::close(dfd);
    }
    return true;
}

// Removes `dir/name` (gone already is success) and syncs the directory.
bool remove_durably(const std::string& dir, const std::string& name) {
    const std::string path = dir + "/" + name;
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return false;
    int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        ::fsync(dfd);
        ::close(dfd);
    }
    return true;
}

std::string record_name(unsigned index) {
    char name[32];
    std::snprintf(name, sizeof name, HSM_NV_RECORD_FILE_FORMAT, index);
    return name;
}

// Reads up to `cap` bytes of `path`; returns the file's length, or -1 when it
// does not exist, or -2 on another error.
long read_file(const std::string& path, uint8_t* out, size_t cap) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT ? -1 : -2;
    size_t total = 0;
    uint8_t scratch[256];
    for (;;) {
        ssize_t r = ::read(fd, scratch, sizeof scratch);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            ::close(fd);
            return -2;
        }
        if (r == 0) break;
        for (ssize_t i = 0; i < r; ++i) {
            if (total < cap) out[total] = scratch[i];
            ++total;
        }
    }
    ::close(fd);
    return static_cast<long>(total);
}

// The master-key store's file image: valid, key, epoch, freshness table
// (little-endian).
void master_image(const HsmSim* s, uint8_t out[HSM_MASTER_KEY_FILE_BYTES]) {
    out[0] = s->bb_valid ? 1 : 0;
    std::memcpy(out + 1, s->bb_key, 32);
    for (int i = 0; i < 4; ++i) out[33 + i] = static_cast<uint8_t>(s->bb_epoch >> (8 * i));
    for (int r = 0; r < HSM_NV_RECORDS; ++r) {
        for (int i = 0; i < 8; ++i) {
            out[HSM_MASTER_TABLE_OFFSET + 8 * r + i] = static_cast<uint8_t>(s->bb_table[r] >> (8 * i));
        }
    }
}

// Writes the master-key store's file, when there is a state directory.
bool store_master(const HsmSim* s) {
    if (s->state_dir.empty()) return true;
    uint8_t image[HSM_MASTER_KEY_FILE_BYTES];
    master_image(s, image);
    const bool stored = write_atomic(s->state_dir, HSM_MASTER_KEY_FILE, image, sizeof image);
    std::memset(image, 0, sizeof image);
    return stored;
}

// Serves the storage ports' requests sampled at this rising edge; the answers
// go out in the next cycle.
void serve_storage(HsmSim* s, bool bb_write, bool bb_wvalid, const uint8_t* bb_wkey, uint32_t bb_wepoch,
                   bool bb_vwrite, unsigned bb_ver_index, uint64_t bb_wver, bool nv_req, unsigned nv_op,
                   unsigned nv_index, unsigned nv_beat, const uint8_t* nv_wdata) {
    if (bb_write) {
        const bool old_valid = s->bb_valid;
        uint8_t old_key[32];
        std::memcpy(old_key, s->bb_key, 32);
        const uint32_t old_epoch = s->bb_epoch;
        uint64_t old_table[HSM_NV_RECORDS];
        std::memcpy(old_table, s->bb_table, sizeof old_table);
        s->bb_valid = bb_wvalid;
        std::memcpy(s->bb_key, bb_wkey, 32);
        s->bb_epoch = bb_wepoch;
        // Clearing the valid bit clears the freshness table with it.
        if (!bb_wvalid) std::memset(s->bb_table, 0, sizeof s->bb_table);
        const bool stored = store_master(s);
        if (!stored) {
            // Not stored: the store keeps what it had, and says so.
            s->bb_valid = old_valid;
            std::memcpy(s->bb_key, old_key, 32);
            s->bb_epoch = old_epoch;
            std::memcpy(s->bb_table, old_table, sizeof old_table);
        }
        std::memset(old_key, 0, sizeof old_key);
        s->bb_ack_next = true;
        s->bb_ok_next = stored;
    }
    if (bb_vwrite) {
        const unsigned index = bb_ver_index % HSM_NV_RECORDS;
        const uint64_t old = s->bb_table[index];
        s->bb_table[index] = bb_wver;
        const bool stored = store_master(s);
        if (!stored) s->bb_table[index] = old;
        s->bb_ack_next = true;
        s->bb_ok_next = stored;
    }
    if (nv_req) {
        const unsigned index = nv_index % HSM_NV_RECORDS;
        const unsigned beat = nv_beat % HSM_NV_RECORD_BEATS;
        bool ok = true;
        std::memset(s->nv_rdata_next, 0, kBeat);
        switch (nv_op) {
            case HSM_NV_OP_READ:
                ok = s->nv_present[index];
                if (ok) std::memcpy(s->nv_rdata_next, s->nv_records[index] + kBeat * beat, kBeat);
                break;
            case HSM_NV_OP_WRITE:
                std::memcpy(s->nv_staged + kBeat * beat, nv_wdata, kBeat);
                break;
            case HSM_NV_OP_COMMIT:
                if (!s->state_dir.empty()) {
                    ok = write_atomic(s->state_dir, record_name(index), s->nv_staged, sizeof s->nv_staged);
                }
                if (ok) {
                    std::memcpy(s->nv_records[index], s->nv_staged, sizeof s->nv_staged);
                    s->nv_present[index] = true;
                }
                break;
            default:  // HSM_NV_OP_ERASE
                if (!s->state_dir.empty()) ok = remove_durably(s->state_dir, record_name(index));
                if (ok) {
                    std::memset(s->nv_records[index], 0, sizeof s->nv_records[index]);
                    s->nv_present[index] = false;
                }
                break;
        }
        s->nv_ack_next = true;
        s->nv_ok_next = ok;
    }
}

bool dma_pending(const HsmSim* s) {
    const Vtop* t = s->top.get();
    return !s->bursts.empty() || s->write_err_next || t->dmar_req_valid || t->dmaw_valid;
}

// One clock cycle with the DMA port serviced. The inputs the host side drives
// (ready signals, read data, write error) are set before the falling-edge
// evaluation, so that the card's combinational outputs settle on them; the
// handshakes are sampled just before the rising edge, where the card samples
// them too, and their effects applied after it.
void cycle(HsmSim* s) {
    Vtop* t = s->top.get();
    const uint64_t now = s->stats.cycles;

    // Read data channel: the oldest burst presents its next beat once its
    // latency has passed.
    bool presenting = false;
    bool beat_err = false;
    uint8_t beat[kBeat];
    std::memset(beat, 0, sizeof beat);
    if (!s->bursts.empty() && s->bursts.front().ready_at <= now) {
        const ReadBurst& b = s->bursts.front();
        presenting = true;
        const Mapping* m = find_mapping(s, b.addr, kBeat);
        if (m != nullptr && m->readable) {
            std::memcpy(beat, m->host + (b.addr - m->iova), kBeat);
        } else {
            beat_err = true;
        }
    }
    t->dmar_data_valid = presenting;
    t->dmar_data_err = beat_err;
    for (int w = 0; w < 4; ++w) {
        uint32_t word;
        std::memcpy(&word, beat + 4 * w, 4);  // byte 0 in bits 7:0 (little-endian host)
        t->dmar_data[w] = word;
    }
    t->dmar_req_ready = 1;
    t->dmaw_ready = 1;
    t->dmaw_err = s->write_err_next;
    s->write_err_next = false;
    // The noise source runs while the card enables it: one sample a cycle.
    t->noise_valid = t->noise_enable;
    t->noise_sample = t->noise_enable ? noise_sample(s) : 0;
    t->selftest_inject = s->selftest_inject & 0xf;  // SELFTEST bits 3:0: DRBG, AES, SHA3, MLKEM
    t->tamper = s->tamper;
    // The storage ports.
    t->bb_valid = s->bb_valid;
    for (int w = 0; w < 8; ++w) {
        uint32_t word;
        std::memcpy(&word, s->bb_key + 4 * w, 4);
        t->bb_key[w] = word;
    }
    t->bb_epoch = s->bb_epoch & ((1u << HSM_EPOCH_BITS) - 1);
    // The freshness entry the card named in the cycle before.
    t->bb_ver = s->bb_table[t->bb_ver_index % HSM_NV_RECORDS];
    t->bb_ack = s->bb_ack_next;
    t->bb_ok = s->bb_ok_next;
    s->bb_ack_next = false;
    t->nv_ack = s->nv_ack_next;
    t->nv_ok = s->nv_ok_next;
    for (int w = 0; w < 4; ++w) {
        uint32_t word;
        std::memcpy(&word, s->nv_rdata_next + 4 * w, 4);
        t->nv_rdata[w] = word;
    }
    s->nv_ack_next = false;

    t->clock = 0;
    t->eval();
    dump(s, 2 * now);

    const bool req_fire = t->dmar_req_valid && t->dmar_req_ready;
    const uint64_t req_addr = t->dmar_req_addr;
    const uint32_t req_beats = t->dmar_req_beats;
    const bool data_fire = presenting && t->dmar_data_ready;
    const bool write_fire = t->dmaw_valid && t->dmaw_ready;
    uint64_t write_addr = 0;
    uint16_t write_strb = 0;
    uint8_t write_data[kBeat];
    if (write_fire) {
        write_addr = t->dmaw_addr;
        write_strb = t->dmaw_strb;
        for (int w = 0; w < 4; ++w) {
            uint32_t word = t->dmaw_data[w];
            std::memcpy(write_data + 4 * w, &word, 4);
        }
    }

    const bool bb_write = t->bb_write;
    const bool bb_wvalid = t->bb_wvalid;
    const uint32_t bb_wepoch = t->bb_wepoch;
    const bool bb_vwrite = t->bb_vwrite;
    const unsigned bb_ver_index = t->bb_ver_index;
    const uint64_t bb_wver = t->bb_wver;
    uint8_t bb_wkey[32];
    for (int w = 0; w < 8; ++w) {
        uint32_t word = t->bb_wkey[w];
        std::memcpy(bb_wkey + 4 * w, &word, 4);
    }
    const bool nv_req = t->nv_req;
    const unsigned nv_op = t->nv_op;
    const unsigned nv_index = t->nv_index;
    const unsigned nv_beat = t->nv_beat;
    uint8_t nv_wdata[kBeat];
    for (int w = 0; w < 4; ++w) {
        uint32_t word = t->nv_wdata[w];
        std::memcpy(nv_wdata + 4 * w, &word, 4);
    }

    t->clock = 1;
    t->eval();
    dump(s, 2 * now + 1);
    serve_storage(s, bb_write, bb_wvalid, bb_wkey, bb_wepoch, bb_vwrite, bb_ver_index, bb_wver, nv_req, nv_op,
                  nv_index, nv_beat, nv_wdata);
    std::memset(bb_wkey, 0, sizeof bb_wkey);
    s->stats.cycles = now + 1;

    if (data_fire) {
        ReadBurst& b = s->bursts.front();
        s->stats.read_beats++;
        if (beat_err) s->stats.read_errors++;
        b.addr += kBeat;
        if (--b.beats == 0) s->bursts.pop_front();
    }
    if (req_fire) {
        // A burst of 0 is out of protocol (1 to 256); the 9-bit field cannot
        // exceed 511, so the FIFO entry is always bounded.
        uint32_t beats = req_beats == 0 ? 1 : req_beats;
        s->bursts.push_back(ReadBurst{req_addr, beats, now + 1 + s->read_latency});
    }
    if (write_fire) {
        s->stats.write_beats++;
        const Mapping* m = find_mapping(s, write_addr, kBeat);
        if (m != nullptr && m->writable) {
            uint8_t* dst = m->host + (write_addr - m->iova);
            for (unsigned i = 0; i < kBeat; ++i) {
                if (write_strb & (1u << i)) dst[i] = write_data[i];
            }
        } else {
            s->stats.write_errors++;
            s->write_err_next = true;
        }
    }
    if (t->irq) {
        s->stats.irqs++;
        s->irqs_pending++;
    }
}

// Clock until reg_rvalid (the strobe was given in the cycle before), at most
// `limit` cycles. Returns whether it came.
bool wait_rvalid(HsmSim* s, uint32_t limit) {
    for (uint32_t i = 0; i < limit; ++i) {
        if (s->top->reg_rvalid) return true;
        cycle(s);
    }
    return s->top->reg_rvalid;
}

constexpr uint32_t kRegTimeout = 1000;

}  // namespace

// The functions Rust calls. When the model is built as a card image (a
// shared library, `hsm_sim::image`), everything else is hidden
// (-fvisibility=hidden), so two images in one process never share symbols.
#define HSM_EXPORT __attribute__((visibility("default")))

// The version of this interface. Bump it when a signature or a struct above
// changes: the simulator refuses an image of another version.
constexpr uint32_t kAbiVersion = 5;

extern "C" {

// This interface's version (kAbiVersion).
HSM_EXPORT uint32_t hsm_sim_abi_version(void) { return kAbiVersion; }

// Creates the model, with a VCD trace written to `trace_path` when it is not
// null. Returns null on failure, with a message in err[0..err_len).
HSM_EXPORT HsmSim* hsm_sim_create(const char* trace_path, char* err, size_t err_len) {
    HsmSim* s = new (std::nothrow) HsmSim();
    if (s == nullptr) {
        std::snprintf(err, err_len, "out of memory");
        return nullptr;
    }
    s->ctx.reset(new VerilatedContext());
    s->ctx->fatalOnError(false);
#if VM_TRACE
    if (trace_path != nullptr) s->ctx->traceEverOn(true);
#endif
    s->top.reset(new Vtop(s->ctx.get(), "top"));
    if (trace_path != nullptr) {
#if VM_TRACE
        s->trace.reset(new VerilatedVcdC());
        s->top->trace(s->trace.get(), 99);
        s->trace->open(trace_path);
        if (!s->trace->isOpen()) {
            std::snprintf(err, err_len, "cannot open trace file");
            delete s;
            return nullptr;
        }
#else
        std::snprintf(err, err_len, "this build of hsm-sim has no trace support (enable its trace feature)");
        delete s;
        return nullptr;
#endif
    }
    Vtop* t = s->top.get();
    t->clock = 0;
    t->reset = 1;
    t->test_mode_strap = 0;
    t->reg_read = 0;
    t->reg_write = 0;
    t->reg_addr = 0;
    t->reg_wdata = 0;
    t->dmar_req_ready = 0;
    t->dmar_data_valid = 0;
    t->dmar_data_err = 0;
    t->dmaw_ready = 0;
    t->dmaw_err = 0;
    t->noise_valid = 0;
    t->noise_sample = 0;
    t->eval();
    return s;
}

// Destroys the model, flushing and closing the trace.
HSM_EXPORT void hsm_sim_destroy(HsmSim* s) {
    if (s == nullptr) return;
#if VM_TRACE
    if (s->trace) s->trace->close();
#endif
    s->top->final();
    delete s;
}

// Holds reset (with the test-mode strap) for `cycles` cycles, then releases
// it. Read bursts in flight are dropped; mappings stay.
HSM_EXPORT void hsm_sim_reset(HsmSim* s, int test_mode, uint32_t cycles) {
    Vtop* t = s->top.get();
    t->reset = 1;
    t->test_mode_strap = test_mode != 0;
    t->reg_read = 0;
    t->reg_write = 0;
    for (uint32_t i = 0; i < cycles; ++i) cycle(s);
    s->bursts.clear();
    s->write_err_next = false;
    t->reset = 0;
    cycle(s);
    s->bursts.clear();
    s->irqs_pending = 0;
}

// Reads the register at BAR0 offset `addr`. Returns 0, or -1 when the card
// did not answer within 1000 cycles.
HSM_EXPORT int hsm_sim_reg_read(HsmSim* s, uint32_t addr, uint32_t* value) {
    Vtop* t = s->top.get();
    t->reg_addr = addr & 0xfff;
    t->reg_read = 1;
    cycle(s);
    t->reg_read = 0;
    if (!wait_rvalid(s, kRegTimeout)) return -1;
    *value = t->reg_rdata;
    return 0;
}

// Writes `value` to the register at BAR0 offset `addr` (a one-cycle strobe).
HSM_EXPORT void hsm_sim_reg_write(HsmSim* s, uint32_t addr, uint32_t value) {
    Vtop* t = s->top.get();
    t->reg_addr = addr & 0xfff;
    t->reg_wdata = value;
    t->reg_write = 1;
    cycle(s);
    t->reg_write = 0;
}

// Clocks one cycle, serving DMA.
HSM_EXPORT void hsm_sim_tick(HsmSim* s) { cycle(s); }

// Clocks up to `max_cycles` cycles. Stops early, before clocking, when irq
// pulses are waiting to be reported, or when `busy` is low and no DMA is
// pending. Reports the cycles run, the irq pulses seen (including those seen
// during register accesses since the last call), and the final state.
HSM_EXPORT void hsm_sim_run(HsmSim* s, uint64_t max_cycles, HsmSimRun* out) {
    uint64_t n = 0;
    while (n < max_cycles && s->irqs_pending == 0 && (s->top->busy || dma_pending(s))) {
        cycle(s);
        ++n;
    }
    out->cycles = n;
    out->irqs = s->irqs_pending;
    s->irqs_pending = 0;
    out->busy = s->top->busy;
    out->dma_pending = dma_pending(s);
}

// Clocks exactly `cycles` cycles whatever the card's state (for benchmarks
// and tests). Irq pulses are kept for the next hsm_sim_run.
HSM_EXPORT void hsm_sim_clock(HsmSim* s, uint64_t cycles) {
    for (uint64_t i = 0; i < cycles; ++i) cycle(s);
}

// Adds a mapping. Returns 0, or -1 when it overlaps an existing one or is
// empty or wraps around.
HSM_EXPORT int hsm_sim_map(HsmSim* s, uint64_t iova, uint64_t len, uint8_t* host, int readable, int writable) {
    if (len == 0 || iova + len < iova) return -1;
    for (const Mapping& m : s->maps) {
        if (iova < m.iova + m.len && m.iova < iova + len) return -1;
    }
    s->maps.push_back(Mapping{iova, len, host, readable != 0, writable != 0});
    return 0;
}

// Removes the mapping that is exactly [iova, iova + len). Returns 0, or -1
// when there is none.
HSM_EXPORT int hsm_sim_unmap(HsmSim* s, uint64_t iova, uint64_t len) {
    for (size_t i = 0; i < s->maps.size(); ++i) {
        if (s->maps[i].iova == iova && s->maps[i].len == len) {
            s->maps.erase(s->maps.begin() + static_cast<std::ptrdiff_t>(i));
            return 0;
        }
    }
    return -1;
}

// Removes every mapping.
HSM_EXPORT void hsm_sim_unmap_all(HsmSim* s) { s->maps.clear(); }

// Sets the read latency: cycles from an accepted request to its first beat.
HSM_EXPORT void hsm_sim_set_read_latency(HsmSim* s, uint32_t cycles) { s->read_latency = cycles; }

// Chooses what feeds the noise-source port (a NoiseMode; unknown values
// read as getrandom).
HSM_EXPORT void hsm_sim_set_noise(HsmSim* s, uint32_t mode) { s->noise_mode = mode; }

// Sets the card's self-test fault-injection input (one bit per known-answer
// test; bit 0 the DRBG's). It is driven on every cycle, reset included, so
// it acts on the self-tests of the next reset.
HSM_EXPORT void hsm_sim_set_selftest_inject(HsmSim* s, uint32_t mask) {
    s->selftest_inject = static_cast<uint8_t>(mask);
}

// Sets the level of the card's tamper input: a rising edge zeroizes the
// card (hsm_contract::storage).
HSM_EXPORT void hsm_sim_set_tamper(HsmSim* s, uint32_t level) { s->tamper = level ? 1 : 0; }

// Attaches the state directory `dir` as the card's persistent storage (see
// hsm_contract::storage): loads the master-key store and the records from it,
// and from then on writes every change there, atomically, before the card
// sees it acknowledged. It takes effect at the next reset. Returns 0, or -1
// with a message in err[0..err_len) (nothing changed then).
HSM_EXPORT int hsm_sim_set_storage(HsmSim* s, const char* dir, char* err, size_t err_len) {
    const std::string d = dir;
    uint8_t image[HSM_MASTER_KEY_FILE_BYTES + 1];
    long n = read_file(d + "/" + HSM_MASTER_KEY_FILE, image, sizeof image);
    if (n == -2) {
        std::snprintf(err, err_len, "cannot read %s/%s: %s", dir, HSM_MASTER_KEY_FILE, std::strerror(errno));
        return -1;
    }
    if (n >= 0 && (n != HSM_MASTER_KEY_FILE_BYTES || image[0] > 1)) {
        std::snprintf(err, err_len,
                      "%s/%s is not a master-key store (%ld bytes, want %d): the card's keys cannot be opened; "
                      "move the file away to start the card without them",
                      dir, HSM_MASTER_KEY_FILE, n, HSM_MASTER_KEY_FILE_BYTES);
        std::memset(image, 0, sizeof image);
        return -1;
    }
    const bool valid = n > 0 && image[0] == 1;
    uint32_t epoch = 0;
    uint64_t table[HSM_NV_RECORDS] = {};
    if (n > 0) {
        for (int i = 0; i < 4; ++i) epoch |= static_cast<uint32_t>(image[33 + i]) << (8 * i);
        for (int r = 0; r < HSM_NV_RECORDS; ++r) {
            for (int i = 0; i < 8; ++i) {
                table[r] |= static_cast<uint64_t>(image[HSM_MASTER_TABLE_OFFSET + 8 * r + i]) << (8 * i);
            }
        }
    }
    std::vector<uint8_t> recs(sizeof s->nv_records, 0);
    bool present[HSM_NV_RECORDS] = {};
    const size_t rec_bytes = sizeof s->nv_records[0];
    for (unsigned i = 0; i < HSM_NV_RECORDS; ++i) {
        long len = read_file(d + "/" + record_name(i), recs.data() + rec_bytes * i, rec_bytes);
        if (len == -2) {
            std::snprintf(err, err_len, "cannot read %s/%s: %s", dir, record_name(i).c_str(), std::strerror(errno));
            std::memset(image, 0, sizeof image);
            return -1;
        }
        // A record of another length is presented as it is (cut or
        // zero-filled): the card finds that it does not open.
        present[i] = len >= 0;
    }
    s->bb_valid = valid;
    std::memset(s->bb_key, 0, 32);
    if (n > 0) std::memcpy(s->bb_key, image + 1, 32);
    s->bb_epoch = epoch;
    std::memcpy(s->bb_table, table, sizeof table);
    std::memset(image, 0, sizeof image);
    for (unsigned i = 0; i < HSM_NV_RECORDS; ++i) {
        s->nv_present[i] = present[i];
        std::memcpy(s->nv_records[i], recs.data() + rec_bytes * i, rec_bytes);
    }
    s->state_dir = d;
    return 0;
}

// Copies the counters out.
HSM_EXPORT void hsm_sim_stats(const HsmSim* s, HsmSimStats* out) { *out = s->stats; }

// Flushes the trace file, if any.
HSM_EXPORT void hsm_sim_flush_trace(HsmSim* s) {
#if VM_TRACE
    if (s->trace) s->trace->flush();
#else
    (void)s;
#endif
}

}  // extern "C"
