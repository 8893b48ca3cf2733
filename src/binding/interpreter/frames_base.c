/* See frames_base.h and interpreter_frames_set_base. */
#include "binding/interpreter/frames_base.h"
#include "binding/interpreter/interpreter_frames.h"

const void *frames_base;

void interpreter_frames_clear_base(void)
{
    frames_base_store(NULL);
}
