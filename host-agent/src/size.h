/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * size.h - parse and format memory sizes for hballoonctl
 *
 * Sizes are binary: K = KiB = 1024, M = MiB, G = GiB, T = TiB.  The SI
 * spellings "KB", "MB", ... are rejected because other tools (virsh) read
 * them as powers of ten; an operator must never get a size 5% off.
 */
#ifndef HBALLOONCTL_SIZE_H
#define HBALLOONCTL_SIZE_H

#include <stddef.h>
#include <stdint.h>

/* hballoon works in guest pages: every size is a multiple of this. */
#define HB_PAGE_SIZE 4096ULL

/**
 * size_parse() - parse a size string
 * @s:      "4096", "512M", "512MiB", "1.5G", "2t" (letters case-insensitive)
 * @out:    the size in bytes on success
 * @align:  required alignment in bytes (0 or 1: none)
 * @err:    on failure, a one-line message (no trailing newline)
 * @errlen: size of @err
 *
 * Rejects empty strings, whitespace, signs, negative values, hex, unknown or
 * SI suffixes, fractions that are not a whole number of bytes, values that
 * overflow 64 bits and values that are not a multiple of @align.
 *
 * Return: 0 on success, -1 on error.
 */
int size_parse(const char *s, uint64_t *out, uint64_t align,
	       char *err, size_t errlen);

/**
 * size_format() - format a byte count for humans
 * @bytes: the size
 * @buf:   output buffer, at least SIZE_FMT_LEN bytes
 * @len:   size of @buf
 *
 * Exact multiples print without decimals ("512 MiB", "3 GiB", "4 KiB"),
 * everything else with two ("1.50 GiB"); below 1 KiB plain bytes ("12 B").
 *
 * Return: @buf.
 */
#define SIZE_FMT_LEN 32
char *size_format(uint64_t bytes, char *buf, size_t len);

/**
 * size_format_delta() - format the signed difference @a - @b
 *
 * Prints "0 B", "+512 MiB" or "-1.50 GiB" (no overflow for any inputs).
 */
char *size_format_delta(uint64_t a, uint64_t b, char *buf, size_t len);

#endif /* HBALLOONCTL_SIZE_H */
