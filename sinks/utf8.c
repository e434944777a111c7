/*
 * UTF-8 checks and the \xNN escape of bytes that are not UTF-8 (see utf8.h), shared by
 * the JSON sink, the socket's replies and the protocol parser.
 */
#include "sinks/utf8.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json.h>

size_t utf8_char(const unsigned char *s, size_t left)
{
	static const uint32_t min[] = { 0, 0, 0x80, 0x800, 0x10000 };

	if (!left)
		return 0;
	size_t n = s[0] < 0x80 ? 1 : (s[0] & 0xe0) == 0xc0 ? 2 : (s[0] & 0xf0) == 0xe0 ? 3 :
		   (s[0] & 0xf8) == 0xf0 ? 4 : 0;
	uint32_t cp = n == 1 ? s[0] : n == 2 ? s[0] & 0x1fu : n == 3 ? s[0] & 0x0fu : s[0] & 0x07u;

	if (n == 0 || n > left)
		return 0;
	for (size_t k = 1; k < n; k++) {
		if ((s[k] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[k] & 0x3fu);
	}
	/* json-c's own check lets surrogates through; a strict reader would not. */
	if (cp < min[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

bool utf8_valid(const char *s, size_t len)
{
	for (size_t i = 0, n; i < len; i += n)
		if (!(n = utf8_char((const unsigned char *)s + i, len - i)))
			return false;
	return true;
}

void utf8_clean(char *s)
{
	unsigned char *r = (unsigned char *)s, *w = r;

	while (*r) {
		size_t n = utf8_char(r, strlen((const char *)r));
		if (!n) {
			r++;
			continue;
		}
		memmove(w, r, n);
		w += n;
		r += n;
	}
	*w = 0;
}

char *utf8_escape(const char *s)
{
	size_t len = strlen(s), bad = 0;

	for (size_t i = 0, n; i < len; i += n ? n : 1)
		if (!(n = utf8_char((const unsigned char *)s + i, len - i)))
			bad++;
	char *out = malloc(len + 3 * bad + 1), *w = out;
	if (!out)
		return NULL;
	for (size_t i = 0, n; i < len; i += n ? n : 1) {
		n = utf8_char((const unsigned char *)s + i, len - i);
		if (n) {
			memcpy(w, s + i, n);
			w += n;
		} else {
			w += sprintf(w, "\\x%02x", (unsigned char)s[i]);
		}
	}
	*w = 0;
	return out;
}

struct json_object *json_text_lines(const char *s)
{
	struct json_object *list = json_object_new_array();

	for (const char *p = s, *nl; p && *p; p = nl ? nl + 1 : NULL) {
		nl = strchr(p, '\n');
		char *one = strndup(p, nl ? (size_t)(nl - p) : strlen(p));
		json_object_array_add(list, json_text(one ? one : ""));
		free(one);
	}
	return list;
}

struct json_object *json_text(const char *s)
{
	char *e = utf8_escape(s ? s : "");
	struct json_object *o = json_object_new_string(e ? e : "");

	free(e);
	return o;
}
