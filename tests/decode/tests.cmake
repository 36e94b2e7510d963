# Decode tests that cover variants (fp8 KV caches, page sizes, ALiBi and sinks: names containing
# Fp8, PageSize, AlibiSink or UserMods) carry the label `variants` as well as `decode`. gtest discovery writes the test list
# at build time, so the labels are set by an include file ctest reads after that list.
set(_labels_file ${CMAKE_CURRENT_BINARY_DIR}/decode_variant_labels.cmake)
file(WRITE ${_labels_file} [=[
set(_list "${CMAKE_CURRENT_LIST_DIR}/test_decode[1]_tests.cmake")
if(EXISTS "${_list}")
  file(READ "${_list}" _text)
  string(REGEX MATCHALL "add_test\\(\\[=\\[[A-Za-z0-9_./]*(Fp8|PageSize|AlibiSink|UserMods)[A-Za-z0-9_./]*\\]=\\]" _adds "${_text}")
  foreach(_add ${_adds})
    string(REGEX REPLACE "^add_test\\(\\[=\\[(.*)\\]=\\]$" "\\1" _name "${_add}")
    set_tests_properties(${_name} PROPERTIES LABELS "decode;variants")
  endforeach()
endif()
]=])
set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES ${_labels_file})

# The GPU decode grid's CPU-side parts (bench/decode_grid.py, gpu-check.sh's phase check).
find_package(Python3 COMPONENTS Interpreter)
if(Python3_Interpreter_FOUND)
  add_test(NAME decode_grid_script COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/decode_grid_test.py)
  set_tests_properties(decode_grid_script PROPERTIES LABELS "decode" TIMEOUT 120)
endif()

# bench/decode_cpu_micro.sh (the CPU decode template timed alone, for A/B of template edits) still
# builds against the templates and runs: a tiny warm and streaming run of bf16 GQA 4.
find_program(ATTNJIT_CLANGXX NAMES clang++-14 clang++)
if(ATTNJIT_CLANGXX)
  add_test(NAME decode_cpu_micro_script
           COMMAND bash ${CMAKE_SOURCE_DIR}/bench/decode_cpu_micro.sh ${CMAKE_SOURCE_DIR}/templates bf16 4 16 64)
  set_tests_properties(decode_cpu_micro_script PROPERTIES LABELS "decode" TIMEOUT 300
                       ENVIRONMENT "CXX_CLANG=${ATTNJIT_CLANGXX}"
                       PASS_REGULAR_EXPRESSION "warm gqa 4 kv_len 16: median [0-9.]+ GB/s.*streaming gqa 4 kv_len 64: median [0-9.]+ GB/s")
  # Its phase timing (the template's ATTNJIT_DECODE_CPU_MARK hook) and KV splits: two splits of one
  # block each, both phases' lines printed with numbers.
  add_test(NAME decode_cpu_micro_phases
           COMMAND bash ${CMAKE_SOURCE_DIR}/bench/decode_cpu_micro.sh ${CMAKE_SOURCE_DIR}/templates f32 8 128 128)
  set_tests_properties(decode_cpu_micro_phases PROPERTIES LABELS "decode" TIMEOUT 300
                       ENVIRONMENT "CXX_CLANG=${ATTNJIT_CLANGXX};PHASES=1;SPLITS=2"
                       PASS_REGULAR_EXPRESSION "warm phases [^\n]*Q.K\\^T [0-9.]+ softmax [0-9.]+ P.V [0-9.]+.*streaming phases [^\n]*Q.K\\^T [0-9.]+ softmax [0-9.]+ P.V [0-9.]+")
  # bench/cpu_stream_overlap.sh (stream + arithmetic by row order) builds and prints its load-width
  # line and its four rows.
  add_test(NAME cpu_stream_overlap_script COMMAND bash ${CMAKE_SOURCE_DIR}/bench/cpu_stream_overlap.sh 16)
  set_tests_properties(cpu_stream_overlap_script PROPERTIES LABELS "decode" TIMEOUT 300
                       ENVIRONMENT "CXX_CLANG=${ATTNJIT_CLANGXX}"
                       PASS_REGULAR_EXPRESSION "plain stream, no arithmetic: [0-9]+-byte loads [0-9.]+ GB/s, 16-byte loads [0-9.]+ GB/s\n[^\n]*\n +0 +[0-9.]+ \\|[^\n]*\n +4 [^\n]*\n +8 [^\n]*\n +16 +[0-9.]+ \\| +[0-9.]+ \\| +[0-9.]+ \\| +[0-9.]+ \\| +[0-9.]+ +[0-9.]+ +[0-9.]+")
endif()
