// Generated from hsm-contract (contract/src/storage.rs) by
// `cargo run -p hsm-contract --bin gen-docs`. Do not edit.
#pragma once

#define HSM_NV_RECORDS 65
#define HSM_NV_RECORD_BEATS 9
#define HSM_NV_OP_READ 0
#define HSM_NV_OP_WRITE 1
#define HSM_NV_OP_COMMIT 2
#define HSM_NV_OP_ERASE 3
#define HSM_NV_RECORD_FILE_FORMAT "record-%02u.bin"
#define HSM_MASTER_KEY_FILE "master.key"
#define HSM_MASTER_KEY_FILE_BYTES 557
#define HSM_MASTER_TABLE_OFFSET 37
#define HSM_EPOCH_BITS 20
