/*
 * Exec a program from a sealed in-memory copy of it (memfd, then fexecve).
 * The process that joins a container then runs a file nothing can open for
 * writing, so a container that reaches it through /proc/<pid>/exe cannot
 * overwrite the binary on disk (CVE-2019-5736 class). Used by tsrunc-shim and
 * tsrunc does the same for tsrunc-init in src/init/launch.ts).
 */
#ifndef TSRUNC_SEALED_EXEC_H
#define TSRUNC_SEALED_EXEC_H

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>


/* Returns only on failure, with errno set. */
static int sealed_execv(const char *path, char *const argv[], char *const envp[]) {
  int src = open(path, O_RDONLY | O_CLOEXEC);
  if (src < 0) return -1;
  struct stat st;
  int mem = memfd_create("tsrunc-init", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (mem < 0 || fstat(src, &st) < 0) return -1;
  for (off_t off = 0; off < st.st_size;) {
    ssize_t n = sendfile(mem, src, NULL, (size_t)(st.st_size - off));
    if (n <= 0) return -1;
    off += n;
  }
  close(src);
  if (fcntl(mem, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0) return -1;
  fexecve(mem, argv, envp);
  return -1;
}

#endif
