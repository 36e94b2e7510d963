# sm90 (Hopper) emulator: the shadow of templates/common/sm90_primitives.cuh.
include(${CMAKE_CURRENT_LIST_DIR}/emu_shadow_sm90.cmake)
# Score variants (ALiBi, sinks) in the emulator: their own executable, label `variants`.
add_executable(test_emu_variants ${CMAKE_CURRENT_LIST_DIR}/prefill_sm80_variants.cpp
                                 ${CMAKE_CURRENT_LIST_DIR}/prefill_sm90_variants.cpp)
target_link_libraries(test_emu_variants PRIVATE attnjit-test-common GTest::gtest_main)
target_include_directories(test_emu_variants BEFORE PRIVATE ${emu_shadow} ${emu90_shadow})
gtest_discover_tests(test_emu_variants DISCOVERY_TIMEOUT 120 PROPERTIES LABELS "variants;emu")
