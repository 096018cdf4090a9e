/*
 * cityhash.h: Google's CityHash32 (CityHash v1.1, Hash32), the hash goim
 * uses (github.com/zhenjl/cityhash) to spread a comet's room counts over
 * the 64 fields of its Redis ol_<server> hash.
 */
#ifndef LOGIC_CITYHASH_H
#define LOGIC_CITYHASH_H

#include <stddef.h>
#include <stdint.h>

/* Returns CityHash32 of data[0..length). data stays the caller's; a pure function. */
uint32_t cityhash32(const void *data, size_t length);

#endif
