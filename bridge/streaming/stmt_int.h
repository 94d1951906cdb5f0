/*
 * stmt_int.h - what stmt.c and stmt_batch.c share.
 */
#ifndef MB_STMT_INT_H
#define MB_STMT_INT_H

#include <stddef.h>
#include <stdint.h>

#define FNV_OFFSET UINT64_C(14695981039346656037)

/* H (FNV_OFFSET to start) updated with the N bytes at P: FNV-1a, 64 bits. */
uint64_t stmt_fnv(uint64_t h, const void *p, size_t n);

#endif
