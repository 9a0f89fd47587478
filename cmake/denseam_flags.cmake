# Warning, architecture and sanitizer flags, carried by the INTERFACE target denseam_flags.
add_library(denseam_flags INTERFACE)
target_compile_options(denseam_flags INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor>)
if(DENSEAM_WERROR)
  target_compile_options(denseam_flags INTERFACE $<$<COMPILE_LANGUAGE:CXX>:-Werror>)
endif()
if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64")
  if(DENSEAM_NATIVE)
    target_compile_options(denseam_flags INTERFACE $<$<COMPILE_LANGUAGE:CXX>:-march=native>)
  else()
    target_compile_options(denseam_flags INTERFACE $<$<COMPILE_LANGUAGE:CXX>:-march=x86-64-v3>)
  endif()
endif()
# No -ffast-math: infinities and exact zeros carry meaning (LSR outside every support is +inf).
# -fno-trapping-math and -fno-math-errno change no computed value (no reassociation, no
# assumption about NaN/Inf); they only let GCC if-convert branches such as `q < 1 ? 1 - q : 0`
# and call sqrt inline, which the vectorised tile epilogues need. denseam reads neither FP
# exception flags nor errno.
target_compile_options(denseam_flags INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-fno-trapping-math -fno-math-errno>)
if(DENSEAM_SANITIZE)
  # Sanitizers apply to every target of the build (library, tests, tools).
  add_compile_options(-fsanitize=${DENSEAM_SANITIZE} -fno-omit-frame-pointer
                      -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${DENSEAM_SANITIZE})
endif()
