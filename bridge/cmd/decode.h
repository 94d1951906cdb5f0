/*
 * decode.h - "memori-bridge decode [FILE]": print a wal2json stream.
 */
#ifndef MB_CMD_DECODE_H
#define MB_CMD_DECODE_H

/*
 * Read newline-delimited wal2json format-version 2 messages (as pg_recvlogical
 * writes them) from the file named in ARGV, or from stdin, and print one line
 * per message in render.h's text form, or with --json as normalized JSON. A
 * summary of counts per action and per table goes to stderr at the end. Bad
 * input stops with "line N, byte M: reason". ARGV[0] is "decode". Returns the
 * exit status: 0 decoded, 1 bad input or unreadable file, 2 usage.
 */
int cmd_decode(int argc, char **argv);

#endif
