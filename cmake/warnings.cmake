# Warnings for our own targets only; third-party headers come in as SYSTEM includes.
option(SLIMTUNE_WERROR "Treat warnings in slimtune's own code as errors" ON)

function(slimtune_warnings target)
    target_compile_options(${target} PRIVATE
        -Wall -Wextra -Wpedantic -Wshadow -Wdouble-promotion -Wformat=2
        -Wimplicit-fallthrough -Wnon-virtual-dtor -Wcast-qual)
    # GCC 12 reports impossible overlaps in std::string concatenation at -O3 (GCC bug 105651);
    # the diagnostic is a false positive there, so it is off for GCC 12 only.
    if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
        target_compile_options(${target} PRIVATE -Wno-restrict)
        # GCC 12 also flags designated initializers that leave members to their defaults
        # (GCC 13 no longer does): leaving them out is the point of a designated initializer.
        target_compile_options(${target} PRIVATE -Wno-missing-field-initializers)
    endif()
    if(SLIMTUNE_WERROR)
        target_compile_options(${target} PRIVATE -Werror)
    endif()
endfunction()
