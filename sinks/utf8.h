/*
 * UTF-8 as every JSON string mhookd emits must be (utf8.c). Names come from the target's
 * ELF files and paths, and SPECs from the command line: any of them may hold bytes that
 * are not UTF-8. Those are written as the four characters \xNN, as strace prints bytes
 * it cannot show, so a line stays valid JSON and the byte can still be read off it.
 */
#ifndef MHOOK_UTF8_H
#define MHOOK_UTF8_H

#include <stdbool.h>
#include <stddef.h>

struct json_object;

/* The length of the valid UTF-8 character at s (of at most left bytes), or 0: overlong
 * forms, surrogates and code points past U+10FFFF are not valid. */
size_t utf8_char(const unsigned char *s, size_t left);
bool utf8_valid(const char *s, size_t len);

/* Drops what is not whole UTF-8 from s, in place: for a message cut at a byte limit. */
void utf8_clean(char *s);

/* s with every byte that is not part of a valid character written as \xNN: malloc'd,
 * NULL when out of memory. */
char *utf8_escape(const char *s);

/* A json-c string of s, escaped as utf8_escape does (json-c writes bytes as given). */
struct json_object *json_text(const char *s);

/* A json-c array of the lines of s (one name per line, as shared_with keeps them), each
 * escaped as json_text does. */
struct json_object *json_text_lines(const char *s);

#endif
