/*
 * gopusher_tools.h: logic's one-shot gopusher commands, run instead of the
 * daemon:
 *
 *   logic -hash-password ACCOUNT     reads the password from the first line
 *                                    of stdin, prints bcrypt(ACCOUNT+password)
 *                                    for gopusher.authPassword
 *   logic -import-gopusher FILE [settings...]
 *                                    copies every app of gopusher's SQLite
 *                                    database FILE (table appdata) into the
 *                                    Redis of redis.addr, bcrypt hashes,
 *                                    addresses and dates unchanged; apps
 *                                    already registered are left alone
 */
#ifndef LOGIC_GOPUSHER_TOOLS_H
#define LOGIC_GOPUSHER_TOOLS_H

/*
 * Runs the command argv asks for. Returns -1 when argv holds neither
 * command (start the daemon), else the process exit code (0 done, 1
 * failed, 2 bad usage or configuration). argv stays the caller's.
 */
int gopusher_tools_run(int argc, char **argv);

#endif
