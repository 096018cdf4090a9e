/*
 * cityhash.c: CityHash32 from Google's CityHash v1.1 (city.cc, MIT licence,
 * Geoff Pike and Jyrki Alakuijala), rewritten in C11 (see cityhash.h).
 * Words are read little-endian whatever the host's byte order.
 */
#include "logic/cityhash.h"

#define CITY_C1 0xcc9e2d51u
#define CITY_C2 0x1b873593u

static uint32_t city_fetch32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint32_t city_rotate32(uint32_t value, unsigned shift)
{
    return shift == 0 ? value : (value >> shift) | (value << (32 - shift));
}

static uint32_t city_bswap32(uint32_t value)
{
    return (value >> 24) | ((value >> 8) & 0xff00u) | ((value << 8) & 0xff0000u) | (value << 24);
}

/* MurmurHash3's 32-bit finaliser. */
static uint32_t city_fmix(uint32_t h)
{
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return h;
}

/* One MurmurHash3-style mixing step of a into h. */
static uint32_t city_mur(uint32_t a, uint32_t h)
{
    a *= CITY_C1;
    a = city_rotate32(a, 17);
    a *= CITY_C2;
    h ^= a;
    h = city_rotate32(h, 19);
    return h * 5 + 0xe6546b64u;
}

static uint32_t city_hash_13_to_24(const uint8_t *s, size_t length)
{
    uint32_t a = city_fetch32(s - 4 + (length >> 1));
    uint32_t b = city_fetch32(s + 4);
    uint32_t c = city_fetch32(s + length - 8);
    uint32_t d = city_fetch32(s + (length >> 1));
    uint32_t e = city_fetch32(s);
    uint32_t f = city_fetch32(s + length - 4);
    uint32_t h = (uint32_t)length;

    return city_fmix(
        city_mur(f, city_mur(e, city_mur(d, city_mur(c, city_mur(b, city_mur(a, h)))))));
}

static uint32_t city_hash_0_to_4(const uint8_t *s, size_t length)
{
    uint32_t b = 0, c = 9;
    size_t index;

    for (index = 0; index < length; index++) {
        /* city.cc reads the byte as signed char */
        int32_t value = (int8_t)s[index];
        b = b * CITY_C1 + (uint32_t)value;
        c ^= b;
    }
    return city_fmix(city_mur(b, city_mur((uint32_t)length, c)));
}

static uint32_t city_hash_5_to_12(const uint8_t *s, size_t length)
{
    uint32_t a = (uint32_t)length, b = (uint32_t)length * 5, c = 9, d = b;

    a += city_fetch32(s);
    b += city_fetch32(s + length - 4);
    c += city_fetch32(s + ((length >> 1) & 4));
    return city_fmix(city_mur(c, city_mur(b, city_mur(a, d))));
}

uint32_t cityhash32(const void *data, size_t length)
{
    const uint8_t *s = data;
    uint32_t h, g, f, a0, a1, a2, a3, a4, swap;
    size_t iterations;

    if (length <= 24) {
        if (length <= 4)
            return city_hash_0_to_4(s, length);
        if (length <= 12)
            return city_hash_5_to_12(s, length);
        return city_hash_13_to_24(s, length);
    }
    h = (uint32_t)length;
    g = CITY_C1 * (uint32_t)length;
    f = g;
    a0 = city_rotate32(city_fetch32(s + length - 4) * CITY_C1, 17) * CITY_C2;
    a1 = city_rotate32(city_fetch32(s + length - 8) * CITY_C1, 17) * CITY_C2;
    a2 = city_rotate32(city_fetch32(s + length - 16) * CITY_C1, 17) * CITY_C2;
    a3 = city_rotate32(city_fetch32(s + length - 12) * CITY_C1, 17) * CITY_C2;
    a4 = city_rotate32(city_fetch32(s + length - 20) * CITY_C1, 17) * CITY_C2;
    h ^= a0;
    h = city_rotate32(h, 19);
    h = h * 5 + 0xe6546b64u;
    h ^= a2;
    h = city_rotate32(h, 19);
    h = h * 5 + 0xe6546b64u;
    g ^= a1;
    g = city_rotate32(g, 19);
    g = g * 5 + 0xe6546b64u;
    g ^= a3;
    g = city_rotate32(g, 19);
    g = g * 5 + 0xe6546b64u;
    f += a4;
    f = city_rotate32(f, 19);
    f = f * 5 + 0xe6546b64u;
    iterations = (length - 1) / 20;
    do {
        uint32_t b0 = city_rotate32(city_fetch32(s) * CITY_C1, 17) * CITY_C2;
        uint32_t b1 = city_fetch32(s + 4);
        uint32_t b2 = city_rotate32(city_fetch32(s + 8) * CITY_C1, 17) * CITY_C2;
        uint32_t b3 = city_rotate32(city_fetch32(s + 12) * CITY_C1, 17) * CITY_C2;
        uint32_t b4 = city_fetch32(s + 16);
        h ^= b0;
        h = city_rotate32(h, 18);
        h = h * 5 + 0xe6546b64u;
        f += b1;
        f = city_rotate32(f, 19);
        f = f * CITY_C1;
        g += b2;
        g = city_rotate32(g, 18);
        g = g * 5 + 0xe6546b64u;
        h ^= b3 + b1;
        h = city_rotate32(h, 19);
        h = h * 5 + 0xe6546b64u;
        g ^= b4;
        g = city_bswap32(g) * 5;
        h += b4 * 5;
        h = city_bswap32(h);
        f += b0;
        /* PERMUTE3(f, h, g): swap(f, h); swap(f, g) */
        swap = f;
        f = h;
        h = swap;
        swap = f;
        f = g;
        g = swap;
        s += 20;
    } while (--iterations != 0);
    g = city_rotate32(g, 11) * CITY_C1;
    g = city_rotate32(g, 17) * CITY_C1;
    f = city_rotate32(f, 11) * CITY_C1;
    f = city_rotate32(f, 17) * CITY_C1;
    h = city_rotate32(h + g, 19);
    h = h * 5 + 0xe6546b64u;
    h = city_rotate32(h, 17) * CITY_C1;
    h = city_rotate32(h + f, 19);
    h = h * 5 + 0xe6546b64u;
    h = city_rotate32(h, 17) * CITY_C1;
    return h;
}
