# Score variants (ALiBi, sinks) on the CPU backend: their own executable, label `variants`.
add_executable(test_cpu_variants ${CMAKE_CURRENT_LIST_DIR}/prefill_variants.cpp)
target_link_libraries(test_cpu_variants PRIVATE attnjit-test-common GTest::gtest_main)
gtest_discover_tests(test_cpu_variants DISCOVERY_TIMEOUT 120 PROPERTIES LABELS "variants;cpu")
