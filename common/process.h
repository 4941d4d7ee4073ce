// Settings of the whole process, made once by a program's main() and never by library code.
#pragma once

namespace slimtune {

// Training allocates and frees the same large activation and gradient buffers every step. By
// default glibc serves blocks above its mmap threshold with fresh mappings and gives them back
// on free, so every step page-faults and the kernel zeroes them again: a quarter of a GPT-2
// LoRA step. Serving everything from the heap and never trimming it keeps those pages; the
// peak memory is the same, it just stays resident between steps.
void keep_freed_memory_resident();

} // namespace slimtune
