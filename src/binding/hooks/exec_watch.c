/*
 * Exec-time detection of Python programs that a recording will miss.
 *
 * Without --follow-subprocesses every Python a recorded process execs is
 * unprofiled; with it, those that ignore memlyze's start-up hook are: -I,
 * -E (PYTHONPATH ignored), -S (no site, so no sitecustomize), or an
 * environment without the hook. The exec hooks call exec_watch_before_exec
 * in the process about to become the new program (often a vfork child of
 * subprocess), so it only reads memory and makes three system calls; the
 * line it appends is read by the top recorded process at its end
 * (memlyze/_bootstrap/subprocess_notes.py), which names them on stderr.
 */
#include "binding/hooks/exec_watch.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

#define WATCH_PATH_SIZE 4096
#define NOTE_SIZE 2048

/* Written while the GIL is held by exec_watch_configure, read at exec: a
 * torn read can only happen if the program execs while the tracker starts. */
static struct {
    int active;
    int follow;
    char notes_path[WATCH_PATH_SIZE];
    char bootstrap_dir[WATCH_PATH_SIZE];
    char executable[WATCH_PATH_SIZE];
} watch;

static int copy_text(char *out, const char *text)
{
    size_t size = strlen(text);
    if (size >= WATCH_PATH_SIZE) {
        return -1;
    }
    memcpy(out, text, size + 1);
    return 0;
}

int exec_watch_configure(const char *notes_path, int follow, const char *bootstrap_dir,
                         const char *executable)
{
    __atomic_store_n(&watch.active, 0, __ATOMIC_SEQ_CST);
    if (!notes_path) {
        return 0;
    }
    if (copy_text(watch.notes_path, notes_path) < 0 ||
        copy_text(watch.bootstrap_dir, bootstrap_dir ? bootstrap_dir : "") < 0 ||
        copy_text(watch.executable, executable ? executable : "") < 0) {
        return -1;
    }
    watch.follow = follow;
    __atomic_store_n(&watch.active, 1, __ATOMIC_SEQ_CST);
    return 0;
}

/* Whether a file name is python, python3, python3.11, python3.13t, ... */
static int is_python_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *name = slash ? slash + 1 : path;
    if (strncmp(name, "python", 6) != 0) {
        return 0;
    }
    const char *rest = name + 6;
    while ((*rest >= '0' && *rest <= '9') || *rest == '.') {
        rest++;
    }
    if (*rest && strchr("dmut", *rest)) {
        rest++;
    }
    return *rest == '\0';
}

/* The first of -I, -E, -S in a python command's options ('\0': none).
 * Options end at the script, -c, -m or "--". */
static char hook_disabling_option(char *const arguments[])
{
    for (size_t index = 1; arguments[index]; index++) {
        const char *token = arguments[index];
        if (token[0] != '-' || token[1] == '\0' || strcmp(token, "--") == 0) {
            return '\0';
        }
        if (token[1] == '-') {
            continue; /* --long options take no separate value we care for */
        }
        for (const char *letter = token + 1; *letter; letter++) {
            if (*letter == 'I' || *letter == 'E' || *letter == 'S') {
                return *letter;
            }
            if (*letter == 'c' || *letter == 'm') {
                return '\0';
            }
            if (*letter == 'W' || *letter == 'X') {
                if (letter[1] == '\0') {
                    index++; /* the value is the next token */
                    if (!arguments[index]) {
                        return '\0';
                    }
                }
                break;
            }
        }
    }
    return '\0';
}

/* Whether the environment carries the hook: MEMLYZE_RECORD and a PYTHONPATH
 * starting with the bootstrap folder. */
static int environment_has_hook(char *const environment[])
{
    int has_config = 0;
    int has_path = 0;
    size_t folder_size = strlen(watch.bootstrap_dir);
    for (size_t index = 0; environment && environment[index]; index++) {
        const char *entry = environment[index];
        if (strncmp(entry, "MEMLYZE_RECORD=", 15) == 0) {
            has_config = 1;
        } else if (strncmp(entry, "PYTHONPATH=", 11) == 0) {
            const char *value = entry + 11;
            has_path = folder_size && strncmp(value, watch.bootstrap_dir, folder_size) == 0 &&
                       (value[folder_size] == '\0' || value[folder_size] == ':');
        }
    }
    return has_config && has_path;
}

/* Appends text to the note, keeping the note NUL-terminated and bounded. */
static void note_append(char *note, size_t *size, const char *text)
{
    size_t length = strlen(text);
    if (length > NOTE_SIZE - 2 - *size) {
        length = NOTE_SIZE - 2 - *size;
    }
    memcpy(note + *size, text, length);
    *size += length;
    note[*size] = '\0';
}

/* The reason a note gives, as a word the reader understands. */
static const char *unfollowed_reason(char *const arguments[], char *const environment[])
{
    if (!watch.follow) {
        return "unfollowed";
    }
    switch (hook_disabling_option(arguments)) {
    case 'I': return "option-I";
    case 'E': return "option-E";
    case 'S': return "option-S";
    default: break;
    }
    return environment_has_hook(environment) ? NULL : "environment";
}

void exec_watch_before_exec(const char *path, char *const arguments[],
                            char *const environment[])
{
    if (!__atomic_load_n(&watch.active, __ATOMIC_SEQ_CST) || !path || !arguments ||
        !arguments[0]) {
        return;
    }
    if (!is_python_name(path) && strcmp(path, watch.executable) != 0) {
        return;
    }
    const char *reason = unfollowed_reason(arguments, environment ? environment : environ);
    if (!reason) {
        return;
    }
    char note[NOTE_SIZE];
    size_t size = 0;
    note[0] = '\0';
    note_append(note, &size, reason);
    note_append(note, &size, "\t");
    for (size_t index = 0; arguments[index]; index++) {
        char word[NOTE_SIZE];
        size_t length = strnlen(arguments[index], sizeof word - 1);
        memcpy(word, arguments[index], length);
        word[length] = '\0';
        for (char *character = word; *character; character++) {
            if (*character == '\n' || *character == '\t') {
                *character = ' '; /* one note, one line */
            }
        }
        note_append(note, &size, index ? " " : "");
        note_append(note, &size, word);
    }
    note[size++] = '\n';
    /* The first note creates the file (see subprocess_notes.py). */
    int descriptor =
        open(watch.notes_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (descriptor >= 0) {
        ssize_t written = write(descriptor, note, size);
        (void)written;
        close(descriptor);
    }
}
