# ASan + UBSan for a whole build tree (tests included): cmake -DSLIMTUNE_SANITIZE=ON.
option(SLIMTUNE_SANITIZE "Build with AddressSanitizer and UndefinedBehaviorSanitizer" OFF)
if(SLIMTUNE_SANITIZE)
    add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer
                        -fno-sanitize-recover=undefined)
    add_link_options(-fsanitize=address,undefined)
    # Build time on CI's two cores: line tables are all a sanitizer report needs (-g costs a
    # quarter of the compile time), and GCC's optimiser-dependent "maybe uninitialized" guesses
    # differ under instrumentation; the Release build keeps that warning as an error.
    add_compile_options(-g1 -Wno-maybe-uninitialized)
endif()

# The test and fuzz-replay executables of a sanitized build compile at -O1: their code is
# assertions and fixtures, whose -O2 code generation under ASan took half the build (a test file
# 89 s at -O2 -g, 42 s at -O1 -g1); the library code they test keeps -O2.
function(slimtune_sanitized_test_target target)
    if(SLIMTUNE_SANITIZE)
        target_compile_options(${target} PRIVATE -O1)
    endif()
endfunction()

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
