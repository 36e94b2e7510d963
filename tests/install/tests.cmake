# The installed package (cmake --install + find_package(attnjit)): see install_test.sh. It installs
# from this build tree (nothing is rebuilt), so it needs the library and the CLI built.
# Not with carried headers (the GPU machine), which has no install rules (CMakeLists.txt).
if(NOT ATTNJIT_EXTRA_INCLUDE)
  add_test(NAME install_find_package
           COMMAND ${CMAKE_CURRENT_LIST_DIR}/install_test.sh ${CMAKE_BINARY_DIR} ${CMAKE_CXX_COMPILER}
                   ${CMAKE_GENERATOR})
  set_tests_properties(install_find_package PROPERTIES LABELS install TIMEOUT 300)
endif()
