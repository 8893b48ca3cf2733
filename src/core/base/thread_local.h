/*
 * Thread-local storage for code inside a dlopen'ed object that runs in
 * allocation hooks: the initial-exec model needs no allocation on first
 * access, so touching a variable can never recurse into a hook. Keep such
 * variables small (the static TLS space left for dlopen'ed objects is).
 */
#ifndef MEMLYZE_THREAD_LOCAL_H
#define MEMLYZE_THREAD_LOCAL_H

#define THREAD_LOCAL __thread __attribute__((tls_model("initial-exec")))

#endif
