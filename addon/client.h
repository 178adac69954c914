/*
 * The protocol between the `tsrunc` command (addon/client.c) and the warm
 * tsrunc server (src/server/). Frames and fields are encoded as in
 * protocol.h: u32 length, then a u32 message type and its fields
 * (u64; str = u32 length + bytes; strs = u32 count + str...).
 * src/server/protocol.ts mirrors this file; a test checks that they agree.
 */
#ifndef TSRUNC_CLIENT_H
#define TSRUNC_CLIENT_H

enum tsrunc_client_msg {
  /* client -> server */
  MSG_HELLO = 1,       /* strs argv (without argv[0]), strs environ, str cwd, u64 pid */
  MSG_SPAWNED = 2,     /* u64 pid (or -errno), u64 console fd in the child (or -1), u64 console fd kept here (or -1) */
  MSG_INPUT = 3,       /* str: all of stdin */
  MSG_DONE = 4,        /* u64 0 or -errno: acknowledges SUBREAPER */

  /* server -> client */
  MSG_OUTPUT = 10,     /* u64 fd (1 or 2), str data */
  MSG_SPAWN = 11,      /* strs argv, u64 flags (SPAWN_*), u64 first fd not inherited (3 + preserved) */
  MSG_READ_STDIN = 12,
  MSG_SUBREAPER = 13,
  MSG_EXEC = 14,       /* strs argv (argv[0] is the path), strs environ, strs fds to keep open (decimal) */
  MSG_EXIT = 15,       /* u64 exit status */
};

#define SPAWN_SETSID 1u        /* a new session: a detached tsrunc-shim */
#define SPAWN_SEALED 2u        /* argv[0] is tsrunc-init: exec it from a sealed copy */
#define SPAWN_CONSOLE_PAIR 4u  /* a socketpair: one end at <first fd> in the child, the other kept here */

#endif
