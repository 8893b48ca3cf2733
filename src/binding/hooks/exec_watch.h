/* Naming the Python programs a recorded process execs that will not be
 * recorded (see exec_watch.c). */
#ifndef MEMLYZE_EXEC_WATCH_H
#define MEMLYZE_EXEC_WATCH_H

/*
 * Starts watching execs: from now on an exec of a Python program that will
 * not record appends one line to notes_path. follow: whether subprocesses are
 * followed (then only the exec'd Pythons that cannot be are named);
 * bootstrap_dir: the PYTHONPATH entry holding memlyze's start-up hook;
 * executable: this interpreter's path (also a Python, whatever its name).
 * NULL notes_path stops watching. The strings are copied. Returns 0, or -1
 * when one is too long to keep.
 */
int exec_watch_configure(const char *notes_path, int follow, const char *bootstrap_dir,
                         const char *executable);

/*
 * Called by the exec hooks just before the real exec, possibly in a vfork
 * child: uses only the stack and open/write/close. environment NULL means
 * the process's own environ.
 */
void exec_watch_before_exec(const char *path, char *const arguments[],
                            char *const environment[]);

#endif
