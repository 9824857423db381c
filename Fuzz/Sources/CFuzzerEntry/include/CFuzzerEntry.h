#ifndef MODELMESH_CFUZZERENTRY_H
#define MODELMESH_CFUZZERENTRY_H

#include <stddef.h>
#include <stdint.h>

/// libFuzzer's driver (in the runtime `-sanitize=fuzzer` links): parses the libFuzzer flags
/// in argv and runs `callback` on each input. See entry.c for why it is called by hand.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
