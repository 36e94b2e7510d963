# `cmake --install`: the public headers, the layer libraries, the CLI and a CMake package, so that
# another project can `find_package(attnjit CONFIG REQUIRED)` and link `attnjit::attnjit`
# (tests/install checks it on an install into a temporary prefix).
include(CMakePackageConfigHelpers)

set(ATTNJIT_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/attnjit)
get_property(_layers GLOBAL PROPERTY ATTNJIT_LAYER_TARGETS)
list(REMOVE_ITEM _layers attnjit-service)  # its headers (and cpp-httplib) are not installed

install(DIRECTORY ${CMAKE_SOURCE_DIR}/include/attnjit DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        COMPONENT dev FILES_MATCHING PATTERN "*.h")
install(TARGETS attnjit attnjit_headers ${_layers} EXPORT attnjitTargets COMPONENT dev
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(EXPORT attnjitTargets NAMESPACE attnjit:: DESTINATION ${ATTNJIT_CMAKE_DIR} COMPONENT dev)
install(TARGETS attnjit-cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT bin)

configure_package_config_file(${CMAKE_SOURCE_DIR}/cmake/attnjitConfig.cmake.in
  ${CMAKE_BINARY_DIR}/package/attnjitConfig.cmake INSTALL_DESTINATION ${ATTNJIT_CMAKE_DIR})
write_basic_package_version_file(${CMAKE_BINARY_DIR}/package/attnjitConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)  # 0.x: a minor release may change the API
install(FILES ${CMAKE_BINARY_DIR}/package/attnjitConfig.cmake
              ${CMAKE_BINARY_DIR}/package/attnjitConfigVersion.cmake
        DESTINATION ${ATTNJIT_CMAKE_DIR} COMPONENT dev)
