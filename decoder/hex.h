/*
 * hex.h - one hexadecimal digit (internal to decoder/).
 */
#ifndef MB_HEX_H
#define MB_HEX_H

/* The value of hex digit CH (0-9, a-f, A-F), or -1. */
static inline int
hex_digit(unsigned char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    return -1;
}

#endif
