/*
 * w2j_both.h - one message parsed both ways, into a parser's arena
 * (w2j_parse) and in place (w2j_parse_in_place), and the two outcomes
 * compared: what the decoder's unit tests and its fuzz target check of every
 * input.
 */
#ifndef MB_W2J_BOTH_H
#define MB_W2J_BOTH_H

#include <stdbool.h>

#include "decoder/w2j.h"

/* The last message parsed both ways. */
struct w2j_both
{
    struct w2j_parser *arena;    /* borrowed: parses into its arena */
    struct w2j_parser *place;    /* borrowed: parses in place; may be ARENA */
    char *arena_buf, *place_buf; /* owned: exactly sized copies of the message */
    bool arena_good, place_good; /* did each parse succeed */
    struct w2j_record arena_rec; /* with arena_good; its columns are ARENA's */
    struct w2j_record place_rec; /* with place_good, strings in place_buf, columns
                                  * PLACE's: overwritten by the arena parse when
                                  * PLACE is ARENA */
    struct w2j_error arena_err;  /* without arena_good */
    struct w2j_error place_err;  /* without place_good */
};

/*
 * Everything a parse gave: with GOOD, every field of R, each string with its
 * length, its bytes and the byte after them (its NUL); otherwise E's offset
 * and message. Two parses of one message agree when their texts are equal.
 * Returns a malloc'd string the caller frees, or NULL when out of memory.
 */
char *w2j_describe(bool good, const struct w2j_record *r, const struct w2j_error *e);

/*
 * Parse the LEN bytes at JSON in place, then into the arena, each from its
 * own exactly sized copy (so that AddressSanitizer sees any access past the
 * message). Returns NULL when both gave the same outcome, else a malloc'd
 * text with the two descriptions, which the caller frees. Out of memory
 * aborts.
 */
char *w2j_both(struct w2j_both *b, const char *json, size_t len);

/* Free the copies of B's last message. */
void w2j_both_free(struct w2j_both *b);

#endif
