/*
 * web_assets.h: the files of logic/web (demo page, JavaScript client, style) built into logic.
 *
 * The table is generated at build time by logic/web/embed.sh (a Makefile rule) into
 * build/<variant>/gen/logic_web_assets.c, so logic serves them (logic/http_static.h) without
 * any file on disk or path in its configuration.
 */
#ifndef LOGIC_WEB_ASSETS_H
#define LOGIC_WEB_ASSETS_H

#include <stddef.h>

/* One embedded file: its base name ("goim.js") and its bytes (static, never freed). */
struct logic_web_asset {
    const char *name;
    const unsigned char *data;
    size_t length;
};

/* Every file of logic/web that is served, logic_web_asset_count of them. */
extern const struct logic_web_asset logic_web_assets[];
extern const size_t logic_web_asset_count;

#endif
