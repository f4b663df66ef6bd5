# Helpers every folder uses to declare its tests, fuzzers and benchmarks, so that labels,
# warnings and sanitizer flags are set in one place.
#
#   tern_add_test(NAME <n> SOURCES <files...> [LIBS <targets...>] [LABELS <labels...>])
#       A GoogleTest (and RapidCheck) executable, run by ctest as one test named <n>.
#       Labels: unit, property, conformance, layering, fuzz, embedding, sim.
#   tern_add_fuzzer(NAME <n> SOURCES <files...> [LIBS ...] CORPUS <dir> [DICT <file>]
#                   [RUNS <count>])
#       A libFuzzer target (clang + TERN_FUZZ only). ctest runs it for RUNS iterations
#       (default 50000) with -seed=1 over a copy of the seed corpus: deterministic and short.
#       `make fuzz` runs every target for FUZZ_SECONDS each (scripts/fuzz-all).
#   tern_add_benchmark(NAME bench_<n> SOURCES <files...> [LIBS ...])
#       A Google Benchmark executable in build/<preset>/bench/, built and run by `make bench`,
#       never by ctest. Declare it in bench/CMakeLists.txt (after the `benchmarks` target).

function(tern_add_test)
  cmake_parse_arguments(T "" "NAME" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE ${T_LIBS} GTest::gtest GTest::gtest_main GTest::gmock
                        rapidcheck tern_warnings)
  if(TARGET rapidcheck_gtest)
    target_link_libraries(${T_NAME} PRIVATE rapidcheck_gtest)
  endif()
  add_test(NAME ${T_NAME} COMMAND ${T_NAME})
  if(NOT T_LABELS)
    set(T_LABELS unit)
  endif()
  # RC_PARAMS pins RapidCheck's seed so a property run is the same every time; a failure
  # prints the seed and the shrunk input, and TERN_RC_PARAMS overrides it to explore.
  set(rc_params "seed=1 max_success=200")
  if(DEFINED ENV{TERN_RC_PARAMS})
    set(rc_params "$ENV{TERN_RC_PARAMS}")
  endif()
  set_tests_properties(${T_NAME} PROPERTIES LABELS "${T_LABELS}"
                       ENVIRONMENT "RC_PARAMS=${rc_params}")
endfunction()

function(tern_add_fuzzer)
  cmake_parse_arguments(F "" "NAME;CORPUS;DICT;RUNS" "SOURCES;LIBS" ${ARGN})
  if(NOT TERN_FUZZ)
    return()
  endif()
  set(target fuzz_${F_NAME})
  add_executable(${target} ${F_SOURCES})
  target_link_libraries(${target} PRIVATE ${F_LIBS} tern_warnings)
  target_compile_options(${target} PRIVATE -fsanitize=fuzzer)
  target_link_options(${target} PRIVATE -fsanitize=fuzzer)
  if(NOT F_RUNS)
    set(F_RUNS 50000)
  endif()
  set(args -seed=1 -runs=${F_RUNS} -max_len=4096 -print_final_stats=0)
  if(F_DICT)
    list(APPEND args -dict=${CMAKE_CURRENT_SOURCE_DIR}/${F_DICT})
  endif()
  # New inputs go to the first corpus folder: a scratch copy, never the seed corpus.
  set(scratch ${CMAKE_BINARY_DIR}/fuzz-scratch/${F_NAME})
  add_test(NAME ${target}
           COMMAND ${CMAKE_COMMAND} -E env ${CMAKE_SOURCE_DIR}/scripts/run-fuzzer
                   $<TARGET_FILE:${target}> ${scratch} ${CMAKE_CURRENT_SOURCE_DIR}/${F_CORPUS}
                   ${args})
  set_tests_properties(${target} PROPERTIES LABELS fuzz)
endfunction()

function(tern_add_benchmark)
  cmake_parse_arguments(B "" "NAME" "SOURCES;LIBS" ${ARGN})
  if(NOT TERN_BENCH)
    return()
  endif()
  add_executable(${B_NAME} ${B_SOURCES})
  target_link_libraries(${B_NAME} PRIVATE ${B_LIBS} benchmark::benchmark tern_warnings)
  set_target_properties(${B_NAME} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bench)
  add_dependencies(benchmarks ${B_NAME})
endfunction()
