# ASan + UBSan for a whole build tree (tests included): cmake -DSLIMTUNE_SANITIZE=ON.
option(SLIMTUNE_SANITIZE "Build with AddressSanitizer and UndefinedBehaviorSanitizer" OFF)
if(SLIMTUNE_SANITIZE)
    add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer
                        -fno-sanitize-recover=undefined)
    add_link_options(-fsanitize=address,undefined)
endif()

# libFuzzer builds of the fuzz/ harnesses (fuzz/run_fuzzers.sh configures one): clang only,
# every target instrumented for coverage with ASan + UBSan; the harnesses link libFuzzer.
option(SLIMTUNE_FUZZ "Build the fuzz/ harnesses with libFuzzer (clang; ASan + UBSan)" OFF)
if(SLIMTUNE_FUZZ)
    if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
        message(FATAL_ERROR "SLIMTUNE_FUZZ needs clang: CC=clang CXX=clang++ cmake ...")
    endif()
    add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
                        -fno-sanitize-recover=undefined)
    add_link_options(-fsanitize=address,undefined)
endif()
