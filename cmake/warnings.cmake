# Warnings for our own targets only; third-party headers come in as SYSTEM includes.
option(SLIMTUNE_WERROR "Treat warnings in slimtune's own code as errors" ON)

function(slimtune_warnings target)
    target_compile_options(${target} PRIVATE
        -Wall -Wextra -Wpedantic -Wshadow -Wdouble-promotion -Wformat=2
        -Wimplicit-fallthrough -Wnon-virtual-dtor -Wcast-qual)
    if(SLIMTUNE_WERROR)
        target_compile_options(${target} PRIVATE -Werror)
    endif()
endfunction()
