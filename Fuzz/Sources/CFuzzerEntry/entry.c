#include "CFuzzerEntry.h"

// The fuzz target, defined in Swift with @_cdecl("LLVMFuzzerTestOneInput").
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

// SwiftPM builds an executable target's entry point as `<Module>_main` and links it with
// `--defsym main=ModelMeshFuzz_main` (Linux) or `-alias _ModelMeshFuzz_main _main` (macOS),
// so that tests can link the module. With `-parse-as-library` Swift emits no entry point at
// all, and libFuzzer's own `main` is never used: this is that entry point, and it does what
// libFuzzer's `main` does.
int ModelMeshFuzz_main(int argc, char **argv) {
    return LLVMFuzzerRunDriver(&argc, &argv, LLVMFuzzerTestOneInput);
}
