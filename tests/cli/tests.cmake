# The CLI is an executable, not a library: its read-bandwidth probe (cli/cpu_read_bandwidth.cpp)
# is compiled into the CLI tests as well, to be tested directly.
target_sources(test_cli PRIVATE ${CMAKE_SOURCE_DIR}/cli/cpu_read_bandwidth.cpp)
